"""The Bokeh server process."""
from __future__ import annotations

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.server.server import Server

from connectors.postgres import Database

from . import collection, pipeline

# path → make(doc, db, settings). With more than one page, Bokeh's "/" lists them all.
PAGES = {
    "/pipeline": lambda doc, db, settings: pipeline.make_document(doc, db),
    "/collection": collection.make_document,
}


def serve(settings) -> None:
    db = Database(settings.database_url, maxconn=4)
    apps = {path: Application(FunctionHandler(lambda doc, make=make: make(doc, db, settings)))
            for path, make in PAGES.items()}
    origins = [f"{host}:{settings.dashboard_port}" for host in (settings.host, "localhost", "127.0.0.1")]
    origins += [o.strip() for o in settings.dashboard_origins.split(",") if o.strip()]
    server = Server(apps, address=settings.host, port=settings.dashboard_port, allow_websocket_origin=origins)
    server.start()
    try:
        server.io_loop.start()
    finally:
        db.close()
