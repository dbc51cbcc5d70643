"""How long one uploaded photo takes to be enriched on an idle stack (upload → every stage →
stored), with the worker's fetches waiting at the broker as long as Faust's own default (1.5 s)
and as VIEWFINDER_BROKER_FETCH_WAIT says (0.1 s), in one run. Tiny random models: the pipeline's
own latency, not the models'.

    .venv/bin/python -m bench.latency [--photos 6] [--waits 1.5,0.1]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.tiny import tiny_models, tiny_stack
from tests.support import poll
from tests.support.photos import Photo, jpeg

IDLE_S = 2.0  # between photos: each arrives at an idle pipeline, as one upload does


def latencies(workdir: Path, wait: float, photos: int, models: dict) -> list[float]:
    with tiny_stack(workdir / f"wait-{wait}", models, broker_fetch_wait=wait) as (_, client):
        out = []
        for i in range(photos + 1):  # the first loads the models: not counted
            data = jpeg(Photo(f"latency-{i}.jpg", (10 * i, 100, 200), (250, 250, 250), (800, 600)))
            started = time.perf_counter()
            iid = client.post("/gather/uploads", files=[("files", (f"l{i}.jpg", data, "image/jpeg"))]).json()["ids"][0]
            poll(lambda iid=iid: client.get(f"/images/{iid}").json()["status"] == "enriched", 120, interval=0.02)
            if i:
                out.append(time.perf_counter() - started)
            time.sleep(IDLE_S)  # the idle gap is the condition measured, not a wait for something
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--waits", default="1.5,0.1", help="fetch waits to compare, seconds; the first is the baseline")
    args = parser.parse_args()
    waits = [float(w) for w in args.waits.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="viewfinder-latency-"))
    workdir.chmod(0o755)
    try:
        models = tiny_models(workdir)
        runs = {wait: latencies(workdir, wait, args.photos, models) for wait in waits}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base = statistics.median(runs[waits[0]])
    print(f"\none photo at a time, upload → enriched, {args.photos} photos, medians:")
    for wait, values in runs.items():
        median = statistics.median(values)
        print(
            f"  fetch wait {wait:.2f} s: {median:.2f} s (max {max(values):.2f}); "
            f"{base / median:.1f}x faster than {waits[0]} s"
        )


if __name__ == "__main__":
    main()
