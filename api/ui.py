"""The web interface: static pages in api/web/ (no build step, nothing fetched from elsewhere)
and the little configuration they need from the gateway."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aiohttp import web
from yarl import URL

from core import worldmap
from core.colors import FAMILIES

WEB = Path(__file__).resolve().parent / "web"

# The Bokeh server's pages, linked from the interface (dashboards/server.py serves them).
DASHBOARDS = [
    {"path": "/pipeline", "title": "Pipeline", "what": "images past each stage and where they failed, live"},
    {"path": "/collection", "title": "Collection", "what": "the original's graphs over the whole collection, live"},
]

# Scripts, styles, images and XHR only from the gateway itself; data is never run as markup.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


MAP_POINTS = 4000  # the image page's world map: enough dots to draw the continents, 40 kB


@cache
def world_points() -> list[list[float]]:
    """[latitude, longitude] of the offline map's dots (core.worldmap), to a tenth of a degree."""
    lats, lons = worldmap.background(MAP_POINTS)
    return [[round(lat, 1), round(lon, 1)] for lat, lon in zip(lats, lons)]


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        WEB / "index.html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


async def to_index(request: web.Request):
    raise web.HTTPFound("/")


def dashboard_base(request: web.Request, settings) -> str:
    """Where a browser finds the dashboard: the host name it reached the gateway by, at the
    dashboard's port. (settings.dashboard_url is the gateway's own route to it, which may be an
    internal name such as `dashboard` under docker-compose.)"""
    if not settings.dashboard_port:
        return ""
    return str(URL.build(scheme="http", host=request.url.host or settings.host, port=settings.dashboard_port))


def add_routes(app: web.Application, settings, health: dict[str, list[str]]) -> None:
    """GET / (the interface), /ui/config.json (dashboard links, services, the gallery's colour
    families), /ui/world.json (the
    image page's offline map), /ui/… (static files)."""

    async def config(request: web.Request) -> web.Response:
        base = dashboard_base(request, settings)
        return web.json_response(
            {
                "dashboard_url": base or None,
                "dashboards": [{**d, "url": base + d["path"]} for d in DASHBOARDS] if base else [],
                "services": health,
                "color_families": list(FAMILIES),
            },
            headers={"Cache-Control": "no-cache"},
        )

    async def world(request: web.Request) -> web.Response:
        return web.json_response({"points": world_points()}, headers={"Cache-Control": "max-age=86400"})

    r = app.router
    r.add_get("/", index)
    r.add_get("/ui", to_index)
    r.add_get("/ui/config.json", config)  # before the static route, which would claim it
    r.add_get("/ui/world.json", world)
    r.add_static("/ui/", WEB)
