"""The pipeline dashboard: how many images passed each stage, and where they failed, live.
The stages are `schemas.pipeline.STAGES`, named as everywhere else."""

from __future__ import annotations

import logging

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, HoverTool
from bokeh.plotting import figure

from schemas.pipeline import STAGE_NAMES

from . import background

log = logging.getLogger("viewfinder.dashboards.pipeline")
REFRESH_MS = 2000


def stage_data(status: dict) -> dict:
    """Columns for the stage chart from `db.images.pipeline_status()`."""
    stages = status["stages"]
    return {
        "stage": [s["stage"] for s in stages],
        "does": [s["does"] for s in stages],
        "passed": [s["passed"] for s in stages],
        "failed": [s["failed"] for s in stages],
    }


def summary(status: dict) -> str:
    return (
        f"<b>{status['arrived'] + status['enriched'] + status['failed']}</b> images: "
        f"<b>{status['enriched']}</b> enriched, <b>{status['in_flight']}</b> in flight, "
        f"<b>{status['failed']}</b> failed; {status['enriched_per_s']:.2f} enriched/s over the last minute"
    )


def make_document(doc, db, settings=None) -> None:
    status = db.images.pipeline_status()  # before the page is sent, so it never shows empty
    source = ColumnDataSource(stage_data(status), name="stages")  # name: found by the browser tests
    header = Div(text=summary(status))
    plot = figure(
        x_range=list(STAGE_NAMES),
        height=320,
        sizing_mode="stretch_width",
        title="Images past each stage",
        toolbar_location=None,
    )
    plot.vbar(x="stage", top="passed", width=0.7, source=source, color="#4c78a8", legend_label="passed")
    plot.vbar(x="stage", top="failed", width=0.35, source=source, color="#e45756", legend_label="failed here")
    plot.add_tools(HoverTool(tooltips=[("stage", "@stage: @does"), ("passed", "@passed"), ("failed", "@failed")]))
    plot.y_range.start = 0
    plot.legend.location = "top_right"

    async def refresh():
        try:
            latest = await background.run(db.images.pipeline_status)
        except Exception:  # the database may be restarting; the next tick tries again
            log.exception("pipeline refresh failed")
            return
        source.data = stage_data(latest)
        header.text = summary(latest)

    doc.add_periodic_callback(refresh, REFRESH_MS)
    doc.title = "Viewfinder — pipeline"
    doc.add_root(column(header, plot, sizing_mode="stretch_width"))
