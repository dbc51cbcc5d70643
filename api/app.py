"""The gateway: one port serving the original system's entry points."""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from viewfinder.settings import Settings

from . import gather, query, ui, users, visualize
from .services import Services

log = logging.getLogger("viewfinder.api")

# Which dependencies each of the original's services needs to be healthy.
HEALTH = {
    "gather": ["broker", "object_store", "database"],
    "cdn": ["object_store", "database"],
    "recommend": ["vector_index", "database"],
    "visualize": ["dashboard", "database"],
}


def _health(names):
    async def handler(request):
        checks = await request.app["services"].check(names)
        ok = all(c["ok"] for c in checks.values())
        failing = [n for n, c in checks.items() if not c["ok"]]
        return web.json_response({"status": "ok" if ok else "failing", "failing": failing, "checks": checks},
                                 status=200 if ok else 503)
    return handler


@web.middleware
async def errors(request, handler):
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error; see the gateway log"}, status=500)


def create_app(settings: Settings, services: Services | None = None) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=settings.max_upload_bytes + (1 << 20))

    async def open_services(app):
        app["services"] = services or await asyncio.to_thread(Services.open, settings)
        app["services"].start_loading_models()
        yield
        await asyncio.to_thread(app["services"].close)

    async def cancel_gathering(app):
        yield
        task = app["gather"].get("task")
        if task is not None and not task.done():
            task.cancel()  # a re-run resumes where this one stopped

    app["gather"] = {}
    app.cleanup_ctx.append(open_services)
    app.cleanup_ctx.append(cancel_gathering)
    r = app.router
    r.add_get("/api/v1/health", _health(sorted({n for names in HEALTH.values() for n in names})))
    for service, names in HEALTH.items():
        r.add_get(f"/{service}/api/v1/health", _health(names))
    r.add_post("/gather/uploads", gather.uploads)
    r.add_route("GET", "/gather/download", gather.download)
    r.add_route("POST", "/gather/download", gather.download)
    r.add_get("/gather/status", gather.status)
    r.add_get("/gather/deadletters", gather.dead_letters)
    r.add_post("/gather/deadletters/retry", gather.retry_dead_letters)
    r.add_get("/images/{id}", query.image)
    r.add_get("/cdn/show/{id}", query.show)
    r.add_post("/recommend/recommend", query.recommend)
    r.add_get("/recommend/similar/{id}", query.similar)
    r.add_get("/recommend/evaluate", query.evaluate)
    r.add_get("/recommend/search", query.search)
    r.add_post("/recommend/feedback", users.feedback)
    r.add_put("/recommend/users/{name}", users.save_user)
    r.add_get("/recommend/users/{name}", users.get_user)
    r.add_get("/visualize/graph/{name:.+}", visualize.graph)
    ui.add_routes(app, settings, HEALTH)  # the web interface: GET /, /ui/…
    return app


def serve(settings: Settings) -> None:
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None)
