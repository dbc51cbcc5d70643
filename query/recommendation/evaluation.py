"""Offline evaluation: replay the dataset's conversions (a search keyword → the photo that was
downloaded) against the recommender and two baselines."""

from __future__ import annotations

import math
import random

from . import ranking, recommender


def recall_at(ranked: list[str], relevant: set[str], k: int) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def ndcg_at(ranked: list[str], relevant: set[str], k: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def reciprocal_rank(ranked: list[str], relevant: set[str]) -> float:
    return next((1 / (i + 1) for i, item in enumerate(ranked) if item in relevant), 0.0)


def scores(runs: list[tuple[list[str], set[str]]], k: int) -> dict[str, float]:
    """Mean recall@k, nDCG@k and MRR over (ranked, relevant) pairs."""
    n = len(runs) or 1
    return {
        f"recall@{k}": sum(recall_at(r, rel, k) for r, rel in runs) / n,
        f"ndcg@{k}": sum(ndcg_at(r, rel, k) for r, rel in runs) / n,
        "mrr": sum(reciprocal_rank(r, rel) for r, rel in runs) / n,
    }


def evaluate(
    db, index, resolver, k: int = 10, max_queries: int = 1000, seed: int = 0, keywords: list[str] | None = None
) -> dict:
    asked = db.unsplash.searches(max_queries, keywords)
    if not asked:
        return {"queries": 0, "k": k, "systems": {}}
    rng = random.Random(seed)
    everything, most_popular = db.images.enriched_ids(), db.unsplash.most_popular(k)
    runs: dict[str, list] = {"recommender": [], "popularity": [], "random": []}
    for keyword, relevant in asked.items():
        prefs = ranking.Preferences(tags=[keyword], limit=k)
        resolved = ranking.resolve_tags([keyword], resolver)
        ranked = [r["id"] for r in recommender.recommend(index, prefs, resolved)]
        runs["recommender"].append((ranked, relevant))
        runs["popularity"].append((most_popular, relevant))
        runs["random"].append((rng.sample(everything, min(k, len(everything))), relevant))
    return {"queries": len(asked), "k": k, "systems": {name: scores(r, k) for name, r in runs.items()}}
