"""The gateway: one port serving the original system's entry points. `create_app(settings,
services)` builds it; `serve(settings)` runs it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from connectors.unsplash.job import DatasetRun
from core.settings import Settings

from . import gather, query, ui, users, visualize
from .http import errors, json_response
from .services import DATASET_RUN, SERVICES, Services

# Which dependencies each of the original's services needs to be healthy.
HEALTH = {
    "gather": ["broker", "object_store", "database"],
    "cdn": ["object_store", "database"],
    "recommend": ["vector_index", "database"],
    "visualize": ["dashboard", "database"],
}


def _health(names):
    async def handler(request):
        checks = await request.app[SERVICES].check(names)
        failing = [n for n, c in checks.items() if not c["ok"]]
        return json_response(
            {"status": "failing" if failing else "ok", "failing": failing, "checks": checks},
            status=503 if failing else 200,
        )

    return handler


def create_app(settings: Settings, services: Services | None = None) -> web.Application:
    """``services``: clients opened by the caller (tests), which the app neither closes nor loads
    models into; by default they are opened at start-up, with the models loading behind."""
    app = web.Application(middlewares=[errors], client_max_size=settings.max_upload_bytes + (1 << 20))

    async def open_services(app):
        if services is None:
            app[SERVICES] = await asyncio.to_thread(Services.open, settings)
            app[SERVICES].start_loading_models()
        else:
            app[SERVICES] = services
        s = app[SERVICES]
        app[DATASET_RUN] = DatasetRun(
            s.db, s.ingestor, settings.data_dir / "datasets", on_metadata=s.refresh_vocabulary
        )
        yield
        await app[DATASET_RUN].cancel()  # a re-run resumes where this one stopped
        if services is None:
            await asyncio.to_thread(app[SERVICES].close)

    app.cleanup_ctx.append(open_services)
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
