"""Scaling out on one machine, each pair in the same run:

1. enrichment: images/s through the whole pipeline with 1 and with 2 worker processes (tiny
   random DETR and CLIP built here: the pipeline's own cost, not the real models'), uploaded
   over HTTP, timed from the first upload to the last image enriched;
2. recommendations: req/s and latency with 1 and with 2 gateway processes on one port
   (SO_REUSEPORT), 50 concurrent clients, over synthetic points in the index.

    .venv/bin/python -m bench.scale [--images 300] [--size 640x480] [--points 25000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from bench.recommend import Images, http_with_cpu, make_queries
from bench.tiny import tiny_models, tiny_stack
from core.settings import Settings
from tests.support import poll
from tests.support.photos import Photo, jpeg
from viewfinder.embedded.process import free_port
from viewfinder.stack import Stack


def enrichment(workdir: Path, workers: int, files: list[tuple[str, bytes]], models: dict) -> float:
    with tiny_stack(workdir / f"enrich-{workers}", models, workers=workers, broker_session_timeout=6.0) as (_, client):
        started = time.perf_counter()
        ids = []
        for i in range(0, len(files), 20):
            response = client.post("/gather/uploads", files=[("files", f) for f in files[i : i + 20]])
            response.raise_for_status()
            ids += response.json()["ids"]

        def all_enriched() -> bool:
            status = client.get("/gather/status").json()["pipeline"]
            return status["enriched"] + status["failed"] >= len(set(ids))

        poll(all_enriched, 1800, interval=0.5, what="every image to be enriched")
        return len(set(ids)) / (time.perf_counter() - started)


def recommendations(workdir: Path, points: int, seconds: float, clients: int) -> dict[int, dict]:
    images = Images(points, seed=0)
    queries = make_queries(100_000, seed=1)
    stack = Stack(Settings.from_env({}).replace(data_dir=workdir / "recommend", port=free_port()))
    s = stack.start(with_app=False)
    try:
        from connectors.vectors import IndexServiceClient

        service = IndexServiceClient(s.index_url, timeout=300)
        for start in range(0, points, 1000):
            service.upsert(images.points(start, min(points, start + 1000)))
        service.close()
        stack.settings = stack.settings.replace(dashboard_port=free_port())
        stack.start_dashboard()
        url = f"{stack.settings.gateway_url}/recommend/recommend"
        out = {}
        for n in (1, 2):
            stack.start_gateway()  # the second joins the first on the same port
            pids = {f"gateway {i + 1}": p.pid for i, p in enumerate(x for x in stack.apps if "gateway" in x.name)}
            httpx.post(url, json={"color": "#808080", "tags": ["dog"]}, timeout=300).raise_for_status()  # warm
            out[n] = http_with_cpu(url, queries, clients, seconds, pids)
        return out
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--points", type=int, default=25_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    w, h = map(int, args.size.split("x"))
    workdir = Path(tempfile.mkdtemp(prefix="viewfinder-scale-"))
    workdir.chmod(0o755)  # PostgreSQL runs as the postgres user under root
    try:
        models = tiny_models(workdir)
        files = [
            (f"s{i}.jpg", jpeg(Photo(f"s{i}", (i % 256, (7 * i) % 256, 90), (0, 0, 0), (w, h))))
            for i in range(args.images)
        ]
        rates = {n: enrichment(workdir, n, files, models) for n in (1, 2)}
        served = recommendations(workdir, args.points, args.seconds, args.clients)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nenrichment, {args.images} images of {args.size}, tiny models:")
    for n, rate in rates.items():
        print(f"  {n} worker(s): {rate:6.1f} images/s")
    print(f"  2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
    print(f"\nrecommendations, {args.points} points, {args.clients} clients, {args.seconds:.0f} s:")
    for n, run in served.items():
        cores = ", ".join(f"{k} {v:.2f}" for k, v in run["cores"].items())
        print(
            f"  {n} gateway(s): {run['rps']:7.1f} req/s, p50 {run['p50']:.1f} ms, p99 {run['p99']:.1f} ms "
            f"(cores: {cores})"
        )
    print(f"  2 gateways / 1 gateway: {served[2]['rps'] / served[1]['rps']:.2f}x req/s")


if __name__ == "__main__":
    main()
