"""The gateway: one port serving the original system's entry points. `create_app(settings,
services)` builds it; `serve(settings)` runs it."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from aiohttp import web

from connectors.credentials import server_secret
from connectors.unsplash.job import DatasetRun
from connectors.unsplash.sources import Sources
from core.settings import Settings

from . import auth, http, ui
from .auth import ACCESS, AUTH
from .http import json_response
from .routes import ROUTES
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
        body = {
            "status": "failing" if failing else "ok",
            "failing": failing,
            "checks": checks,
            "process": os.getpid(),  # which gateway process answered (several may share the port)
            "services": await asyncio.to_thread(_supervised, request.app[SERVICES].settings),
        }
        if failing:  # a 503 is an error like every other: {"error"}
            body["error"] = f"failing: {', '.join(failing)}"
        return json_response(body, status=503 if failing else 200)

    return handler


def _supervised(settings: Settings) -> dict:
    """Restarts per process of the embedded stack, as its supervisor reports them ({} elsewhere)."""
    try:
        return json.loads((Path(settings.data_dir) / "supervisor.json").read_text())
    except (OSError, ValueError):
        return {}


def create_app(settings: Settings, services: Services | None = None) -> web.Application:
    """``services``: clients opened by the caller (tests), which the app neither closes nor loads
    models into; by default they are opened at start-up, with the models loading behind."""
    app = web.Application(
        middlewares=[http.errors, auth.middleware(settings)], client_max_size=settings.max_upload_bytes + (1 << 20)
    )

    async def open_services(app):
        if services is None:
            app[SERVICES] = await asyncio.to_thread(Services.open, settings)
            app[SERVICES].start_loading_models()
        else:
            app[SERVICES] = services
        s = app[SERVICES]
        app[AUTH] = auth.Authenticator(s.db, await asyncio.to_thread(server_secret, settings), settings)
        app[DATASET_RUN] = DatasetRun(
            s.db,
            s.ingestor,
            settings.data_dir / "datasets",
            on_metadata=s.refresh_vocabulary,
            sources=Sources.from_settings(settings),
        )
        yield
        await app[DATASET_RUN].cancel()  # a re-run resumes where this one stopped
        if services is None:
            await asyncio.to_thread(app[SERVICES].close)

    app.cleanup_ctx.append(open_services)
    app.on_response_prepare.append(http.security_headers)
    app[http.MAX_JSON_BYTES] = settings.max_json_bytes
    r = app.router
    health = {"/api/v1/health": sorted({n for names in HEALTH.values() for n in names})}
    health.update((f"/{service}/api/v1/health", names) for service, names in HEALTH.items())
    access = {r.add_get(path, _health(names)): "public" for path, names in health.items()}
    for route in ROUTES:
        access[r.add_route(route.method, route.path, route.handler)] = route.access
    ui.add_routes(app, settings, HEALTH)  # the web interface: GET /, /ui/…, all public
    app[ACCESS] = access
    return app


def serve(settings: Settings) -> None:
    import uvloop
    from threadpoolctl import threadpool_limits

    # One BLAS thread: a recommendation's colour search is one matrix-vector product over the
    # collection, bound by memory (1.4 ms at 100,000 images on one core, 0.8 on two), and
    # OpenBLAS's second thread spun on after each, so one client's requests in turn kept 1.7
    # cores busy. Several gateway processes (VIEWFINDER_GATEWAYS) use the cores instead.
    threadpool_limits(1, user_api="blas")
    # reuse_port: `viewfinder up --gateways M` runs M of these on the one port.
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        reuse_port=True,
        loop=uvloop.new_event_loop(),
    )
