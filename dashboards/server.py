"""The Bokeh server process: `create_server(settings)` builds it, `serve(settings)` runs it."""

from __future__ import annotations

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.server.server import Server

from connectors.postgres import Database, open_database
from core.settings import Settings

from . import collection, pipeline

# path → make(doc, db, settings). With more than one page, Bokeh's "/" lists them all.
PAGES = {
    "/pipeline": pipeline.make_document,
    "/collection": collection.make_document,
}


def create_server(settings: Settings, db: Database) -> Server:
    apps = {
        path: Application(FunctionHandler(lambda doc, make=make: make(doc, db, settings)))
        for path, make in PAGES.items()
    }
    origins = [f"{host}:{settings.dashboard_port}" for host in (settings.host, "localhost", "127.0.0.1")]
    origins += [o.strip() for o in settings.dashboard_origins.split(",") if o.strip()]
    return Server(apps, address=settings.host, port=settings.dashboard_port, allow_websocket_origin=origins)


def serve(settings: Settings) -> None:
    db = open_database(settings, maxconn=4)
    server = create_server(settings, db)
    server.start()
    try:
        server.io_loop.start()
    finally:
        db.close()
