"""CPU per recommendation of two versions of the code, interleaved, on one synthetic collection.

    git worktree add /tmp/old <commit>
    .venv/bin/python -m bench.recommend_ab /tmp/old . --images 100000

Each tree runs in its own process (its code on PYTHONPATH), builds the gateway's replica of
``--images`` synthetic images (`bench.recommend.numpy_index`) and answers `make_queries` with
one BLAS thread, as the gateway does. The two take turns, a batch each, so the machine's drifts
fall on both; the answer is each one's median CPU milliseconds per request and the median of the
pairwise ratios. Answers are not compared here: `bench.recommend --dump` does that over HTTP.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BATCH = 150


def serve(images: int) -> None:
    """The child: build, then time a batch per line read."""
    from threadpoolctl import threadpool_limits

    from bench.recommend import Images, make_queries, numpy_index
    from query.recommendation import ranking, recommender

    index = numpy_index(Images(images, 0), images)
    queries = make_queries(12 * BATCH, 1)
    threadpool_limits(1, user_api="blas")

    def answer(batch: list[dict]) -> None:
        for body in batch:
            prefs = ranking.parse_preferences(body)
            recommender.recommend(index, prefs, ranking.resolve_tags(prefs.tags))

    answer(queries[:50])  # compiled kernels and caches warm
    print("ready", flush=True)
    for turn, _ in enumerate(sys.stdin):
        start = (turn * BATCH) % (len(queries) - BATCH)
        begun = time.process_time()
        answer(queries[start : start + BATCH])
        print((time.process_time() - begun) / BATCH * 1000, flush=True)


def start(tree: Path, images: int) -> subprocess.Popen:
    child = subprocess.Popen(
        # This file, with the tree's code: an old tree need not have it.
        [sys.executable, str(Path(__file__).resolve()), "--serve", "--images", str(images)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready", f"{tree} did not start"
    return child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, nargs="?", help="the baseline's tree")
    parser.add_argument("new", type=Path, nargs="?", help="the tree to compare with it")
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.images)
        return
    if args.old is None or args.new is None:
        parser.error("give the two trees")
    children = [start(tree.resolve(), args.images) for tree in (args.old, args.new)]
    times: list[list[float]] = [[], []]
    for done in range(args.rounds):
        for child, taken in zip(children, times):
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("go\n")
            child.stdin.flush()
            taken.append(float(child.stdout.readline()))
        print(f"round {done + 1}/{args.rounds}: old {times[0][-1]:.2f} ms, new {times[1][-1]:.2f} ms", flush=True)
    for child in children:
        child.terminate()
    old, new = map(statistics.median, times)
    ratios = statistics.median(n / o for o, n in zip(*times))
    print(
        f"CPU per recommendation at {args.images:,} images: old {old:.2f} ms, new {new:.2f} ms, "
        f"new/old {new / old:.3f} (median of the pairwise ratios {ratios:.3f})"
    )


if __name__ == "__main__":
    main()
