"""The Bokeh dashboards in a real browser: every plot renders, no script errors, and the data
behind the plots changes, without a reload, once a new image has been enriched."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.browser.conftest import skip_unless_browser

skip_unless_browser(module_level=True)  # before selenium is imported

from tests.browser.conftest import screenshot, severe_errors, wait
from tests.support import poll
from tests.support.photos import Photo, jpeg

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"

# Canvases, counted through the shadow roots Bokeh draws in.
CANVASES = """
const count = (root) => [...root.querySelectorAll('*')].reduce(
    (n, e) => n + (e.shadowRoot ? count(e.shadowRoot) : 0), root.querySelectorAll('canvas').length);
return count(document);
"""
# The data of every ColumnDataSource of the page's document, by name (or id).
SOURCES = """
const doc = window.Bokeh && Bokeh.documents && Bokeh.documents[0];
if (!doc) return null;
const out = {};
for (const m of doc.all_models) {
  if (!m.data || m.type !== 'ColumnDataSource') continue;
  const data = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
  const plain = {};
  for (const [k, v] of Object.entries(data)) plain[k] = Array.from(v, x => (typeof x === 'number' ? x : String(x)));
  out[m.name || m.id] = plain;
}
return JSON.stringify(out);
"""
STAGES = """
const src = Bokeh.documents[0].get_model_by_name('stages');
const data = src.data instanceof Map ? Object.fromEntries(src.data) : src.data;
return {stage: Array.from(data.stage), passed: Array.from(data.passed), failed: Array.from(data.failed)};
"""


def pages() -> list:
    collection = pytest.mark.skipif(
        not (DASHBOARDS / "collection.py").exists(),
        reason="dashboards/collection.py (the /collection page) does not exist yet",
    )
    return ["/pipeline", pytest.param("/collection", marks=collection)]


def open_dashboard(browser, stack, path: str):
    browser.get(f"{stack.dashboard_url}{path}")
    wait(
        browser,
        lambda d: d.execute_script(
            "return !!(window.Bokeh && Bokeh.documents && Bokeh.documents.length && Bokeh.documents[0].roots().length)"
        ),
        60,
        what=f"Bokeh to build the {path} document",
    )
    wait(browser, lambda d: d.execute_script(CANVASES) > 0, 60, what=f"the plots of {path} to draw")


def upload_one(gateway, name: str) -> str:
    photo = Photo(
        name, (120, 40, 160), (250, 220, 0), (300, 300), make=f"Dash{uuid.uuid4().hex[:6]}", gps=(48.8566, 2.3522, 35.0)
    )
    response = gateway.post("/gather/uploads", files=[("files", (photo.name, jpeg(photo), "image/jpeg"))])
    assert response.status_code == 202, response.text
    image_id = response.json()["ids"][0]
    poll(
        lambda: gateway.get(f"/images/{image_id}").json()["status"] == "enriched",
        180,
        interval=0.5,
        what="the new image to be enriched",
    )
    return image_id


@pytest.mark.parametrize("path", pages())
def test_dashboard_renders_without_errors_and_follows_new_images(page, stack, gateway, path):
    open_dashboard(page, stack, path)
    assert page.execute_script(CANVASES) >= 1
    before = json.loads(page.execute_script(SOURCES))
    assert before, f"{path} has no data sources"
    stages = page.execute_script(STAGES) if path == "/pipeline" else None
    screenshot(page, f"dashboard{path.replace('/', '-')}-before")

    upload_one(gateway, f"dash{path.replace('/', '-')}.jpg")
    # The page is not reloaded: its periodic callback pushes the new data to the browser.
    wait(
        page,
        lambda d: json.loads(d.execute_script(SOURCES)) != before,
        60,
        what=f"{path}'s data to change after an image was enriched",
    )
    if stages is not None:
        after = wait(
            page,
            lambda d: (lambda s: s if s["passed"][-1] > stages["passed"][-1] else None)(d.execute_script(STAGES)),
            60,
            what="the stored count of the stage chart to grow",
        )
        assert after["stage"] == stages["stage"]
        assert all(a >= b for a, b in zip(after["passed"], stages["passed"]))
    assert page.execute_script(CANVASES) >= 1
    assert severe_errors(page) == []
