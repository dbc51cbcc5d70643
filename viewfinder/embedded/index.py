"""The embedded vector index: one process owns the qdrant-edge shard (the engine allows a
single owner) and serves it to the worker and the gateway over a small HTTP API."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

from connectors.vectors import EdgeIndex

from .process import ManagedProcess, free_port


def make_app(index: EdgeIndex) -> web.Application:
    async def ensure(request):
        await asyncio.to_thread(index.ensure)
        return web.json_response({"ok": True})

    async def upsert(request):
        body = await request.json()
        await asyncio.to_thread(index.upsert, body["points"])
        return web.json_response({"upserted": len(body["points"])})

    async def search(request):
        body = await request.json()
        hits = index.search(body["using"], body.get("vector"), body.get("must") or None, int(body.get("limit", 10)),
                            positives=body.get("positives"), negatives=body.get("negatives"),
                            among=body.get("among"), exclude=body.get("exclude"))
        return web.json_response({"hits": hits})

    async def search_many(request):
        body = await request.json()
        return web.json_response({"results": index.search_many(body["requests"])})

    async def vectors(request):
        body = await request.json()
        return web.json_response({"vectors": index.vectors(body["ids"], body["using"])})

    async def count(request):
        return web.json_response({"count": index.count()})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/ensure", ensure)
    app.router.add_post("/upsert", upsert)
    app.router.add_post("/search", search)
    app.router.add_post("/search_many", search_many)
    app.router.add_post("/vectors", vectors)
    app.router.add_get("/count", count)
    app.on_cleanup.append(lambda _: asyncio.to_thread(index.close))
    return app


def serve(path: Path, host: str, port: int, vectors: dict[str, int]) -> None:
    index = EdgeIndex(path, vectors)
    index.ensure()
    web.run_app(make_app(index), host=host, port=port, print=None, handle_signals=True)


def start(data_dir: Path, vectors: dict[str, int], host: str = "127.0.0.1",
          port: int | None = None) -> tuple[ManagedProcess, str]:
    port = port or free_port(host)
    proc = ManagedProcess(
        "vector index (qdrant-edge)",
        [sys.executable, "-m", "viewfinder.cli", "index", "--path", str((data_dir / "index").resolve()),
         "--host", host, "--port", str(port), *(f"--vector={name}={dim}" for name, dim in vectors.items())],
        data_dir / "logs" / "index.log",
    ).start()
    proc.wait_port(host, port, timeout=60)
    return proc, f"http://{host}:{port}"
