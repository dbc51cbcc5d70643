"""`viewfinder`: the command line."""

from __future__ import annotations

import argparse
import json
import logging
import mimetypes
import signal
import sys
import time
from pathlib import Path

from connectors.credentials import admin_key_file, client_key
from connectors.postgres.images import STATUSES
from core.settings import Settings
from schemas.pipeline import STAGE_NAMES, describe


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format='{"t":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","msg":%(message)r}',
    )


def cmd_up(args, settings: Settings) -> int:
    from .embedded.process import ServiceFailed
    from .stack import Stack, Supervisor, sample_images

    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.append(True))
    settings = settings.replace(workers=args.workers or settings.workers, gateways=args.gateways or settings.gateways)
    stack = Stack(settings)
    print(f"starting Viewfinder in {settings.data_dir.resolve()} …", flush=True)
    try:
        s = stack.start()
        if args.samples:
            files = sample_images()
            result = upload(s.gateway_url, files, stack.admin_key)
            print(f"uploaded {len(result['ids'])} sample image(s): {', '.join(f.name for f in files)}")
        print(
            f"""
Viewfinder is up.
  web interface  {s.gateway_url}/
  health         {s.gateway_url}/api/v1/health
  dashboard      {s.dashboard_url}/pipeline
  collection     {s.dashboard_url}/collection
  image metadata {s.gateway_url}/images/<id>
  recommend      curl -X POST {s.gateway_url}/recommend/recommend -d '{{"color": "#ff0000"}}'
  upload         viewfinder upload FILES…   (VIEWFINDER_PORT={s.port})
  logs           {s.data_dir / "logs"}

Sign in to the web interface (one-time link, valid 15 minutes):
  {stack.sign_in_link()}
The admin key is in {admin_key_file(s)}; more keys, for other people:
  viewfinder keys create --user NAME --scopes read,write
Press Ctrl-C to stop.""",
            flush=True,
        )
        Supervisor(stack).run(lambda: bool(stopping))
        return 0
    except ServiceFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping …", flush=True)
        stack.stop()


def cmd_worker(args, settings: Settings) -> int:
    from streams.app import run_worker

    run_worker(settings)
    return 0


def cmd_api(args, settings: Settings) -> int:
    import os

    # Before numpy and torch load: the gateway's many small requests gain nothing from BLAS and
    # OpenMP helper threads, which spin beside the event loop (measured: twice the CPU per
    # recommendation, same latency). The variables, unlike a runtime limit, also reach torch.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    from api.app import serve

    serve(settings)
    return 0


def cmd_dashboard(args, settings: Settings) -> int:
    from dashboards.server import serve

    serve(settings.replace(dashboard_port=settings.dashboard_port or 5006))
    return 0


def cmd_models(args, settings: Settings) -> int:
    from inference.loading import ModelUnavailable
    from inference.prepare import RUNTIMES, compare_labels, prepare
    from inference.runtime import plan_for

    try:
        if args.action == "prepare":
            print(f"models run with {plan_for(settings).describe()}")
            for name, ran, seconds in prepare(settings):
                print(f"{name}: ready in {seconds:.1f}s ({'; '.join(f'{g}: {r}' for g, r in ran.items())})")
            return 0
        names = [n.strip() for n in args.runtimes.split(",") if n.strip()]
        unknown = [n for n in names if n not in RUNTIMES]
        if unknown or not names:
            print(f"error: unknown runtime {', '.join(unknown)}; choose from {', '.join(RUNTIMES)}", file=sys.stderr)
            return 2
        results, ran = compare_labels(settings, args.photos, names)
    except ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    reference, *others = list(results)
    differ = 0
    for i, photo in enumerate(args.photos):
        print(photo)
        for name in results:
            tags = results[name][i]
            shown = ", ".join(f"{label} ×{tag['count']} ({tag['score']:.2f})" for label, tag in tags.items()) or "-"
            versus = "" if name == reference else _against(results[reference][i], tags, reference)
            print(f"  {name:<14} {shown}{versus}")
            differ += name != reference and _counts(tags) != _counts(results[reference][i])
    print(f"ran: {'; '.join(f'{name}: {r}' for name, r in ran.items())}")
    print(f"{differ} of {len(args.photos) * len(others)} label sets differ from {reference}'s")
    return 1 if differ and all(name.endswith("f32") for name in results) else 0


def _counts(tags: dict) -> dict:
    return {label: tag["count"] for label, tag in tags.items()}


def _against(reference: dict, tags: dict, name: str) -> str:
    """How ``tags`` compare with ``reference``'s: the labels and counts, then how far scores and boxes moved."""
    if _counts(tags) != _counts(reference):
        return f"  ≠ {name}"
    scores = max((abs(tags[k]["score"] - t["score"]) for k, t in reference.items()), default=0.0)
    pixels = max(
        (
            abs(a - b)
            for label, tag in reference.items()
            for ours, theirs in zip(tag["boxes"], tags[label]["boxes"])
            for a, b in zip(ours, theirs)
        ),
        default=0,
    )
    return f"  = {name} (scores ±{scores:.4f}, boxes ±{pixels} px)"


def cmd_index(args, settings: Settings) -> int:
    from .embedded.index import serve

    vectors = {name: int(dim) for name, dim in (v.split("=", 1) for v in args.vector)}
    serve(Path(args.path), args.host, args.port, vectors)
    return 0


def cmd_migrate(args, settings: Settings) -> int:
    from .stack import prepare

    prepare(settings)
    print("database migrated; topics, bucket and vector collection ready")
    return 0


def cmd_redrive(args, settings: Settings) -> int:
    from .stack import redrive

    print(f"re-published {redrive(settings)} unfinished image(s)")
    return 0


def _auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def upload(gateway: str, files: list[Path], key: str | None) -> dict:
    import httpx

    handles = [
        ("files", (f.name, f.read_bytes(), mimetypes.guess_type(f.name)[0] or "application/octet-stream"))
        for f in files
    ]
    response = httpx.post(f"{gateway}/gather/uploads", files=handles, headers=_auth(key), timeout=120)
    if response.status_code not in (202, 422):
        raise SystemExit(f"upload failed: HTTP {response.status_code}: {response.text}")
    return response.json()


def cmd_upload(args, settings: Settings) -> int:
    missing = [f for f in args.files if not f.is_file()]
    if missing:
        print(f"error: not a file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    result = upload(args.gateway or settings.gateway_url, args.files, client_key(settings))
    print(json.dumps(result, indent=2))
    return 0 if not result["rejected"] else 1


def _bar(g: dict, width: int = 30) -> str:
    total, done = g["total"], g["done"]
    filled = int(width * done / total) if total else 0
    eta = g["eta_s"]
    eta_text = "--:--" if eta is None else f"{int(eta) // 60:02d}:{int(eta) % 60:02d}"
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  stored {g['stored']}  "
        f"skipped {g['already_stored']}  failed {g['failed']}  retries {g['retries']}  "
        f"{g['rate_per_s']:.1f}/s  eta {eta_text}"
    )


def cmd_gather(args, settings: Settings) -> int:
    import httpx

    gateway = args.gateway or settings.gateway_url
    location = args.dataset
    if not location.startswith(("http://", "https://")):
        location = str(Path(location).expanduser().resolve())  # the gateway reads it, maybe from elsewhere
    params = {"dataset": location, "width": args.width, "concurrency": args.concurrency, "limit": args.limit}
    with httpx.Client(base_url=gateway, headers=_auth(client_key(settings)), timeout=30) as client:
        response = client.post("/gather/download", json=params)
        if response.status_code not in (202, 409):
            print(f"error: HTTP {response.status_code}: {response.text}", file=sys.stderr)
            return 1
        if response.status_code == 409:
            print("a gathering run is already in progress; following it", file=sys.stderr)
        tty = sys.stderr.isatty()
        while True:
            status = client.get("/gather/status").json()
            g = status["gather"]
            if g["phase"] == "downloading" or g["phase"] in ("done", "failed"):
                line = _bar(g)
            else:
                line = f"{g['phase']} …"
            print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            if g["phase"] in ("done", "failed"):
                break
            time.sleep(0.5 if tty else 5)
    print(file=sys.stderr)
    if g["phase"] == "failed":
        print(f"error: {g['error']}", file=sys.stderr)
        return 1
    summary = {name: {k: t[k] for k in ("rows", "inserted", "dropped")} for name, t in g["tables"].items()}
    print(
        json.dumps(
            {
                "stored": g["stored"],
                "already_stored": g["already_stored"],
                "failed": g["failed"],
                "retries": g["retries"],
                "tables": summary,
                "recent_failures": status["downloads"]["recent_failures"],
            },
            indent=2,
            default=str,
        )
    )
    return 0


def cmd_deadletters(args, settings: Settings) -> int:
    import httpx

    gateway = args.gateway or settings.gateway_url
    if args.action == "retry":
        body = {"stage": args.stage, "ids": args.ids or None}
        response = httpx.post(
            f"{gateway}/gather/deadletters/retry", json=body, headers=_auth(client_key(settings)), timeout=60
        )
        response.raise_for_status()
        print(f"sent {response.json()['retried']} image(s) through the pipeline again")
        return 0
    params = {"limit": args.limit, **({"stage": args.stage} if args.stage else {})}
    response = httpx.get(
        f"{gateway}/gather/deadletters", params=params, headers=_auth(client_key(settings)), timeout=60
    )
    response.raise_for_status()
    rows = response.json()["dead_letters"]
    for row in rows:
        print(f"{row['failed_at']}  {row['image_id']}  {row['stage']:<7} {row['filename'] or '-'}: {row['reason']}")
    print(f"{len(rows)} dead letter(s)", file=sys.stderr)
    return 0


def cmd_evaluate(args, settings: Settings) -> int:
    import httpx

    gateway = args.gateway or settings.gateway_url
    params = {"k": args.k, "queries": args.queries, "keyword": args.keyword or []}
    response = httpx.get(
        f"{gateway}/recommend/evaluate", params=params, headers=_auth(client_key(settings)), timeout=3600
    )
    response.raise_for_status()
    report = response.json()
    if not report["queries"]:
        print("no conversions to replay: gather the Unsplash dataset first (viewfinder gather unsplash)")
        return 1
    names = list(next(iter(report["systems"].values())))
    print(f"{report['queries']} searches replayed from the dataset's conversions")
    print(f"{'system':<14}" + "".join(f"{n:>12}" for n in names))
    for system, values in report["systems"].items():
        print(f"{system:<14}" + "".join(f"{values[n]:>12.3f}" for n in names))
    return 0


def _database(settings: Settings, maxconn: int = 2):
    """The database of VIEWFINDER_DATABASE_URL, or of the `viewfinder up` running in the data dir;
    exits with the reason when there is none to reach."""
    import psycopg2

    from connectors.postgres import open_database

    from .embedded.postgres import running_dsn

    dsn = settings.database_url or running_dsn(settings.data_dir, settings.host)
    if not dsn:
        raise SystemExit(
            f"error: no database: set VIEWFINDER_DATABASE_URL, or run `viewfinder up` with "
            f"VIEWFINDER_DATA_DIR={settings.data_dir}"
        )
    try:
        return open_database(settings.replace(database_url=dsn), maxconn=maxconn)
    except psycopg2.OperationalError as exc:
        raise SystemExit(f"error: cannot reach the database: {exc}".strip()) from None


def cmd_keys(args, settings: Settings) -> int:
    from connectors.credentials import create_key
    from core.tokens import parse_scopes

    db = _database(settings, maxconn=1)
    try:
        if args.action == "create":
            try:
                scopes = parse_scopes(args.scopes)
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            from query.recommendation.service import valid_user_name

            if not valid_user_name(args.user):
                print("error: a user name is 1-64 letters, digits, or . _ @ -", file=sys.stderr)
                return 2
            key_id, key = create_key(db, settings, args.user, scopes)
            print(key)  # alone on stdout, for scripts; the rest on stderr
            print(f"key {key_id} for {args.user} ({', '.join(scopes)}); it is shown only this once", file=sys.stderr)
        elif args.action == "list":
            rows = db.keys.list()
            print(f"{'id':>5}  {'user':<20} {'scopes':<18} {'created':<20} last used")
            for r in rows:
                used = r["last_used_at"].strftime("%Y-%m-%d %H:%M") if r["last_used_at"] else "never"
                print(
                    f"{r['id']:>5}  {r['user']:<20} {','.join(r['scopes']):<18} "
                    f"{r['created_at'].strftime('%Y-%m-%d %H:%M'):<20} {used}"
                )
        elif not db.keys.revoke(args.id):
            print(f"error: no live key {args.id}", file=sys.stderr)
            return 1
        else:
            print(f"revoked key {args.id} and ended its sessions", file=sys.stderr)
        return 0
    finally:
        db.close()


def cmd_export(args, settings: Settings) -> int:
    from connectors import export

    output = args.output or Path(f"viewfinder-images.{args.format}")
    tty = sys.stderr.isatty()
    shown = []

    def progress(done: int, total: int) -> None:
        if total > export.BATCH_ROWS:  # a one-batch export is over before a progress line helps
            line = f"exported {done}/{total} images ({100 * done // total}%)"
            print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            shown.append(done)

    db = _database(settings)
    try:
        rows = export.export(db, output, args.format, args.status, progress=progress)
    except OSError as exc:
        print(f"error: cannot write {output}: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    if tty and shown:
        print(file=sys.stderr)
    print(f"wrote {rows} image(s) to {output.resolve()}")
    return 0


def cmd_simulate(args, settings: Settings) -> int:
    import random

    import httpx

    rng = random.Random(args.seed)
    gateway = args.gateway or settings.gateway_url
    with httpx.Client(base_url=gateway, headers=_auth(client_key(settings)), timeout=60) as client:
        for n in range(1, args.count + 1):
            name = f"sim-{n:03d}"
            prefs = {
                "color": "#" + "".join(f"{rng.randrange(256):02x}" for _ in range(3)),
                "orientation": rng.choice(["landscape", "portrait", "square"]),
                "limit": 20,
            }
            client.put(f"/recommend/users/{name}", json=prefs).raise_for_status()
            shown = client.post("/recommend/recommend", json={"user": name}).json()["results"]
            likes = dislikes = 0
            for result in shown:  # a person who likes what is close to their colour, dislikes the rest
                if rng.random() < 0.3:
                    good = result["why"].get("color", {}).get("delta_e", 100) < 30
                    client.post(
                        "/recommend/feedback",
                        json={"user": name, "image": result["id"], "signal": "like" if good else "dislike"},
                    ).raise_for_status()
                    likes, dislikes = likes + good, dislikes + (not good)
            print(
                f"{name}: {prefs['color']} {prefs['orientation']}, saw {len(shown)}, liked {likes}, disliked {dislikes}"
            )
    return 0


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"between 1 and 256, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="viewfinder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the whole embedded stack in the foreground")
    up.add_argument("--samples", action="store_true", help="upload sample photos once it is up")
    up.add_argument("--workers", type=_count, help="Faust worker processes (default VIEWFINDER_WORKERS, 1)")
    up.add_argument(
        "--gateways", type=_count, help="gateway processes on the one port (default VIEWFINDER_GATEWAYS, 1)"
    )
    up.set_defaults(func=cmd_up)
    sub.add_parser(
        "worker",
        help="run the Faust enrichment worker",
        description=f"The stages, in order:\n{describe()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).set_defaults(func=cmd_worker)
    sub.add_parser("api", help="run the HTTP gateway").set_defaults(func=cmd_api)
    sub.add_parser("dashboard", help="run the Bokeh dashboard server").set_defaults(func=cmd_dashboard)
    sub.add_parser("migrate", help="create tables, topics, bucket and vector collection").set_defaults(func=cmd_migrate)
    sub.add_parser("redrive", help="re-publish images whose enrichment did not finish").set_defaults(func=cmd_redrive)
    models = sub.add_parser("models", help="prepare the models ahead of time, or compare runtimes' labels")
    model_actions = models.add_subparsers(dest="action", required=True)
    model_actions.add_parser(
        "prepare", help="load, convert and compile DETR, CLIP and the text model for this machine's runtime"
    )
    compare = model_actions.add_parser("compare", help="the detector's labels on your photos under each runtime")
    compare.add_argument("photos", nargs="+", type=Path)
    compare.add_argument(
        "--runtimes",
        default="torch-f32,openvino-f32,openvino-bf16",
        help="comma-separated, the first the reference: torch-f32, torch-bf16, openvino-f32, openvino-bf16",
    )
    models.set_defaults(func=cmd_models)
    idx = sub.add_parser("index", help="serve the embedded vector index (started by `up`)")
    idx.add_argument("--path", required=True)
    idx.add_argument("--host", default="127.0.0.1")
    idx.add_argument("--port", type=int, required=True)
    idx.add_argument("--vector", action="append", required=True, help="NAME=SIZE of a named vector")
    idx.set_defaults(func=cmd_index)
    upl = sub.add_parser("upload", help="upload image files")
    upl.add_argument("files", nargs="+", type=Path)
    upl.add_argument("--gateway", help="gateway URL (default: http://VIEWFINDER_HOST:VIEWFINDER_PORT)")
    upl.set_defaults(func=cmd_upload)
    ev = sub.add_parser("evaluate", help="replay the dataset's conversions: recall@k, nDCG@k, MRR vs baselines")
    ev.add_argument("--k", type=int, default=10)
    ev.add_argument("--queries", type=int, default=1000, help="most searched keywords to replay")
    ev.add_argument("--keyword", action="append", help="replay only this search (repeatable)")
    ev.add_argument("--gateway", help="gateway URL (default: http://VIEWFINDER_HOST:VIEWFINDER_PORT)")
    ev.set_defaults(func=cmd_evaluate)
    users = sub.add_parser("users", help="named users")
    user_actions = users.add_subparsers(dest="action", required=True)
    sim = user_actions.add_parser("simulate", help="create N users with preferences and feedback")
    sim.add_argument("count", type=int)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--gateway", help="gateway URL (default: http://VIEWFINDER_HOST:VIEWFINDER_PORT)")
    sim.set_defaults(func=cmd_simulate)
    dead = sub.add_parser("deadletters", help="list images that failed a stage, or retry them")
    dead.add_argument("action", nargs="?", choices=["list", "retry"], default="list")
    dead.add_argument("ids", nargs="*", help="with retry: only these image ids")
    dead.add_argument("--stage", choices=STAGE_NAMES, help="only failures of this stage")
    dead.add_argument("--limit", type=int, default=100)
    dead.add_argument("--gateway", help="gateway URL (default: http://VIEWFINDER_HOST:VIEWFINDER_PORT)")
    dead.set_defaults(func=cmd_deadletters)
    exp = sub.add_parser("export", help="write the collection to a Parquet or CSV file (one row per image)")
    exp.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    exp.add_argument("--output", type=Path, help="file to write (default: viewfinder-images.FORMAT)")
    exp.add_argument(
        "--status",
        choices=STATUSES,
        default="enriched",
        help="only enriched images (default), or every image whatever its status",
    )
    exp.set_defaults(func=cmd_export)
    keys = sub.add_parser(
        "keys",
        help="API keys: create, list, revoke (against VIEWFINDER_DATABASE_URL or "
        "the running `viewfinder up` of VIEWFINDER_DATA_DIR)",
    )
    key_actions = keys.add_subparsers(dest="action", required=True)
    make = key_actions.add_parser("create", help="make a key; prints it alone on stdout, once")
    make.add_argument("--user", required=True, help="the user the key acts for")
    make.add_argument("--scopes", default="read,write", help="comma-separated: read, write, admin (default read,write)")
    key_actions.add_parser("list", help="id, user, scopes, created, last used (never the key)")
    revoke = key_actions.add_parser("revoke", help="revoke a key and end its web sessions")
    revoke.add_argument("id", type=int)
    keys.set_defaults(func=cmd_keys)
    gather = sub.add_parser("gather", help="ingest a dataset through the running gateway")
    gather_sources = gather.add_subparsers(dest="source", required=True)
    unsplash = gather_sources.add_parser("unsplash", help="the Unsplash Lite dataset")
    unsplash.add_argument("--dataset", required=True, help="folder of the Lite files, or the URL of its zip")
    unsplash.add_argument("--limit", type=int, help="at most this many photos (the first by photo id)")
    unsplash.add_argument("--width", type=int, default=1080, help="download width in pixels (default 1080)")
    unsplash.add_argument("--concurrency", type=int, default=16, help="parallel downloads (default 16)")
    unsplash.add_argument("--gateway", help="gateway URL (default: http://VIEWFINDER_HOST:VIEWFINDER_PORT)")
    unsplash.set_defaults(func=cmd_gather)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _logging(settings)
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
