"""The embedded vector index: one process owns the qdrant-edge shard (the engine allows a
single owner) and serves it to the worker and the gateway over a small HTTP API, plus a
change feed from which the gateway keeps a replica of the colour space (query.recommendation.replica)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from pathlib import Path

from aiohttp import web

from connectors.vectors import EdgeIndex

from .process import ManagedProcess, free_port


class ChangeFeed:
    """Every upsert, in order, as a sequence of ids. The head ("epoch seq") is also written to a
    file before an upsert is acknowledged, so a reader on this host learns of a write with a
    file read instead of a round trip, and sees everything the worker stored before it marked
    the image enriched. The epoch changes with every start: readers then start over."""

    def __init__(self, index: EdgeIndex, head_file: Path):
        self.index, self.head_file = index, head_file
        self.epoch = uuid.uuid4().hex
        self.lock = threading.Lock()
        self.log: list[str] = index.ids()
        self._write_head()

    def record(self, ids: list[str]) -> None:
        with self.lock:
            self.log.extend(ids)
            self._write_head()

    def _write_head(self) -> None:
        temporary = self.head_file.with_suffix(".tmp")
        temporary.write_text(f"{self.epoch} {len(self.log)}\n")
        os.replace(temporary, self.head_file)

    def since(self, seq: int, limit: int, using: str) -> dict:
        with self.lock:
            end = len(self.log)
            changed = list(dict.fromkeys(self.log[seq : seq + limit]))
        return {
            "epoch": self.epoch,
            "next": min(seq + limit, end),
            "end": end,
            "head_file": str(self.head_file),
            "points": self.index.points(changed, using) if changed else [],
        }


def make_app(index: EdgeIndex, feed: ChangeFeed | None = None) -> web.Application:
    async def ensure(request):
        await asyncio.to_thread(index.ensure)
        return web.json_response({"ok": True})

    async def upsert(request):
        body = await request.json()
        await asyncio.to_thread(index.upsert, body["points"])
        if feed is not None:
            feed.record([p["id"] for p in body["points"]])
        return web.json_response({"upserted": len(body["points"])})

    async def search(request):
        body = await request.json()
        hits = index.search(
            body["using"],
            body.get("vector"),
            body.get("must") or None,
            int(body.get("limit", 10)),
            positives=body.get("positives"),
            negatives=body.get("negatives"),
            among=body.get("among"),
            exclude=body.get("exclude"),
        )
        return web.json_response({"hits": hits})

    async def search_many(request):
        body = await request.json()
        return web.json_response({"results": index.search_many(body["requests"])})

    async def vectors(request):
        body = await request.json()
        return web.json_response({"vectors": index.vectors(body["ids"], body["using"])})

    async def count(request):
        return web.json_response({"count": index.count()})

    async def changes(request):
        assert feed is not None  # the route exists only with a feed
        body = await request.json()
        answer = await asyncio.to_thread(
            feed.since, int(body.get("since", 0)), int(body.get("limit", 2000)), body.get("using", "palette")
        )
        return web.json_response(answer)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/ensure", ensure)
    app.router.add_post("/upsert", upsert)
    app.router.add_post("/search", search)
    app.router.add_post("/search_many", search_many)
    app.router.add_post("/vectors", vectors)
    app.router.add_get("/count", count)
    if feed is not None:
        app.router.add_post("/changes", changes)
    app.on_cleanup.append(lambda _: asyncio.to_thread(index.close))
    return app


def serve(path: Path, host: str, port: int, vectors: dict[str, int]) -> None:
    index = EdgeIndex(path, vectors)
    index.ensure()
    feed = ChangeFeed(index, Path(path) / "head")
    web.run_app(make_app(index, feed), host=host, port=port, print=None, handle_signals=True)


def start(
    data_dir: Path, vectors: dict[str, int], host: str = "127.0.0.1", port: int | None = None
) -> tuple[ManagedProcess, str]:
    port = port or free_port(host)
    proc = ManagedProcess(
        "vector index (qdrant-edge)",
        [
            sys.executable,
            "-m",
            "viewfinder.cli",
            "index",
            "--path",
            str((data_dir / "index").resolve()),
            "--host",
            host,
            "--port",
            str(port),
            *(f"--vector={name}={dim}" for name, dim in vectors.items()),
        ],
        data_dir / "logs" / "index.log",
    ).start()
    proc.wait_port(host, port, timeout=60)
    return proc, f"http://{host}:{port}"
