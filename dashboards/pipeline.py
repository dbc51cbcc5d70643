"""The pipeline dashboard: how many images passed each stage, and where they failed, live."""
from __future__ import annotations

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, HoverTool
from bokeh.plotting import figure

from connectors.postgres import STAGES

REFRESH_MS = 2000


def stage_data(status: dict) -> dict:
    """Columns for the stage chart from `Database.pipeline_status()`."""
    stages = status["stages"]
    return {"stage": [s["stage"] for s in stages], "passed": [s["passed"] for s in stages],
            "failed": [s["failed"] for s in stages]}


def summary(status: dict) -> str:
    return (f"<b>{status['arrived'] + status['enriched'] + status['failed']}</b> images: "
            f"<b>{status['enriched']}</b> enriched, <b>{status['in_flight']}</b> in flight, "
            f"<b>{status['failed']}</b> failed; {status['enriched_per_s']:.2f} enriched/s over the last minute")


def make_document(doc, db) -> None:
    status = db.pipeline_status()
    source = ColumnDataSource(stage_data(status), name="stages")  # name: found by the browser tests
    header = Div(text=summary(status))
    plot = figure(x_range=list(STAGES), height=320, sizing_mode="stretch_width", title="Images past each stage",
                  toolbar_location=None)
    plot.vbar(x="stage", top="passed", width=0.7, source=source, color="#4c78a8", legend_label="passed")
    plot.vbar(x="stage", top="failed", width=0.35, source=source, color="#e45756", legend_label="failed here")
    plot.add_tools(HoverTool(tooltips=[("stage", "@stage"), ("passed", "@passed"), ("failed", "@failed")]))
    plot.y_range.start = 0
    plot.legend.location = "top_right"

    def refresh():
        latest = db.pipeline_status()
        source.data = stage_data(latest)
        header.text = summary(latest)

    doc.add_periodic_callback(refresh, REFRESH_MS)
    doc.title = "Viewfinder — pipeline"
    doc.add_root(column(header, plot, sizing_mode="stretch_width"))
