"""A dataset in the exact Unsplash Lite format, written by the tests, and a local image
server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import csv
import threading
from collections import Counter
from pathlib import Path

from aiohttp import web
from yarl import URL

from connectors.unsplash.dataset import COLLECTIONS, COLORS, CONVERSIONS, KEYWORDS, PHOTOS
from tests.support.photos import Photo, jpeg
from viewfinder.embedded.process import free_port


class ImageServer:
    """/ok/N: a JPEG; /missing/N: 404; /flaky/N: 500 once, then the JPEG; /busy/N: 429 with
    Retry-After once; /slow/N: the JPEG after ``slow`` seconds; /paced/N: the JPEG after
    ``pace`` seconds; /text/N: a text page; /redirect/N?to=URL: 302 to URL.
    /files/NAME: ``files[NAME]`` (a dataset zip). Every request is counted, with the width
    it asked for.

    On 127.0.0.1 only; a stack reads datasets and photos from it only if its allow-lists
    name its address (`listed`)."""

    def __init__(self, slow: float = 1.5, delay: float = 0.0, pace: float = 0.2):
        self.slow, self.delay, self.pace = slow, delay, pace
        self.requests: Counter = Counter()
        self.widths: Counter = Counter()
        self.files: dict[str, bytes] = {}
        self.file_requests: Counter = Counter()
        self.hits = 0  # every request of any kind, to any path
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, kind: str, n: int) -> str:
        return f"http://{self.address}/{kind}/{n}"

    def file_url(self, name: str) -> str:
        return f"http://{self.address}/files/{name}"

    def redirect_url(self, n: int, to: str) -> str:
        return str(URL(self.url("redirect", n)).with_query(to=to))

    def listed(self) -> dict[str, str]:
        """Settings that let a stack read dataset zips and photos from this server."""
        return {"dataset_hosts": self.address, "image_hosts": self.address}

    @staticmethod
    def picture(n: int) -> bytes:
        return jpeg(
            Photo(
                f"u{n}",
                ((37 * n) % 256, (91 * n) % 256, (53 * n) % 256),
                (255, 255, 255),
                (320 + n, 200),
                make="FUJIFILM",
                gps=None,
            )
        )

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.file_requests[name] += 1
        if name not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[name], content_type="application/zip")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        kind, n = request.match_info["kind"], int(request.match_info["n"])
        key = f"{kind}/{n}"
        self.requests[key] += 1
        if kind == "redirect":
            raise web.HTTPFound(request.query["to"])
        self.widths[request.query.get("w")] += 1
        if self.delay:
            await asyncio.sleep(self.delay)  # a realistic round trip, not test synchronisation
        if kind == "missing":
            return web.Response(status=404, text="no such photo")
        if kind == "flaky" and self.requests[key] == 1:
            return web.Response(status=500, text="oops")
        if kind == "busy" and self.requests[key] == 1:
            return web.Response(status=429, headers={"Retry-After": "1"}, text="slow down")
        if kind == "slow":
            await asyncio.sleep(self.slow)
        if kind == "paced":
            await asyncio.sleep(self.pace)
        if kind == "text":
            return web.Response(text="<html>not a photo</html>", content_type="text/html")
        return web.Response(body=self.picture(n), content_type="image/jpeg")

    def _serve(self):
        asyncio.set_event_loop(self.loop)

        @web.middleware
        async def count(request: web.Request, handler) -> web.StreamResponse:
            self.hits += 1
            return await handler(request)

        app = web.Application(middlewares=[count])
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/{kind}/{n}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> ImageServer:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _write(path: Path, columns, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])


def photo_row(photo_id: str, url: str, n: int) -> dict:
    return {
        "photo_id": photo_id,
        "photo_url": f"https://unsplash.com/photos/{photo_id}",
        "photo_image_url": url,
        "photo_submitted_at": f"2020-0{1 + n % 9}-1{n % 10} 10:11:12.345",
        "photo_featured": "t" if n % 2 else "f",
        "photo_width": str(4000 + n),
        "photo_height": "3000",
        "photo_aspect_ratio": f"{(4000 + n) / 3000:.3f}",
        "photo_description": "" if n % 3 == 0 else f"photo number {n}",
        "photographer_username": f"user{n}",
        "photographer_first_name": "Ada",
        "photographer_last_name": "" if n % 2 else "Lovelace",
        "exif_camera_make": "" if n % 4 == 0 else "Canon",
        "exif_camera_model": "EOS R5",
        "exif_iso": "" if n % 5 == 0 else str(100 * n),
        "exif_aperture_value": "2.8",
        "exif_focal_length": "35.0",
        "exif_exposure_time": "1/250",
        "photo_location_name": "Somewhere",
        # Written swapped, as datasets before 1.3.0 have them: longitude in the latitude column.
        "photo_location_latitude": "" if n % 3 == 0 else f"{-120.5 + n:.4f}",
        "photo_location_longitude": "" if n % 3 == 0 else f"{45.25 - n:.4f}",
        "photo_location_country": "" if n % 3 == 0 else "Iceland",
        "photo_location_city": "",
        "stats_views": str(1000 * n),
        "stats_downloads": str(10 * n),
        "ai_description": "a test photo",
        "ai_primary_landmark_name": "",
        "ai_primary_landmark_latitude": "",
        "ai_primary_landmark_longitude": "",
        "ai_primary_landmark_confidence": "",
        "blur_hash": "LKO2?U%2Tw=w]~RBVZRi};RPxuwH",
    }


def write_dataset(
    folder: Path, photos: list[tuple[str, str]], version: str = "1.2.0", searches: dict[str, str] | None = None
) -> Path:
    """``photos``: (photo_id, image URL). Traps: split files, a duplicate photo id, empty
    fields, keywords with stray spaces and embedded newlines, swapped coordinates.
    ``searches``: photo_id → a keyword of its own, searched once and converted to it."""
    root = folder / f"unsplash-research-dataset-lite-{version}"
    root.mkdir(parents=True)
    (root / "README.md").write_text(f"# Unsplash Dataset (Lite) version {version}\n")
    rows = [photo_row(pid, url, n) for n, (pid, url) in enumerate(photos, 1)]
    half = len(rows) // 2
    _write(root / "photos.tsv000", PHOTOS, rows[:half])
    _write(root / "photos.tsv001", PHOTOS, rows[half:] + [dict(rows[0], photo_description="a duplicate row")])
    keywords = []
    for pid, _ in photos:
        keywords += [
            {"photo_id": pid, "keyword": "  mountain ", "ai_service_1_confidence": "45.5", "suggested_by_user": "f"},
            {
                "photo_id": pid,
                "keyword": "snowy\npeak",
                "ai_service_2_confidence": "",
                "suggested_by_user": "t",
                "user_suggestion_source": "manual",
            },
        ]
        if searches and pid in searches:
            keywords.append({"photo_id": pid, "keyword": searches[pid], "ai_service_1_confidence": "90"})
    _write(root / "keywords.tsv000", KEYWORDS, keywords)
    _write(
        root / "colors.tsv000",
        COLORS,
        [
            {
                "photo_id": pid,
                "hex": "#0C0C0C",
                "red": "12",
                "green": "12",
                "blue": "12",
                "keyword": "black",
                "coverage": "0.41",
                "score": "0.6",
            }
            for pid, _ in photos
        ],
    )
    _write(
        root / "collections.tsv000",
        COLLECTIONS,
        [
            {
                "photo_id": pid,
                "collection_id": "42",
                "collection_title": "Mountains",
                "photo_collected_at": "2021-01-01 00:00:00",
                "collection_type": "featured",
            }
            for pid, _ in photos
        ],
    )
    conversions = [
        {
            "converted_at": "2021-02-03 04:05:06",
            "conversion_type": "download",
            "keyword": " peak ",
            "photo_id": pid,
            "anonymous_user_id": f"anon{i}",
            "conversion_country": "IS",
            "device_type": "desktop",
        }
        for i, (pid, _) in enumerate(photos)
    ]
    conversions += [
        {
            "converted_at": "2021-02-04 04:05:06",
            "conversion_type": "download",
            "keyword": word,
            "photo_id": pid,
            "anonymous_user_id": "searcher",
        }
        for pid, word in (searches or {}).items()
    ]
    _write(root / "conversions.tsv000", CONVERSIONS, conversions[:2])
    _write(root / "conversions.tsv001", CONVERSIONS, conversions[2:] + conversions[:1])  # a repeated row
    return root
