"""Gathering the Unsplash Lite dataset through the gateway, on the real stack, from a local
image server that misbehaves on purpose; and only from where the allow-lists say (issue 11).

The session's image server (`image_server`, tests/conftest.py) is listed in the stack's
VIEWFINDER_DATASET_HOSTS and VIEWFINDER_IMAGE_HOSTS; datasets are written under the stack's
<data dir>/datasets, the folder datasets may be read from by default. Every other server here is
on 127.0.0.1 too, unlisted, and must receive nothing."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from schemas.pipeline import STAGE_NAMES
from tests.support import poll
from tests.support.dataset import ImageServer, write_dataset

KINDS = ["ok"] * 7 + ["missing", "flaky", "busy", "slow", "text"]


def gathered(gateway, what="the gathering run"):
    def finished():
        g = gateway.get("/gather/status").json()["gather"]
        return g if g and g["phase"] in ("done", "failed") else None

    return poll(finished, 180, interval=0.5, what=what)


def start(gateway, **params):
    response = gateway.post("/gather/download", json=params)
    assert response.status_code == 202, response.text
    return response.json()["gather"]


def refusal(gateway, dataset) -> str:
    """The 400's reason for starting a run on ``dataset``."""
    response = gateway.get("/gather/download", params={"dataset": dataset})
    assert response.status_code == 400, response.text
    return response.json()["error"]


def allowed_folder(stack, name: str) -> Path:
    """A new folder under the stack's <data dir>/datasets, where the gateway may read datasets."""
    root = stack.data_dir / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))


@pytest.fixture(scope="module")
def server(image_server):
    """The image server the stack lists (dataset zips and photos), shared by the session."""
    return image_server


@pytest.fixture
def unlisted():
    """An image server on 127.0.0.1 that no allow-list names: it must never be asked anything."""
    with ImageServer() as s:
        yield s


@pytest.fixture
def datasets(stack) -> Path:
    return allowed_folder(stack, "test")


@pytest.fixture(scope="module")
def first_run(server, gateway, stack):
    photos = [(f"g{n:03d}-{kind}", server.url(kind, n)) for n, kind in enumerate(KINDS, 1)]
    folder = write_dataset(allowed_folder(stack, "lite"), photos)
    start(gateway, dataset=str(folder), concurrency=4)
    return folder, photos, gathered(gateway)


def test_counts_and_reasons(first_run, db):
    _, photos, g = first_run
    assert g["phase"] == "done", g["error"]
    assert (g["total"], g["stored"], g["failed"], g["already_stored"]) == (12, 10, 2, 0)
    assert g["tables"]["photos"]["rows"] == 12 and g["tables"]["photos"]["dropped"] == {"duplicate": 1}
    with db.cursor() as cur:
        cur.execute(
            "SELECT photo_id, download_status, download_error FROM unsplash_photos "
            "WHERE photo_id LIKE 'g%%' ORDER BY photo_id"
        )
        rows = {r["photo_id"]: r for r in cur.fetchall()}
    assert rows["g008-missing"]["download_error"] == "HTTP 404 Not Found"
    assert "not an image" in rows["g012-text"]["download_error"]
    assert {pid for pid, r in rows.items() if r["download_status"] == "stored"} == {pid for pid, _ in photos} - {
        "g008-missing",
        "g012-text",
    }


def test_retries_and_bounded_width(first_run, server):
    _, _, g = first_run
    assert server.requests["flaky/9"] == 2 and server.requests["busy/10"] == 2
    assert g["retries"] >= 2
    assert set(server.widths) == {"1080"}  # never the full-size original


def test_dataset_metadata_is_stored_typed(first_run, db):
    with db.cursor() as cur:
        cur.execute("SELECT * FROM unsplash_photos WHERE photo_id = 'g001-ok'")
        p = cur.fetchone()
        cur.execute(
            "SELECT keyword, ai_service_1_confidence, suggested_by_user FROM unsplash_keywords "
            "WHERE photo_id = 'g001-ok' ORDER BY keyword"
        )
        keywords = cur.fetchall()
        cur.execute("SELECT count(*) AS n FROM unsplash_conversions WHERE photo_id LIKE 'g%%'")
        conversions = cur.fetchone()["n"]
        cur.execute("SELECT coverage FROM unsplash_colors WHERE photo_id = 'g001-ok'")
        colors = cur.fetchall()
    assert p["width"] == 4001 and p["iso"] == 100 and p["featured"] is True and p["views"] == 1000
    assert (p["latitude"], p["longitude"]) == (44.25, -119.5)  # swapped back: the dataset is version 1.2.0
    assert p["country"] == "Iceland" and p["photographer_last_name"] is None
    assert p["submitted_at"].year == 2020
    assert [(k["keyword"], k["ai_service_1_confidence"], k["suggested_by_user"]) for k in keywords] == [
        ("mountain", 45.5, False),
        ("snowy peak", None, True),
    ]
    assert conversions == len(KINDS)  # the repeated row is one row
    assert [c["coverage"] for c in colors] == [0.41]


def test_downloads_enter_the_pipeline(first_run, gateway, db):
    with db.cursor() as cur:
        cur.execute("SELECT image_id FROM unsplash_photos WHERE photo_id = 'g001-ok'")
        iid = cur.fetchone()["image_id"]
    image = poll(
        lambda: (lambda r: r if r["status"] == "enriched" else None)(gateway.get(f"/images/{iid}").json()),
        120,
        what="a downloaded photo to be enriched",
    )
    assert image["source"] == "unsplash" and image["country"] == "Iceland"
    assert image["width"] == 321 and image["exif"]["Make"] == "FUJIFILM"
    status = gateway.get("/gather/status").json()
    assert status["downloads"]["failed"] >= 2
    pipeline = status["pipeline"]
    assert {"arrived", "enriched", "failed", "enriched_per_s", "failed_by_stage"} <= set(pipeline)
    stages = {s["stage"]: s["passed"] for s in pipeline["stages"]}
    assert list(stages) == list(STAGE_NAMES)
    assert stages["exif"] >= stages["detect"] >= stages["colors"] >= stages["embed"] >= stages["sink"]
    assert stages["sink"] == pipeline["enriched"]


def test_dataset_keywords_become_tags_free_text_can_reach(first_run, gateway, db):
    with db.cursor() as cur:
        cur.execute("SELECT image_id FROM unsplash_photos WHERE photo_id = 'g002-ok'")
        iid = cur.fetchone()["image_id"]
    poll(lambda: gateway.get(f"/images/{iid}").json()["status"] == "enriched", 120, what="a gathered photo")
    # Every other image: the session's flat test pictures share one layout, and grouping would fold some.
    wanted = {"tags": ["mountains", "alps"], "limit": 50, "group_duplicates": False}
    body = gateway.post("/recommend/recommend", json=wanted).json()
    assert body["resolved_tags"] == {"mountains": "mountain", "alps": "mountain"}
    hit = next(r for r in body["results"] if r["id"] == iid)
    assert hit["why"]["tags"]["matched"] == ["mountain"]
    assert hit["why"]["tags"]["resolved_from"] == {"mountain": ["alps", "mountains"]}


def test_a_rerun_changes_nothing_and_retries_failures(first_run, gateway, db, server):
    folder, _, _ = first_run
    start(gateway, dataset=str(folder))
    g = gathered(gateway, "the second run")
    assert (g["already_stored"], g["stored"], g["failed"]) == (10, 0, 2)
    assert all(t["inserted"] == 0 for t in g["tables"].values()), g["tables"]
    assert server.requests["missing/8"] == 2 and server.requests["ok/1"] == 1


def test_a_run_in_progress_is_not_started_twice_and_bad_requests_are_refused(gateway, datasets):
    assert gateway.post("/gather/download", json={}).status_code == 400
    assert gateway.get("/gather/download", params={"dataset": str(datasets), "limit": "-2"}).status_code == 400
    start(gateway, dataset=str(datasets / "nowhere"))
    g = gathered(gateway, "a run on a missing folder")
    assert g["phase"] == "failed" and "no such folder" in g["error"]


def test_killed_midway_then_resumed_from_the_command_line(running_stack, gateway, db, server, datasets):
    """kill -9 of the process running the download; a re-run finishes the rest, once each."""
    # The listed server's /paced/N: each photo after 0.2 s, so the kill lands mid-run.
    photos = [(f"k{n:03d}", server.url("paced", 100 + n)) for n in range(40)]
    folder = write_dataset(datasets, photos, version="1.3.0")
    start(gateway, dataset=str(folder), concurrency=2)
    poll(lambda: gateway.get("/gather/status").json()["gather"]["stored"] >= 5, 60, what="a few downloads")
    [proc] = [p for p in running_stack.processes if p.name.startswith("gateway")]
    os.killpg(proc.proc.pid, signal.SIGKILL)
    proc.proc.wait()
    running_stack.processes.remove(proc)
    running_stack.start_gateway()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "viewfinder.cli",
            "gather",
            "unsplash",
            "--dataset",
            str(folder),
            "--concurrency",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **running_stack.settings.to_env()},
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["already_stored"] >= 5 and summary["already_stored"] + summary["stored"] == 40
    assert summary["failed"] == 0
    mine = {f"paced/{100 + n}" for n in range(40)}  # the session's server also serves other tests
    paced = [count for key, count in server.requests.items() if key in mine]
    assert max(paced) <= 2  # at most the one in flight at the kill is fetched again
    assert sum(paced) <= 40 + 2
    with db.cursor() as cur:
        cur.execute(
            "SELECT count(*) AS n, count(DISTINCT image_id) AS images FROM unsplash_photos "
            "WHERE photo_id LIKE 'k%%' AND download_status = 'stored'"
        )
        assert cur.fetchone() == {"n": 40, "images": 40}
        cur.execute("SELECT latitude FROM unsplash_photos WHERE photo_id = 'k001'")
        assert cur.fetchone()["latitude"] is None  # version 1.3.0: not swapped, so -119.5 is no latitude
    ids = []
    with db.cursor() as cur:
        cur.execute("SELECT image_id FROM unsplash_photos WHERE photo_id LIKE 'k%%'")
        ids = [r["image_id"] for r in cur.fetchall()]
    poll(
        lambda: all(gateway.get(f"/images/{i}").json()["status"] == "enriched" for i in ids),
        240,
        interval=1,
        what="every resumed download to be enriched",
    )


def test_the_dataset_can_be_the_url_of_its_zip(server, gateway, tmp_path, db):
    photos = [(f"z{n:03d}", server.url("ok", 200 + n)) for n in range(6)]
    folder = write_dataset(tmp_path, photos, version="1.3.0")  # only zipped here: the gateway downloads it
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, f"{folder.name}/{path.name}")
    server.files["lite.zip"] = archive.getvalue()
    response = gateway.get("/gather/download", params={"dataset": server.file_url("lite.zip"), "limit": "4"})
    assert response.status_code == 202, response.text
    g = gathered(gateway, "a run from a zip URL")
    assert g["phase"] == "done", g["error"]
    assert (g["total"], g["stored"]) == (4, 4)  # the limit: the first four photos by id
    assert g["tables"]["photos"]["rows"] == 6
    with db.cursor() as cur:
        cur.execute(
            "SELECT photo_id FROM unsplash_photos WHERE photo_id LIKE 'z%%' AND download_status = 'stored' "
            "ORDER BY photo_id"
        )
        assert [r["photo_id"] for r in cur.fetchall()] == ["z000", "z001", "z002", "z003"]


def test_evaluation_replays_searches_with_known_answers(server, gateway, datasets, db, stack):
    words = {f"e{n:03d}": word for n, word in enumerate(["lighthouse", "waterfall", "cactus", "glacier"])}
    photos = [(pid, server.url("ok", 300 + n)) for n, pid in enumerate(words)]
    folder = write_dataset(datasets, photos, version="1.3.0", searches=words)
    start(gateway, dataset=str(folder))
    assert gathered(gateway, "the evaluation dataset")["stored"] == 4
    with db.cursor() as cur:
        cur.execute("SELECT image_id FROM unsplash_photos WHERE photo_id LIKE 'e0%%'")
        ids = [r["image_id"] for r in cur.fetchall()]
    poll(
        lambda: all(gateway.get(f"/images/{i}").json()["status"] == "enriched" for i in ids),
        120,
        what="the evaluation photos to be enriched",
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "viewfinder.cli",
            "evaluate",
            "--k",
            "10",
            *(arg for w in words.values() for arg in ("--keyword", w)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **stack.to_env()},
    )
    assert out.returncode == 0, out.stderr
    assert "4 searches replayed" in out.stdout
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.stdout.splitlines()[2:]}
    assert rows["recommender"] == [1.0, 1.0, 1.0]  # each search's keyword is on exactly its photo
    assert set(rows) == {"recommender", "popularity", "random"}
    assert all(0.0 <= v <= 1.0 for values in rows.values() for v in values)
    report = gateway.get("/recommend/evaluate", params={"keyword": list(words.values())}).json()
    assert report["systems"]["recommender"]["mrr"] == 1.0 and report["queries"] == 4

    # Free-text search over the same photos: by tag (their own keyword), description, CLIP.
    glacier = dict(zip(words, ids_by_photo(db, list(words))))["e003"]
    found = gateway.get("/recommend/search", params={"q": "glaciers", "limit": 5}).json()
    assert found["clip"] is True and found["results"][0]["id"] == glacier
    assert found["results"][0]["why"]["search"]["matched_by"]["tags"] == 1
    described = gateway.get("/recommend/search", params={"q": "photo number 4"}).json()["results"]
    assert any("description" in r["why"]["search"]["matched_by"] for r in described)
    assert gateway.get("/recommend/search", params={"q": ""}).status_code == 400


def ids_by_photo(db, photo_ids: list[str]) -> list[str]:
    with db.cursor() as cur:
        cur.execute("SELECT photo_id, image_id FROM unsplash_photos WHERE photo_id = ANY(%s)", (photo_ids,))
        found = {r["photo_id"]: r["image_id"] for r in cur.fetchall()}
    return [found[p] for p in photo_ids]


def test_users_simulate(stack, gateway):
    out = subprocess.run(
        [sys.executable, "-m", "viewfinder.cli", "users", "simulate", "5"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **stack.to_env()},
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 5
    for n in range(1, 6):
        user = gateway.get(f"/recommend/users/sim-{n:03d}").json()
        assert user["preferences"]["color"].startswith("#")


# --- sources are allow-listed (issue 11) ------------------------------------------------------


def test_an_unlisted_server_is_refused_before_any_request(gateway, unlisted):
    before = (gateway.get("/gather/status").json()["gather"] or {}).get("started")
    for dataset in (
        unlisted.file_url("lite.zip"),
        f"http://localhost:{unlisted.port}/files/lite.zip",
        f"http://2130706433:{unlisted.port}/files/lite.zip",
        f"http://0177.0.0.1:{unlisted.port}/files/lite.zip",
        f"http://127.1:{unlisted.port}/files/lite.zip",
        f"http://[::ffff:127.0.0.1]:{unlisted.port}/files/lite.zip",
        f"https://127.0.0.1:{unlisted.port}/files/lite.zip",
    ):
        reason = refusal(gateway, dataset)
        assert "VIEWFINDER_DATASET_HOSTS" in reason or "written another way" in reason, (dataset, reason)
    assert "written another way" in refusal(gateway, f"http://2130706433:{unlisted.port}/files/lite.zip")
    assert unlisted.hits == 0
    assert (gateway.get("/gather/status").json()["gather"] or {}).get("started") == before  # no run started


def test_folders_outside_the_allowed_dirs_and_other_schemes_are_refused(gateway, tmp_path, datasets):
    write_dataset(tmp_path, [("o001", "https://images.unsplash.com/photo-1")])
    (datasets / "escape").symlink_to(tmp_path)
    for folder in (str(tmp_path), "/etc", str(datasets / ".." / ".." / ".."), str(datasets / "escape")):
        assert "VIEWFINDER_DATASET_DIRS" in refusal(gateway, folder), folder
    for url in ("file:///etc", "file:///etc/passwd", f"file://{datasets}", "ftp://unsplash.com/lite.zip"):
        assert "is refused; only https" in refusal(gateway, url), url
    assert "evil.example is not in VIEWFINDER_DATASET_HOSTS" in refusal(gateway, "https://evil.example/lite.zip")


def test_a_redirect_off_the_list_fails_the_run_unfollowed(gateway, server, unlisted):
    unlisted.files["lite.zip"] = b"PK"
    bounce = server.redirect_url(900, unlisted.file_url("lite.zip"))
    start(gateway, dataset=bounce)
    g = gathered(gateway, "a run redirected off the list")
    assert g["phase"] == "failed"
    assert f"redirect from {bounce} refused" in g["error"], g["error"]
    assert f"port {unlisted.port} of 127.0.0.1 is not in VIEWFINDER_DATASET_HOSTS" in g["error"]
    assert server.requests["redirect/900"] == 1 and unlisted.hits == 0


def test_photos_off_the_list_are_failures_never_fetched(gateway, server, unlisted, datasets, db):
    photos = [
        ("s001-listed", server.url("ok", 400)),
        ("s002-unlisted", unlisted.url("ok", 401)),
        ("s003-file", "file:///etc/passwd"),
        ("s004-bounced", server.redirect_url(402, unlisted.url("ok", 402))),
        ("s005-disguised", f"http://2130706433:{server.port}/ok/403"),  # the listed server, written as a number
    ]
    start(gateway, dataset=str(write_dataset(datasets, photos, version="1.3.0")))
    g = gathered(gateway, "a run with photos off the list")
    assert g["phase"] == "done", g["error"]
    assert (g["stored"], g["failed"]) == (1, 4)
    with db.cursor() as cur:
        cur.execute("SELECT photo_id, download_status, download_error FROM unsplash_photos WHERE photo_id LIKE 's0%%'")
        rows = {r["photo_id"]: r for r in cur.fetchall()}
    assert rows["s001-listed"]["download_status"] == "stored"
    assert rows["s002-unlisted"]["download_error"] == (
        f"refused: photo URL port {unlisted.port} of 127.0.0.1 is not in VIEWFINDER_IMAGE_HOSTS"
    )
    assert "scheme file is refused" in rows["s003-file"]["download_error"]
    assert "redirect from" in rows["s004-bounced"]["download_error"]
    assert "VIEWFINDER_IMAGE_HOSTS" in rows["s004-bounced"]["download_error"]
    assert "127.0.0.1 written another way" in rows["s005-disguised"]["download_error"]
    assert all(rows[p]["download_status"] == "failed" for p in rows if p != "s001-listed")
    assert server.requests["redirect/402"] == 1 and unlisted.hits == 0
