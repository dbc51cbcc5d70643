"""Recommendation latency: p50/p99 of a filtered recommendation over synthetic images, several
ways in the same run, at each collection size:

1. in-process: `query.recommendation.recommender.recommend` on an `EdgeIndex` (qdrant-edge) in this process, one
   caller, no HTTP;
2. numpy: the same `recommend` on a brute-force index over an in-memory matrix of the same points
   (`query.recommendation.replica.PaletteReplica`, what the gateway keeps in memory);
3. over HTTP: POST /recommend/recommend on the real gateway of the embedded stack (points loaded
   into the embedded index service before timing; the gateway mirrors them in its replica): one
   client alone (latency without queueing), N concurrent clients back to back, and N clients that
   pause a random while (mean --think s) between requests, as people do;
4. the same N clients against a second gateway without the replica (every candidate search a
   round trip to the index service), and against a canned-answer aiohttp app: the floor that
   any HTTP answer costs on this machine.

Each request: a random colour, a random orientation, sometimes a camera make (30 %), sometimes
one COCO label as a tag (30 %), limit 10. The recommender then runs 1-2 palette searches of 200
candidates (the narrowed filter, then, where its finds may not settle the page, the
make-only/unfiltered one) and values the candidates.
Points carry a palette vector (4 random colours with random coverages, through the same maths as
`streams.enrich.colors.palette_vector`, vectorised) and a payload like the pipeline's; no CLIP
vector (the recommend path searches only "palette" unless a user has feedback).

    .venv/bin/python -m bench.recommend [--sizes 25000 100000] [--requests 2000] [--clients 50]
                                        [--seconds 30] [--think 1.0] [--optimize]

The machine's cores are shared: during the HTTP runs the load generator (this process), the
gateway and the index service compete for them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from core.colors import SIGMA, _anchors, delta_e, palette_vector, rgb_to_lab
from query.recommendation import ranking, recommender
from query.recommendation.replica import PaletteReplica

TARGET_P99_MS = 20.0
MAKES = ("canon", "nikon", "sony", "fujifilm", "apple", "olympus", "panasonic", "leica", "samsung", "google")
LABELS = ranking.LABELS  # the 80 COCO labels


# ---------------------------------------------------------------- synthetic data


def palette_vectors(rgb: np.ndarray, coverage: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """`palette_vector` for many images at once: rgb (n, k, 3) 0-255, coverage (n, k) percent.
    Same anchors, ΔE2000, Gaussian weight, normalisation and rounding."""
    anchors = _anchors()
    labs = rgb_to_lab(rgb)
    out = np.empty((len(rgb), len(anchors)))
    for i in range(0, len(rgb), chunk):
        d = delta_e(anchors[None, None], labs[i : i + chunk, :, None])  # (c, k, anchors)
        vec = (coverage[i : i + chunk, :, None] * np.exp(-((d / SIGMA) ** 2))).sum(axis=1)
        out[i : i + chunk] = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    return out.round(6)


class Images:
    """n synthetic images: ids, palette vectors and payloads like the pipeline's."""

    def __init__(self, n: int, seed: int):
        rng = np.random.default_rng(seed)
        self.n = n
        self.ids = [uuid.UUID(bytes=rng.bytes(16)).hex for _ in range(n)]
        rgb = rng.integers(0, 256, (n, 4, 3))
        coverage = np.round(np.sort(rng.dirichlet(np.ones(4), n) * 100, axis=1)[:, ::-1], 2)
        started = time.perf_counter()
        self.palette = palette_vectors(rgb, coverage)
        self.vector_seconds = time.perf_counter() - started
        hexes = [["#{:02x}{:02x}{:02x}".format(*c) for c in row] for row in rgb.tolist()]
        # The vectorised maths must be palette_vector's.
        self.max_vector_error = max(
            float(np.abs(np.array(palette_vector(list(zip(hexes[i], coverage[i].tolist())))) - self.palette[i]).max())
            for i in rng.choice(n, 20, replace=False)
        )
        assert self.max_vector_error < 1e-5, self.max_vector_error

        orientation = rng.choice(3, n, p=[0.6, 0.3, 0.1])  # index into ranking.ORIENTATIONS
        long_side = rng.integers(800, 6001, n)
        short_side = (long_side * rng.uniform(0.5, 0.9, n)).astype(int)
        width = np.where(orientation == 0, long_side, np.where(orientation == 1, short_side, long_side))
        height = np.where(orientation == 0, short_side, long_side)
        make_weights = 1 / np.arange(1, len(MAKES) + 1)
        make = np.where(rng.random(n) < 0.7, rng.choice(len(MAKES), n, p=make_weights / make_weights.sum()), -1)
        year = rng.integers(2005, 2027, n)
        tag_weights = 1 / np.arange(1, len(LABELS) + 1) ** 0.8  # a few labels common ("person"-like), most rare
        tag_weights /= tag_weights.sum()
        self.payloads = []
        for i in range(n):
            picked = rng.choice(len(LABELS), rng.integers(0, 4), replace=False, p=tag_weights)
            self.payloads.append(
                {
                    "orientation": ranking.ORIENTATIONS[orientation[i]],
                    "width": int(width[i]),
                    "height": int(height[i]),
                    "make": MAKES[make[i]] if make[i] >= 0 else None,
                    "year": int(year[i]),
                    "tags": sorted(LABELS[j] for j in picked),
                    "colors": [{"hex": h, "coverage": float(c)} for h, c in zip(hexes[i], coverage[i])],
                }
            )

    def points(self, start: int, stop: int) -> list[dict]:
        return [
            {"id": self.ids[i], "vectors": {"palette": self.palette[i].tolist()}, "payload": self.payloads[i]}
            for i in range(start, stop)
        ]


def make_queries(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        body = {
            "color": "#{:02x}{:02x}{:02x}".format(*rng.integers(0, 256, 3).tolist()),
            "orientation": ranking.ORIENTATIONS[rng.integers(3)],
            "limit": 10,
        }
        if rng.random() < 0.3:
            body["make"] = MAKES[rng.integers(len(MAKES))]
        if rng.random() < 0.3:
            body["tags"] = [LABELS[rng.integers(len(LABELS))]]
        out.append(body)
    return out


# ---------------------------------------------------------------- the numpy baseline


def numpy_index(images: Images, size: int, own_payloads: bool = False, page: int = 2000) -> PaletteReplica:
    """Brute force over the first ``size`` images: the gateway's replica of the colour space, fed
    in pages as the index's change feed gives them. ``own_payloads``: each payload parsed from
    JSON, as the gateway holds them (to measure its memory), instead of shared with ``images``."""
    replica = PaletteReplica(images.palette.shape[1], capacity=size)
    for start in range(0, size, page):
        replica.apply(
            [
                {
                    "id": p["id"],
                    "vector": p["vectors"]["palette"],
                    "payload": json.loads(json.dumps(p["payload"])) if own_payloads else p["payload"],
                }
                for p in images.points(start, min(size, start + page))
            ]
        )
    return replica


class Timed:
    """Wraps an index; adds the seconds spent in its searches to ``seconds``."""

    def __init__(self, index):
        self.index, self.seconds, self.calls = index, 0.0, 0

    def search(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.index.search(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def search_many(self, requests: list[dict]) -> list[list[dict]]:
        return self._timed(self.index.search_many, requests)

    def search_union(self, requests: list[dict]):
        union = getattr(self.index, "search_union", None)
        return None if union is None else self._timed(union, requests)

    def _timed(self, search, requests: list[dict]):
        started = time.perf_counter()
        try:
            return search(requests)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += len(requests)


# ---------------------------------------------------------------- runs


def stats(latencies_s: list[float], elapsed: float) -> dict:
    ms = np.array(latencies_s) * 1000
    return {
        "n": len(ms),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "mean": float(ms.mean()),
        "rps": len(ms) / elapsed,
    }


def run_direct(index, queries: list[dict], seconds: float) -> tuple[dict, dict]:
    """One caller, `recommender.recommend` on ``index``; also how much of it was index searches."""
    timed = Timed(index)
    latencies, search_share = [], []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    for body in queries:
        if time.perf_counter() > deadline:
            break
        prefs = ranking.parse_preferences(body)
        resolved = ranking.resolve_tags(prefs.tags)
        before = timed.seconds
        t0 = time.perf_counter()
        recommender.recommend(timed, prefs, resolved)
        latencies.append(time.perf_counter() - t0)
        search_share.append(timed.seconds - before)
    out = stats(latencies, time.perf_counter() - started)
    return out, {"search_ms": 1000 * float(np.mean(search_share)), "searches": timed.calls / len(latencies)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_with_cpu(
    url: str, queries: list[dict], clients: int, seconds: float, pids: dict[str, list[int]], think_s: float = 0.0
) -> dict:
    """`run_http`, and how many cores each kind of process used meanwhile (CPU seconds / wall seconds)."""

    def used(name: str) -> float:
        return sum(map(cpu_seconds, pids[name]))

    before = {name: used(name) for name in pids}
    own, wall = time.process_time(), time.perf_counter()
    out = asyncio.run(run_http(url, queries, clients, seconds, think_s))
    wall = time.perf_counter() - wall
    out["cores"] = {name: (used(name) - before[name]) / wall for name in pids}
    out["cores"]["load generator"] = (time.process_time() - own) / wall
    return out


async def run_http(url: str, queries: list[dict], clients: int, seconds: float, think_s: float = 0.0) -> dict:
    """``clients`` each send a request, wait for its answer, and (``think_s`` > 0) pause a random
    while of that mean, as people do between searches, before the next. Each client keeps one
    connection and speaks HTTP/1.1 on it itself, the requests encoded beforehand: the load
    generator shares the cores with the gateways, and an aiohttp client session cost 0.10 ms of
    CPU a request against a canned answer and 0.37 against the gateways (0.23 of the 2 cores at
    616 req/s); this costs 0.03 and 0.14."""
    import random

    target = urlsplit(url)
    head = f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nContent-Type: application/json\r\n"
    bodies = [json.dumps(body, separators=(",", ":")).encode() for body in queries]
    pending = iter([(head + f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies])
    pauses = random.Random(0)
    latencies, failures = [], []
    deadline = time.perf_counter() + seconds

    async def client():
        if think_s:  # people arrive at different times; starting together is a burst no one sends
            await asyncio.sleep(pauses.uniform(0, 2 * think_s))
        reader, writer = await asyncio.open_connection(target.hostname, target.port)
        try:
            for request in pending:
                if time.perf_counter() > deadline:
                    return
                t0 = time.perf_counter()
                writer.write(request)
                status, payload = await _answer(reader)
                if status != 200:
                    failures.append((status, payload[:200]))
                    continue
                latencies.append(time.perf_counter() - t0)
                if think_s:
                    await asyncio.sleep(pauses.expovariate(1 / think_s))  # shapes the load; not synchronisation
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, first: {failures[0]}")
    return stats(latencies, elapsed)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 answer's status and body (the gateway always sends a Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
    if length is None:
        raise RuntimeError(f"an answer without a Content-Length: {head[:200]!r}")
    return int(head[9:12]), await reader.readexactly(int(length.group(1)))


def score_costs(index, queries: list[dict]) -> dict:
    """Per request: ms valuing all candidates as `recommender.recommend` does (`ranking.values`:
    the colour maths once for all, no explanations), and one `ranking.score` call per candidate."""
    batch_ms, loop_ms, worst = [], [], 0.0
    for body in queries:
        prefs = ranking.parse_preferences(body)
        resolved = ranking.resolve_tags(prefs.tags)
        searches = recommender.searches(prefs, ranking.as_wanted(resolved).labels(), [])
        found = recommender.candidates(index, searches)
        payloads = list(found.payloads)
        t0 = time.perf_counter()
        reference = [ranking.score(prefs, p, resolved)[0] for p in payloads]
        loop_ms.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        values = ranking.values(prefs, payloads, resolved)
        batch_ms.append(1000 * (time.perf_counter() - t0))
        worst = max(worst, float(np.abs(np.array(values) - np.array(reference)).max(initial=0)))
    return {
        "loop_ms": statistics.mean(loop_ms),
        "batch_ms": statistics.mean(batch_ms) if batch_ms else None,
        "max_diff": worst,
    }


def hop_costs(edge, service, queries: list[dict]) -> dict:
    """The same palette searches (200 candidates, the recommender's filters) in-process and through
    the index service's HTTP API from this process, one at a time; and the size of one answer."""
    searches = []
    for body in queries:
        prefs = ranking.parse_preferences(body)
        labels = sorted({v for v in ranking.resolve_tags(prefs.tags).values() if v})
        vector = palette_vector([(prefs.color, 100.0)])
        base = {"make": prefs.make} if prefs.make else {}
        searches.append((vector, {**base, "orientation": prefs.orientation, **({"tags": labels} if labels else {})}))
        searches.append((vector, base))
    out = {}
    for name, index in (("edge", edge), ("service", service)):
        t0 = time.perf_counter()
        for vector, must in searches:
            index.search("palette", vector, must, recommender.CANDIDATES)
        out[f"{name}_ms"] = 1000 * (time.perf_counter() - t0) / len(searches)
    # The engine alone: EdgeIndex.search less turning its 200 hits into dicts (ids, payloads).
    qe = edge.qe
    requests = [
        qe.QueryRequest(
            limit=recommender.CANDIDATES,
            query=qe.Query.Nearest(vector, using="palette"),
            filter=edge._filter(must),
            with_payload=True,
        )
        for vector, must in searches
    ]
    t0 = time.perf_counter()
    for request in requests:
        edge.shard.query(request)
    out["engine_ms"] = 1000 * (time.perf_counter() - t0) / len(searches)
    hits = edge.search("palette", searches[0][0], None, recommender.CANDIDATES)
    out["answer_kb"] = len(json.dumps({"hits": hits}).encode()) / 1024
    t0 = time.perf_counter()
    for _ in range(20):
        json.loads(json.dumps({"hits": hits}))
    out["json_ms"] = 1000 * (time.perf_counter() - t0) / 20
    return out


def agreement(a, b, queries: list[dict]) -> float:
    """Share of queries whose results (ids, scores, explanations) are the same through both indexes."""
    same = 0
    for body in queries:
        prefs = ranking.parse_preferences(body)
        resolved = ranking.resolve_tags(prefs.tags)
        same += recommender.recommend(a, prefs, resolved) == recommender.recommend(b, prefs, resolved)
    return same / len(queries)


# ---------------------------------------------------------------- main


def start_gateways(stack, count: int) -> dict[bool, tuple[str, list[int]]]:
    """Gateways side by side, ``count`` processes on one port with the in-memory replica of the
    colour space and one without: {replica: (recommend URL, pids)}."""
    import httpx

    from viewfinder.embedded.process import free_port

    # The gateway's /api/v1/health (what Stack.start_gateway waits for) includes the dashboard;
    # the enrichment worker is not needed, so it is not started.
    stack.settings = stack.settings.replace(dashboard_port=free_port(stack.settings.host))
    stack.start_dashboard()
    out = {}
    for replica in (True, False):
        stack.settings = stack.settings.replace(port=free_port(stack.settings.host), index_replica=replica)
        pids = [stack.start_gateway().proc.pid for _ in range(count if replica else 1)]
        url = f"{stack.settings.gateway_url}/recommend/recommend"
        # The first request with tags waits for a gateway's tag model to load (in the background);
        # new connections each time, so the kernel spreads them over every process on the port.
        for _ in range(4 * len(pids)):
            response = httpx.post(url, json={"color": "#808080", "tags": ["dog"]}, timeout=300)
            response.raise_for_status()
        out[replica] = url, pids
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dump_answers(url: str, queries: list[dict], path: Path) -> None:
    """The answers to ``queries``, one at a time, as JSON: to compare two versions' rankings."""
    import httpx

    with httpx.Client(timeout=60) as client:
        answers = [client.post(url, json=body).json() for body in queries]
    path.write_text(json.dumps({"queries": queries, "answers": answers}, sort_keys=True))


def serve_floor(port: int, answer: bytes) -> None:
    """The least any HTTP recommendation can cost here: an aiohttp app that parses the JSON body
    and sends back a canned answer of a real one's size, nothing else."""
    from aiohttp import web

    async def handler(request):
        await request.json()
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_post("/recommend/recommend", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def floor_run(queries: list[dict], clients: int, seconds: float, answer: bytes) -> dict:
    import multiprocessing

    import httpx

    from viewfinder.embedded.process import free_port

    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve_floor, args=(port, answer), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}/recommend/recommend"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(url, json={}, timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # polling the port until the server listens
        return http_with_cpu(url, queries, clients, seconds, {"gateway": [server.pid]})
    finally:
        server.terminate()
        server.join()


def replica_only(sizes: list[int], args) -> None:
    """The recommendation's cost in the gateway itself, at sizes the whole stack would take long to load."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")  # as api.app.serve
    images = Images(sizes[-1], args.seed)
    queries = make_queries(args.requests, args.seed + 1)
    print("| images | recommend on the replica, 1 caller: p50 ms | p99 ms | req/s | replica memory per image |")
    print("|---|---|---|---|---|")
    for size in sizes:
        before = rss_mb(os.getpid())
        replica = numpy_index(images, size, own_payloads=True)
        memory = (rss_mb(os.getpid()) - before) * 1e6 / size
        gc.collect()  # and frozen, as the gateway's replica is once loaded: collections skip it
        gc.freeze()
        r, _ = run_direct(replica, queries, args.seconds)
        print(f"| {size:,} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rps']:.1f} | {memory:.0f} bytes |", flush=True)
        del replica
        gc.unfreeze()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--requests", type=int, default=2000, help="most requests per run")
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=30, help="most seconds per timed run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--gateways", type=int, default=2, help="gateway processes on the one port (with the replica), default 2"
    )
    parser.add_argument(
        "--dump",
        type=Path,
        help="write the answers to the first 200 requests (at the largest size) to this JSON file, to compare "
        "versions; run an old version from its own tree (cd there, PYTHONPATH=.): the gateways run "
        "`python -m viewfinder.cli` in the working directory, which `-m` puts ahead of PYTHONPATH",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds each client pauses between requests in the think-time run",
    )
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="at the largest size, also time in-process after EdgeShard.optimize() (builds HNSW; "
        "about a minute for 100k points on 2 cores); the app never calls it",
    )
    parser.add_argument(
        "--replica-only",
        action="store_true",
        help="only the gateway's own work: `recommend` on its in-memory replica, one caller, one BLAS thread "
        "(as in the gateway), and the replica's memory per image; no stack, no HTTP (for 1,000,000 images)",
    )
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    if args.replica_only:
        replica_only(sizes, args)
        return

    from connectors.vectors import EdgeIndex, IndexServiceClient
    from core.settings import Settings
    from schemas.vectors import collection_vectors
    from viewfinder.embedded.process import free_port
    from viewfinder.stack import Stack

    begun = time.perf_counter()
    images = Images(sizes[-1], args.seed)
    queries = make_queries(args.requests, args.seed + 1)
    print(
        f"{images.n} synthetic images: palette vectors in {images.vector_seconds:.1f} s "
        f"(vectorised; max |Δ| against palette_vector {images.max_vector_error:.1e})",
        flush=True,
    )

    workdir = Path(tempfile.mkdtemp(prefix="viewfinder-bench-"))
    workdir.chmod(0o755)  # PostgreSQL runs as the postgres user under root
    edge = EdgeIndex(workdir / "edge", collection_vectors(512))
    edge.ensure()
    stack = Stack(Settings.from_env({}).replace(data_dir=workdir / "stack", port=free_port()))
    settings = stack.start(with_app=False)
    service = IndexServiceClient(settings.index_url, timeout=300)
    notes = []
    try:
        gateways = None
        loaded = 0
        for size in sizes:
            t0 = time.perf_counter()
            for start in range(loaded, size, 1000):
                batch = images.points(start, min(size, start + 1000))
                service.upsert(batch)
                edge.upsert(batch)
            loaded = size
            assert service.count() == edge.count() == size, (service.count(), edge.count(), size)
            print(f"loaded {size} points into both indexes in {time.perf_counter() - t0:.1f} s", flush=True)
            if gateways is None:
                gateways = start_gateways(stack, args.gateways)
            url = gateways[True][0]
            baseline = numpy_index(images, size)
            check = queries[:50]
            same_numpy = agreement(edge, baseline, check)

            runs = {
                "in-process": run_direct(edge, queries, args.seconds),
                "numpy": run_direct(baseline, queries, args.seconds),
            }
            # Unloaded HTTP latency first (after a few warm-up requests), then the concurrent load.
            asyncio.run(run_http(url, queries[-20:], 1, args.seconds))
            index_pid = next(p.proc.pid for p in stack.processes if p.name.startswith("vector index"))
            pids = {"gateways": gateways[True][1], "index service": [index_pid]}
            # What the replica holds, per image: a gateway with it against the one without.
            memory = (statistics.mean(map(rss_mb, gateways[True][1])) - rss_mb(gateways[False][1][0])) / size
            if args.dump and size == sizes[-1]:
                dump_answers(url, queries[:200], args.dump)
            runs["http-1"] = (http_with_cpu(url, queries, 1, min(args.seconds, 20), pids), None)
            runs["http-n"] = (http_with_cpu(url, queries, args.clients, args.seconds, pids), None)
            runs["http-think"] = (http_with_cpu(url, queries, args.clients, args.seconds, pids, args.think), None)
            remote_url, remote_pid = gateways[False]
            asyncio.run(run_http(remote_url, queries[-20:], 1, args.seconds))
            runs["http-remote"] = (
                http_with_cpu(
                    remote_url,
                    queries,
                    args.clients,
                    args.seconds,
                    {"gateway": remote_pid, "index service": [index_pid]},
                ),
                None,
            )
            if size == sizes[-1]:
                import httpx

                answer = httpx.post(url, json=queries[0], timeout=60).content
                runs["floor"] = (floor_run(queries, args.clients, args.seconds, answer), None)
            hop = hop_costs(edge, service, check)
            scoring = score_costs(edge, check)
            if args.optimize and size == sizes[-1]:
                t0 = time.perf_counter()
                edge.shard.optimize()
                print(
                    f"EdgeShard.optimize() took {time.perf_counter() - t0:.0f} s; same results as numpy after it: "
                    f"{100 * agreement(edge, baseline, check):.0f} %",
                    flush=True,
                )
                runs["optimized"] = run_direct(edge, queries, args.seconds)
            notes.append((size, runs, hop, scoring, same_numpy))
            print(f"replica memory per image: {memory * 1e6:.0f} bytes (gateway RSS with it − without)", flush=True)
            print(f"size {size} done at {time.perf_counter() - begun:.0f} s", flush=True)
    finally:
        service.close()
        edge.close()
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    names = {
        "in-process": "in-process: recommend(EdgeIndex)",
        "numpy": "numpy brute force: recommend(PaletteReplica)",
        "http-1": f"HTTP, {args.gateways} gateway(s), 1 client",
        "http-n": f"HTTP, {args.gateways} gateway(s), {args.clients} concurrent clients",
        "http-think": f"HTTP, {args.gateways} gateway(s), {args.clients} clients pausing {args.think:g} s (mean) "
        "between requests",
        "http-remote": f"HTTP gateway without the replica (every search via the index service), "
        f"{args.clients} concurrent clients",
        "floor": f"HTTP floor: canned answer, no work, {args.clients} concurrent clients",
        "optimized": "in-process after EdgeShard.optimize() (HNSW)",
    }
    print()
    print("| images | path | requests | p50 ms | p99 ms | mean ms | req/s | index searches per request, or CPU used |")
    print("|---|---|---|---|---|---|---|---|")
    for size, runs, *_ in notes:
        for key in ("in-process", "numpy", "optimized", "http-1", "http-n", "http-think", "http-remote", "floor"):
            if key not in runs:
                continue
            r, parts = runs[key]
            searches = f"{parts['search_ms']:.1f} ms ({parts['searches']:.2f} searches)" if parts else ""
            if "cores" in r:
                searches = "CPU, cores: " + ", ".join(f"{name} {c:.2f}" for name, c in r["cores"].items())
            print(
                f"| {size:,} | {names[key]} | {r['n']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['mean']:.1f} | "
                f"{r['rps']:.1f} | {searches} |"
            )
    print()
    print(
        "| images | in-process / numpy, p50 (p99) | index searches alone: edge / numpy "
        f"| HTTP p99 / {TARGET_P99_MS:.0f} ms target: {args.clients} clients (1 client; pausing clients) "
        "| req/s with the replica / without | HTTP, 1 client, p50 − numpy p50 | same results, edge vs numpy |"
    )
    print("|---|---|---|---|---|---|---|")
    for size, runs, _hop, _scoring, same_numpy in notes:
        edge_run, edge_parts = runs["in-process"]
        numpy_run, numpy_parts = runs["numpy"]
        http = {key: runs[key][0] for key in ("http-1", "http-n", "http-think", "http-remote")}
        print(
            f"| {size:,} | {edge_run['p50'] / numpy_run['p50']:.2f}× ({edge_run['p99'] / numpy_run['p99']:.2f}×) | "
            f"{edge_parts['search_ms'] / numpy_parts['search_ms']:.2f}× | "
            f"{http['http-n']['p99'] / TARGET_P99_MS:.1f}× ({http['http-1']['p99'] / TARGET_P99_MS:.2f}×; "
            f"{http['http-think']['p99'] / TARGET_P99_MS:.2f}×) | "
            f"{http['http-n']['rps'] / http['http-remote']['rps']:.2f}× | "
            f"{http['http-1']['p50'] - numpy_run['p50']:+.1f} ms | {100 * same_numpy:.0f} % |"
        )
    floor = notes[-1][1]["floor"][0]
    print(
        f"\nThe floor: {args.clients} clients against a canned answer get {floor['rps']:.0f} req/s, p99 "
        f"{floor['p99']:.1f} ms; p99 under {TARGET_P99_MS:.0f} ms with {args.clients} clients always waiting "
        f"needs {args.clients / (TARGET_P99_MS / 1000):.0f} req/s."
    )
    print()
    print(
        "| images | one search (200 hits): engine (shard.query) | EdgeIndex.search | via the index service "
        "| its JSON answer | JSON dump+load of it | valuing the candidates: values | a score() call each |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size, _runs, hop, scoring, _ in notes:
        batch = (
            f"{scoring['batch_ms']:.1f} ms (max Δ {scoring['max_diff']:.0e})"
            if scoring["batch_ms"] is not None
            else "n/a"
        )
        print(
            f"| {size:,} | {hop['engine_ms']:.2f} ms | {hop['edge_ms']:.2f} ms | {hop['service_ms']:.2f} ms | "
            f"{hop['answer_kb']:.0f} KB | {hop['json_ms']:.2f} ms | {batch} | {scoring['loop_ms']:.1f} ms |"
        )
    print(
        f"\ntotal {time.perf_counter() - begun:.0f} s; at most {args.requests} requests and {args.seconds:.0f} s per "
        f"run; the HTTP clients run in this process, on the same {os.cpu_count()} cores as the gateway and "
        "the index service"
    )


if __name__ == "__main__":
    main()
