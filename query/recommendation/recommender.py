"""Candidates from the vector index, scored by `ranking` and, for a named user, by what they
liked and disliked (Qdrant's recommend with positive and negative examples)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core import perceptual
from core.colors import PALETTE_DIM, palette_vector

from . import ranking

CANDIDATES = 200
_NEUTRAL = (np.ones(PALETTE_DIM) / np.sqrt(PALETTE_DIM)).tolist()
# Feedback is judged in every space an image has: colours always, CLIP where its weights exist.
FEEDBACK_SPACES = ("palette", "clip")


@dataclass
class Opinions:
    likes: list[str] = field(default_factory=list)
    dislikes: list[str] = field(default_factory=list)

    @property
    def judged(self) -> list[str]:
        return self.likes + self.dislikes


def _base_filter(prefs: ranking.Preferences) -> dict:
    return {"make": prefs.make} if prefs.make else {}


def searches(
    prefs: ranking.Preferences, labels: list[str], exclude: list[str], texts: dict | None = None
) -> list[dict]:
    """Nearest by colour: first those matching the wanted orientation and tags (narrowed), so a
    strict match is never crowded out by near-misses, then (where that narrows) those matching
    only the make (relaxed); and for each of ``texts`` (word → CLIP text vector), the images
    nearest it, which may show the word untagged."""
    vector = palette_vector([(prefs.color, 100.0)], compiled=True) if prefs.color else _NEUTRAL
    base = _base_filter(prefs)
    narrowed = dict(base)
    if prefs.orientation:
        narrowed["orientation"] = prefs.orientation
    if labels:
        narrowed["tags"] = labels
    found = [
        {"using": "palette", "vector": vector, "must": must, "limit": CANDIDATES, "exclude": exclude or None}
        for must in ([narrowed, base] if narrowed != base else [base])
    ]
    return found + [
        {"using": "clip", "vector": vector, "must": base, "limit": CANDIDATES, "exclude": exclude or None}
        for vector in (texts or {}).values()
    ]


def candidates(index, searches: list[dict]) -> ranking.Candidates:
    """The images the searches find. An index that holds its images as columns (the gateway's
    replica: ``search_union``) hands them over as they are."""
    union = getattr(index, "search_union", None)
    found = union(searches) if union is not None else None
    if found is not None:
        return found
    payloads: dict[str, dict] = {}
    for hits in index.search_many(searches):
        for hit in hits:
            payloads.setdefault(hit["id"], hit["payload"])
    return ranking.Candidates.of(list(payloads.values()), list(payloads))


def _narrowed(index, asked: list[dict]) -> ranking.Candidates | None:
    """The narrowed search's finds alone (``asked``: it and the relaxed one), where the index
    ranks equal scores by a fixed order (the gateway's replica: by row): then whatever the
    relaxed search finds that the narrowed filter lets through is among them, and the relaxed
    one's own finds each miss a wanted orientation or tag. None where the index cannot say."""
    union = getattr(index, "search_union", None)
    return union(asked[:1]) if union is not None else None


def _settled(prefs: ranking.Preferences, top: list[int], totals: np.ndarray) -> bool:
    """Whether the page from the narrowed search's finds alone is the page. What the relaxed
    search would add misses the wanted orientation or every wanted tag: one of its value's parts
    is 0, none is over 1. Below a full page whose last total is above that, none of it could be
    shown, or fold into one shown."""
    stated = ranking.stated(prefs)
    return len(top) == prefs.limit and totals[top[-1]] > (stated - 1) / stated


def feedback_fit(
    index, prefs: ranking.Preferences, opinions: Opinions, ids: list[str]
) -> tuple[dict[str, float], dict[str, dict]]:
    """For each candidate (``ids``), how much more it resembles what the user liked than what
    they disliked, in [0, 1]; and the images like the liked ones, to join the candidates (id →
    payload)."""
    fits: dict[str, list[float]] = {}
    joining: dict[str, dict] = {}
    for space in FEEDBACK_SPACES:
        examples = index.vectors(opinions.judged, space)
        positives = [examples[i] for i in opinions.likes if i in examples]
        negatives = [examples[i] for i in opinions.dislikes if i in examples]
        if not positives and not negatives:
            continue
        # One round trip: the images like the examples, and how the candidates so far compare
        # with them (the new ones' scores come with them: a point's recommend score is its own).
        examples = {"using": space, "vector": None, "positives": positives, "negatives": negatives}
        searches = [{**examples, "must": _base_filter(prefs), "limit": CANDIDATES, "exclude": opinions.judged}]
        if ids:
            searches.append({**examples, "must": None, "limit": len(ids), "among": ids})
        alike, *judged = index.search_many(searches)
        scores = {hit["id"]: hit["score"] for hits in judged for hit in hits}
        known = set(ids)
        for hit in alike:
            if hit["id"] not in known:
                joining.setdefault(hit["id"], hit["payload"])
            scores.setdefault(hit["id"], hit["score"])
        for iid, score in scores.items():
            # Best-score recommend: the nearer example's cosine, negated when that example is disliked.
            fits.setdefault(iid, []).append((score + 1) / 2)
        ids = ids + [iid for iid in joining if iid not in known]
    return {iid: float(np.mean(values)) for iid, values in fits.items()}, joining


def recommend(
    index, prefs: ranking.Preferences, resolved: ranking.Resolved, opinions: Opinions | None = None, words=None
) -> list[dict]:
    """``words``: the wanted words as CLIP sees them (inference.clip.WordFinder), where its weights exist."""
    wanted = ranking.as_wanted(resolved)
    opinions = opinions or Opinions()
    texts = words.queries if words is not None and prefs.tags else {}
    asked = searches(prefs, wanted.labels(), opinions.judged, texts)
    # The narrowed search alone first where it may be enough (a judging user's feedback and
    # CLIP's words are not in `_settled`'s bound).
    found = _narrowed(index, asked) if len(asked) == 2 and not texts and not opinions.judged else None
    fits: dict[str, float] = {}
    clip = None
    if found is not None:
        top, folded, totals = page(prefs, ranking.Valuing(prefs, found, wanted), found.ids, found.payloads, fits)
    if found is None or not _settled(prefs, top, totals):
        found = candidates(index, asked)
        if opinions.judged:
            fits, joining = feedback_fit(index, prefs, opinions, list(found.ids))
            found = found.extended(list(joining), list(joining.values()))
        seen = words.found(index.vectors(found.ids, "clip")) if texts else {}
        clip = [seen.get(i, {}) for i in found.ids] if seen else None
        top, folded, totals = page(prefs, ranking.Valuing(prefs, found, wanted, clip), found.ids, found.payloads, fits)
    ids, payloads = found.ids, found.payloads
    results = []
    # The valuing's colour maths again for the few shown (each row's the same), with the colour they matched.
    colours = found.colour_fit(prefs.color, top) if prefs.color else None
    shown = ranking.scores(prefs, [payloads[i] for i in top], wanted, [clip[i] for i in top] if clip else None, colours)
    for i, (_, why) in zip(top, shown):
        if folded.get(i):
            why["near_duplicates_folded"] = folded[i]
        if ids[i] in fits:
            why["feedback"] = {
                "fit": round(fits[ids[i]], 3),
                "likes": len(opinions.likes),
                "dislikes": len(opinions.dislikes),
            }
        results.append(result(ids[i], float(totals[i]), why, payloads[i]))
    return results


def page(
    prefs: ranking.Preferences,
    valuing: ranking.Valuing,
    ids: Sequence[str],
    payloads: Sequence[dict],
    fits: dict[str, float],
) -> tuple[list[int], dict[int, int], np.ndarray]:
    """The candidates shown (positions, best first, near-duplicates folded), how many each
    folded, and the candidates' totals (of those valued). The most promising are valued first:
    once they fill the page with totals that no other candidate's bound reaches, the others
    cannot change it (they would all come after its last), and their colours are never compared.
    About half of a recommendation's candidates, those that miss a wanted orientation, make or
    tag, are left so."""
    bounds = valuing.bounds()
    totals, valued = np.zeros(len(bounds)), np.zeros(len(bounds), bool)
    # Feedback is not in the bounds: a judging user's candidates are all valued.
    rows = np.flatnonzero(bounds == bounds.max()) if len(bounds) and not fits else np.arange(len(bounds))
    stated = ranking.stated(prefs)
    while True:
        totals[rows], valued[rows] = valuing.values(rows), True
        if fits:
            # Feedback counts as one more preference, next to those the user stated.
            for i in rows.tolist():
                if ids[i] in fits:
                    totals[i] = (totals[i] * stated + fits[ids[i]]) / (stated + 1)
        among = np.flatnonzero(valued)
        order = among[best_first(totals[among].tolist(), ranking.Picked(ids, among.tolist()))].tolist()
        if prefs.group_duplicates:
            top, folded = fold_near_duplicates(order, _Marks(payloads), prefs.limit)
        else:
            top, folded = order[: prefs.limit], {}
        if len(among) == len(bounds):
            return top, folded, totals
        # Those not valued yet that could reach the last shown (all of them, if the page is not full).
        reach = bounds >= totals[top[-1]] if len(top) == prefs.limit else True
        rows = np.flatnonzero(reach & ~valued)
        if not len(rows):  # every one not valued would come after the last shown
            return top, folded, totals


def best_first(totals: list[float], ids: Sequence[str]) -> list[int]:
    """Positions by total, best first, ties by id: one order however the candidates were found.
    Only the ids of tied candidates are read."""
    values = np.array(totals, float)
    order = np.argsort(-values, kind="stable")
    ranked = values[order]
    tied = np.flatnonzero(ranked[1:] == ranked[:-1])
    if not len(tied):
        return order.tolist()
    keys = [""] * len(values)  # the order among different totals needs no id
    for i in order[np.union1d(tied, tied + 1)].tolist():
        keys[i] = ids[i]
    return np.lexsort((np.array(keys, dtype=str), -values)).tolist()


class _Marks:
    """Each candidate's (perceptual hash, dominant colours), None where it has no hash, read
    only for the few the page is filled from."""

    def __init__(self, payloads: Sequence[dict]):
        self.payloads = payloads

    def __getitem__(self, i: int) -> tuple[int, list] | None:
        p = self.payloads[i]
        return (p["phash"], p.get("colors") or []) if p.get("phash") is not None else None


def fold_near_duplicates(
    order: list[int], marks: Sequence[tuple[int, list] | None] | _Marks, limit: int, within: int = perceptual.NEAR
) -> tuple[list[int], dict[int, int]]:
    """The first ``limit`` of ``order`` that are no near-duplicate of one taken before (best first),
    and for each taken, how many of its near-duplicates were passed over to fill the page.
    ``marks[i]``: candidate i's (perceptual hash, dominant colours), None where it has no hash."""
    kept: list[int] = []
    marked: list[tuple[int, tuple[int, list]]] = []  # (kept index, its (hash, colours)) for those that have them
    folded: dict[int, int] = {}
    for i in order:
        if len(kept) == limit:
            break
        mine = marks[i]
        home = None
        if mine is not None:
            home = next((k for k, theirs in marked if perceptual.alike(*mine, *theirs, within=within)), None)
        if home is not None:
            folded[home] = folded.get(home, 0) + 1
            continue
        kept.append(i)
        if mine is not None:
            marked.append((i, mine))
    return kept, folded


def similar(index, image_id: str, limit: int) -> tuple[str, list[dict]] | None:
    """More like this: in CLIP space when the image has a CLIP vector, else by colours."""
    for space in ("clip", "palette"):
        vector = index.vectors([image_id], space).get(image_id)
        if vector is not None:
            hits = index.search(space, vector, None, limit, exclude=[image_id])
            return space, [
                result(
                    h["id"],
                    h["score"],
                    {"similarity": {"to": image_id, "space": space, "cosine": round(h["score"], 4)}},
                    h["payload"],
                )
                for h in hits
            ]
    return None


def result(iid: str, score: float, why: dict, payload: dict) -> dict:
    return {
        "id": iid,
        "score": round(score, 4),
        "url": f"/cdn/show/{iid}",
        "thumbnail": f"/cdn/show/{iid}?size=thumb",
        "width": payload.get("width"),
        "height": payload.get("height"),
        "orientation": payload.get("orientation"),
        "why": why,
    }


RRF_K = 60  # reciprocal rank fusion's usual constant: rank 1 of one source ≈ ranks 2-3 of two


def search(
    index, text: str, labels: list[str], text_vector: list[float] | None, described: list[str], limit: int
) -> list[dict]:
    """Free text over three sources, fused by reciprocal rank: CLIP's text embedding against
    image embeddings (when the weights exist), the words resolved to tags, the descriptions."""
    ranked: dict[str, list[str]] = {}
    payloads: dict[str, dict] = {}
    if text_vector is not None:
        hits = index.search("clip", text_vector, None, CANDIDATES)
        ranked["clip"] = [h["id"] for h in hits]
        payloads.update((h["id"], h["payload"]) for h in hits)
    if labels:
        hits = index.search("palette", _NEUTRAL, {"tags": labels}, CANDIDATES)
        ranked["tags"] = [h["id"] for h in hits]
        payloads.update((h["id"], h["payload"]) for h in hits)
    if described:
        ranked["description"] = described
    fused: dict[str, float] = {}
    for ids in ranked.values():
        for rank, iid in enumerate(ids):
            fused[iid] = fused.get(iid, 0.0) + 1 / (RRF_K + rank + 1)
    best = sorted(fused, key=lambda i: (-fused[i], i))[:limit]
    return [
        result(
            iid,
            fused[iid],
            {
                "search": {
                    "text": text,
                    "matched_by": {source: ids.index(iid) + 1 for source, ids in ranked.items() if iid in ids},
                    "tags": labels,
                }
            },
            payloads.get(iid, {}),
        )
        for iid in best
    ]
