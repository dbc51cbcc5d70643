"""Dataset runs are the same from every gateway process: one run at a time across them, its
progress read from PostgreSQL by any, and a holder that dies gives the run up."""

from __future__ import annotations

import pytest

from api.services import DATASET_RUN, Services
from tests.handlers.conftest import Gateway
from tests.support import poll
from tests.support.dataset import write_dataset


@pytest.fixture
def two_gateways(stack, admin_key):
    """Two gateway apps with their own clients, as two processes on one port would have."""
    opened = [Services.open(stack), Services.open(stack)]
    gateways = [Gateway(stack, s, admin_key) for s in opened]
    yield gateways
    for g in gateways:
        g.close()
    for s in opened:
        s.close()


def finished(gateway):
    g = gateway.get("/gather/status").json()["gather"]
    return g if g and g["phase"] in ("done", "failed", "interrupted") else None


def test_one_run_at_a_time_across_processes_and_the_same_progress_from_each(two_gateways, stack, image_server):
    first, second = two_gateways
    # Paced photos keep the run going long enough for the second process to ask.
    folder = write_dataset(
        stack.data_dir / "datasets" / "two-gateways",
        [(f"tg{n:03d}", image_server.url("paced", 2000 + n)) for n in range(6)],
    )
    started = first.post("/gather/download", json={"dataset": str(folder), "concurrency": 1})  # ≥ 1.2 s
    assert started.status_code == 202, started.text
    refused = second.post("/gather/download", json={"dataset": str(folder)})
    assert refused.status_code == 409 and refused.json()["gather"]["dataset"] == str(folder)
    assert refused.json()["gather"]["holder"] == first.app[DATASET_RUN].holder
    done = poll(lambda: finished(second), 120, interval=0.5, what="the run, as the other process sees it")
    assert done["phase"] == "done" and done["total"] == 6
    assert finished(first) == done  # the same run, the same figures, from either process
    # The lease is free again: the other process may run the next one.
    again = second.post("/gather/download", json={"dataset": str(folder)})
    assert again.status_code == 202, again.text
    assert poll(lambda: finished(first), 120, interval=0.5, what="the second run")["already_stored"] == 6


def test_a_run_whose_process_stops_is_interrupted_and_frees_the_lease(two_gateways, stack, image_server):
    first, second = two_gateways
    folder = write_dataset(
        stack.data_dir / "datasets" / "interrupted",
        [(f"ir{n:03d}", image_server.url("paced", 3000 + n)) for n in range(40)],
    )
    assert first.post("/gather/download", json={"dataset": str(folder)}).status_code == 202
    first.call(first.app[DATASET_RUN].cancel())  # what a gateway stopping does
    stopped = poll(lambda: finished(second), 30, what="the run to be seen interrupted")
    assert stopped["phase"] == "interrupted" and "start it again" in stopped["error"]
    resumed = second.post("/gather/download", json={"dataset": str(folder)})
    assert resumed.status_code == 202, resumed.text
    second.call(second.app[DATASET_RUN].cancel())
