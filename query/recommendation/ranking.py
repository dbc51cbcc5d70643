"""Preferences in, scored and explained results out. Pure: the handler feeds it candidates
from the vector index.

Every component is scaled to [0, 1] and the score is their mean over what the person
asked for, so no single feature dominates (the original's raw camera-make number did).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from core.colors import delta_e_to, hex_to_rgb, rgb_to_lab
from core.labels import detector_labels

ORIENTATIONS = ("landscape", "portrait", "square")
MAX_TAGS = 5
MAX_TAG_CHARS = 64  # a word or two; the text model never sees more
MAX_LIMIT = 100
MAX_SIDE = 100_000
COLOR_SCALE = 20.0  # ΔE at which a colour counts for e^-1 of a perfect match
LABELS = sorted(detector_labels())


class PreferenceError(ValueError):
    pass


@dataclass
class Preferences:
    color: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: str | None = None
    tags: list[str] = field(default_factory=list)
    make: str | None = None
    limit: int = 10
    group_duplicates: bool = True  # one result per near-duplicate group


def parse_preferences(body) -> Preferences:
    if not isinstance(body, dict):
        raise PreferenceError("expected a JSON object of preferences")
    unknown = set(body) - {"color", "width", "height", "orientation", "tags", "make", "limit", "group_duplicates"}
    if unknown:
        raise PreferenceError(f"unknown preference(s): {', '.join(sorted(unknown))}")
    prefs = Preferences()
    if body.get("color") not in (None, ""):
        try:
            hex_to_rgb(str(body["color"]))
        except ValueError:
            raise PreferenceError(f'color must be "#rrggbb", got {body["color"]!r}') from None
        prefs.color = "#" + str(body["color"]).strip().lstrip("#").lower()
    for name in ("width", "height"):
        value = body.get(name)
        if value in (None, ""):
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (isinstance(value, float) and not math.isfinite(value))
            or value != int(value)
            or not 0 < value <= MAX_SIDE
        ):
            raise PreferenceError(f"{name} must be a whole number of pixels between 1 and {MAX_SIDE}, got {value!r}")
        setattr(prefs, name, int(value))
    if body.get("orientation") not in (None, ""):
        if body["orientation"] not in ORIENTATIONS:
            raise PreferenceError(f"orientation must be one of {', '.join(ORIENTATIONS)}, got {body['orientation']!r}")
        prefs.orientation = body["orientation"]
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise PreferenceError("tags must be a list of words")
    tags = [t.strip().lower() for t in tags if t.strip()]
    if len(tags) > MAX_TAGS:
        raise PreferenceError(f"at most {MAX_TAGS} tags, got {len(tags)}")
    if any(len(t) > MAX_TAG_CHARS for t in tags):
        raise PreferenceError(f"a tag is at most {MAX_TAG_CHARS} characters")
    prefs.tags = tags
    if body.get("make") not in (None, ""):
        if not isinstance(body["make"], str):
            raise PreferenceError("make must be a camera brand name")
        prefs.make = body["make"].strip().lower()
    limit = body.get("limit", 10)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise PreferenceError(f"limit must be a whole number between 1 and {MAX_LIMIT}, got {limit!r}")
    prefs.limit = limit
    group = body.get("group_duplicates")
    if group is not None:
        if not isinstance(group, bool):
            raise PreferenceError(f"group_duplicates must be true or false, got {group!r}")
        prefs.group_duplicates = group
    return prefs


# The original system's client sends {"preferences": {...}} with its own names (its web form's
# fields); `from_original` turns that into today's body. Its orientation was 0/1: nothing in the
# original's report says which is which beyond listing the choice as "landscape or portrait", so
# 0 is landscape and 1 portrait, in that order (a word is taken as well).
ORIGINAL_NAMES = {
    "dominant_color": "color",
    "imagewidth": "width",
    "imageheight": "height",
    "orientation": "orientation",
    "tags": "tags",
    "make": "make",
}
ORIGINAL_ORIENTATIONS = {0: "landscape", 1: "portrait"}
BESIDE_ORIGINAL = ("user", "limit")  # today's keys that may sit beside "preferences"


def from_original(body):
    """Today's preferences for a body in the original client's format, ``{"preferences":
    {"dominant_color", "imagewidth", "imageheight", "orientation", "tags", "make"}}`` (``user``
    and ``limit`` may sit beside it); any other body unchanged. A bad value raises
    PreferenceError naming the original's field, as `parse_preferences` would name today's."""
    if not isinstance(body, dict) or "preferences" not in body:
        return body
    original = body["preferences"]
    if not isinstance(original, dict):
        raise PreferenceError(
            f"preferences must be a JSON object of the original's fields: {', '.join(ORIGINAL_NAMES)}"
        )
    beside = sorted(set(body) - {"preferences", *BESIDE_ORIGINAL})
    if beside:
        raise PreferenceError(
            f'with the original\'s "preferences" only {" and ".join(BESIDE_ORIGINAL)} may sit beside it, '
            f"got {', '.join(beside)}; put every preference inside it, or send today's names alone"
        )
    unknown = sorted(set(original) - set(ORIGINAL_NAMES))
    if unknown:
        raise PreferenceError(
            f"unknown original preference(s): {', '.join(unknown)} (the original's are {', '.join(ORIGINAL_NAMES)})"
        )
    out = {k: v for k, v in body.items() if k != "preferences"}
    for name, today in ORIGINAL_NAMES.items():
        value = original.get(name)
        if value in (None, ""):
            continue
        value = _from_original_value(name, value)
        try:
            parse_preferences({today: value})
        except PreferenceError as exc:
            message = str(exc)
            raise PreferenceError(
                f"preferences.{name}{message[len(today) :]}"
                if message.startswith(f"{today} ")
                else f"preferences.{name}: {message}"
            ) from None
        out[today] = value
    return out


def _from_original_value(name: str, value):
    """The original's value in today's terms, where they differ; anything unexpected is passed on
    for `parse_preferences` to refuse."""
    if name in ("imagewidth", "imageheight") and isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())  # a web form's numbers may come as text
    if name == "orientation":
        key = value.strip() if isinstance(value, str) else value
        if isinstance(key, str) and key.lower() in ORIENTATIONS:
            return key.lower()
        if key in ("0", "1"):
            key = int(key)
        if type(key) is int and key in ORIGINAL_ORIENTATIONS:  # not True/False, not 0.5
            return ORIGINAL_ORIENTATIONS[key]
        raise PreferenceError(
            f"preferences.orientation must be 0 (landscape), 1 (portrait) or one of {', '.join(ORIENTATIONS)}, "
            f"got {value!r}"
        )
    if name == "tags" and isinstance(value, str):
        return [t for t in value.split(",") if t.strip()]  # "cat, person" as well as a list
    return value


def tag_resolution(words: list[str], resolver=None) -> dict[str, dict]:
    """Word → {label, score, via} and, where WordNet relates the label to others of the
    vocabulary, ``kinds`` (labels that are kinds of it) and ``broader`` (labels it is a close
    kind of). With a `TagResolver` (inference.semantics) words are matched by meaning ("puppy"
    → "dog"); without one, only exact and plural forms match."""
    if resolver is not None:
        out = {}
        for w, r in resolver.resolve(words).items():
            out[w] = {"label": r.label, "score": round(r.score, 3), "via": r.via}
            out[w].update({k: list(v) for k, v in (("kinds", r.kinds), ("broader", r.broader)) if v})
        return out
    out = {}
    for word in words:
        forms = [word, word[:-1] if word.endswith("s") else word, word[:-2] if word.endswith("es") else word]
        label = next((f for f in forms if f in LABELS), None)
        out[word] = {
            "label": label,
            "score": 1.0 if label else 0.0,
            "via": "none" if label is None else "exact" if label == word else "lemma",
        }
    return out


@dataclass(frozen=True)
class Wanted:
    """What the wanted words ask of an image's tags: word → label (None: unresolved), and per
    label the labels that meet it too (its kinds) or may (the broader ones)."""

    resolved: dict[str, str | None]
    kinds: dict[str, tuple[str, ...]] = field(default_factory=dict)
    broader: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, resolution: dict[str, dict]) -> Wanted:
        """From `tag_resolution`'s answer."""
        resolved = {w: r["label"] for w, r in resolution.items()}
        related = {k: {r["label"]: tuple(r[k]) for r in resolution.values() if r.get(k)} for k in ("kinds", "broader")}
        return cls(resolved, **related)

    def labels(self) -> list[str]:
        """Every label an image may carry to meet some word: what candidates are filtered by."""
        found = {label for label in self.resolved.values() if label}
        for label in list(found):
            found.update(self.kinds.get(label, ()), self.broader.get(label, ()))
        return sorted(found)


def resolve_tags(words: list[str], resolver=None) -> dict[str, str | None]:
    return {word: r["label"] for word, r in tag_resolution(words, resolver).items()}


def stated(prefs: Preferences) -> int:
    """How many preferences were given: each is one equally weighted part of a score."""
    return sum(map(bool, (prefs.color, prefs.orientation, prefs.width or prefs.height, prefs.tags, prefs.make)))


Resolved = Wanted | dict[str, str | None]


KEYWORDS = ("orientation", "make")  # valued by equality with the wanted value


class TagSets:
    """Distinct tag sets, numbered from 0 (no tags), and for each tag the sets that hold it:
    images share a few thousand sets, so a wanted label is looked up once per set, not per image."""

    def __init__(self) -> None:
        self.sets: list[tuple[str, ...]] = [()]
        self._codes: dict[tuple[str, ...], int] = {(): 0}
        self._holding: dict[str, list[int]] = {}
        self._arrays: dict[str, np.ndarray] = {}

    def code(self, tags) -> int:
        key = tuple(tags or ())
        code = self._codes.get(key)
        if code is None:
            code = self._codes[key] = len(self.sets)
            self.sets.append(key)
            for tag in set(key):
                self._holding.setdefault(tag, []).append(code)
                self._arrays.pop(tag, None)
        return code

    def holding(self, labels) -> np.ndarray:
        """The sets holding any of ``labels``."""
        found = []
        for label in labels:
            codes = self._arrays.get(label)
            if codes is None:
                codes = self._arrays[label] = np.array(self._holding.get(label, ()), np.int64)
            found.append(codes)
        return np.concatenate(found) if found else np.arange(0)


class Picked(Sequence):
    """``items[rows[i]]`` for each i: what a few candidates need of a long list, read when asked."""

    def __init__(self, items: Sequence, rows: list[int]):
        self.items, self.rows = items, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return self.items[self.rows[i]]


@dataclass
class Candidates:
    """Images to value, as columns: what `values` reads of each, one entry an image, with no
    dict per image read. The gateway's replica holds its images this way and hands over rows;
    anything else comes from payloads (`of`). ``keywords``: per field of KEYWORDS the images'
    codes and the vocabulary they index (0: no value); ``tag_sets.sets[tag_set[i]]``: image i's
    tags; ``lab``/``coverage``: its palette as `palette_arrays` makes them; width and height 0
    where unknown. ``ids`` and ``payloads`` (as stored) are read for the few results shown."""

    ids: Sequence[str]
    payloads: Sequence[dict]
    lab: np.ndarray
    coverage: np.ndarray
    keywords: dict[str, tuple[np.ndarray, dict]]
    tag_set: np.ndarray
    tag_sets: TagSets
    width: np.ndarray
    height: np.ndarray

    @classmethod
    def of(cls, payloads: list[dict], ids: list[str] | None = None) -> Candidates:
        keywords = {}
        for name in KEYWORDS:
            vocabulary: dict = {}
            codes = [keyword_code(vocabulary, p.get(name)) for p in payloads]
            keywords[name] = (np.array(codes, np.int64), vocabulary)
        tag_sets = TagSets()
        lab, coverage = palette_arrays([p.get("colors") or [] for p in payloads])
        return cls(
            ids=list(ids) if ids is not None else [""] * len(payloads),
            payloads=payloads,
            lab=lab,
            coverage=coverage,
            keywords=keywords,
            tag_set=np.array([tag_sets.code(p.get("tags")) for p in payloads], np.int64),
            tag_sets=tag_sets,
            width=np.array([side(p.get("width")) for p in payloads], float),
            height=np.array([side(p.get("height")) for p in payloads], float),
        )

    def __len__(self) -> int:
        return len(self.payloads)

    def colour_fit(self, wanted: str, rows: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`_colour_arrays` of the palettes at ``rows``: each row's the same, to the bit, however many are asked."""
        return _colour_arrays(wanted, self.lab[rows], self.coverage[rows])

    def has(self, field: str, value) -> np.ndarray:
        """Per image, whether its ``field`` is ``value``."""
        codes, vocabulary = self.keywords[field]
        code = vocabulary.get(value)
        return np.zeros(len(codes), bool) if code is None else codes == code

    def tagged(self, labels) -> np.ndarray:
        """Per image, whether it has any of ``labels`` among its tags."""
        return np.isin(self.tag_set, self.tag_sets.holding(labels))

    def extended(self, ids: list[str], payloads: list[dict]) -> Candidates:
        """These and more images (given as payloads)."""
        return Candidates.of([*self.payloads, *payloads], [*self.ids, *ids]) if payloads else self


def keyword_code(vocabulary: dict[str, int], value) -> int:
    """``value``'s code in ``vocabulary``, a new one if it is new; 0 for no value."""
    return 0 if value is None else vocabulary.setdefault(value, len(vocabulary) + 1)


def side(value) -> float:
    """A payload's width or height as a number, 0 where it has none (`_size_fit` reads 0 as unknown)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0.0


def values(
    prefs: Preferences,
    candidates: Candidates | list[dict],
    resolved: Resolved,
    clip: list[dict[str, float]] | None = None,
) -> list[float]:
    """`score`'s value for every candidate (`Candidates`, or their payloads), without building
    explanations (only the results shown need those), each part computed for all at once.
    ``clip``: per candidate, the wanted words CLIP finds in the image, with their probabilities."""
    found = candidates if isinstance(candidates, Candidates) else Candidates.of(candidates)
    return Valuing(prefs, found, resolved, clip).values(np.arange(len(found))).tolist()


class Valuing:
    """`score`'s values of candidates, a few at a time: every part but the colour's is computed
    for all at once (cheap), the colour's (CIEDE2000 against each palette colour, most of the
    cost) only for the rows asked. `bounds` are the values with a full colour fit: no
    candidate is worth more, so those whose bound the page's last result exceeds need no colour
    maths at all."""

    def __init__(
        self, prefs: Preferences, found: Candidates, resolved: Resolved, clip: list[dict[str, float]] | None = None
    ):
        self.prefs, self.found = prefs, found
        others = []
        if prefs.orientation:
            others.append(found.has("orientation", prefs.orientation).astype(float))
        if prefs.width or prefs.height:
            sizes = zip(found.width.tolist(), found.height.tolist())
            others.append(np.array([_size_fit(prefs.width, prefs.height, w, h)[0] for w, h in sizes]))
        if prefs.tags:
            others.append(_tags_fits(as_wanted(resolved), found, clip))
        if prefs.make:
            others.append(found.has("make", prefs.make).astype(float))
        self._others = np.array(others).reshape(len(others), len(found))

    def bounds(self) -> np.ndarray:
        """Per candidate, the most its value can be: what it would be with a colour fit of 1."""
        if not self.prefs.color:
            return self.values(np.arange(len(self.found)))
        return self._mean(np.ones(len(self.found)), self._others)

    def values(self, rows: np.ndarray) -> np.ndarray:
        """The values of the candidates at ``rows``, the same to the bit as valued all together."""
        others = self._others[:, rows]
        if not self.prefs.color:
            return np.mean(others, axis=0) if len(others) else np.zeros(len(rows))
        return self._mean(self.found.colour_fit(self.prefs.color, rows)[0], others)

    @staticmethod
    def _mean(colour: np.ndarray, others: np.ndarray) -> np.ndarray:
        # Each column summed part by part in the same order whichever columns are here.
        return np.mean(np.vstack([colour[None], others]), axis=0)


BROADER_CREDIT = 0.5  # a wanted label met only by one it is a kind of: a dog may be the puppy asked for


def as_wanted(resolved: Wanted | dict[str, str | None]) -> Wanted:
    return resolved if isinstance(resolved, Wanted) else Wanted(resolved)


def _tags_fit(wanted: Wanted, present: set[str], clip: dict[str, float]) -> tuple[float, dict[str, dict]]:
    """The mean credit of the things wanted, and for each word how it was met. A label (or a
    kind of it) among the image's tags, or CLIP finding the word in the image (``clip``: word →
    zero-shot probability, for the words it found), meet it; a broader label earns
    BROADER_CREDIT. Words resolving to one label ask for one thing ("dog", "dogs")."""
    things = _things(wanted)
    total, paths = 0.0, {}
    path: dict[str, object]
    for (kind, name), words in things.items():
        label = name if kind == "label" else None
        by = sorted(present & {label, *wanted.kinds.get(label, ())}) if label else []
        seen = {w: clip[w] for w in words if w in clip}
        broad = sorted(present & set(wanted.broader.get(label, ()))) if label else []
        if by:
            credit, path = 1.0, {"path": "tag" if label in by else "kind", "by": by}
        elif seen:
            credit, path = 1.0, {"path": "clip", "probability": round(max(seen.values()), 3)}
        elif broad:
            credit, path = BROADER_CREDIT, {"path": "broader", "by": broad}
        else:
            credit, path = 0.0, {"path": "none"}
        total += credit
        paths.update(dict.fromkeys(words, path))
    return total / max(1, len(things)), paths


def _things(wanted: Wanted) -> dict[tuple[str, str], list[str]]:
    """The things wanted, ("label", label) or ("word", an unresolved word), with their words."""
    things: dict[tuple[str, str], list[str]] = {}
    for word, label in wanted.resolved.items():
        things.setdefault(("label", label) if label else ("word", word), []).append(word)
    return things


def _tags_fits(wanted: Wanted, found: Candidates, clip: list[dict[str, float]] | None) -> np.ndarray:
    """`_tags_fit`'s value for every candidate at once."""
    things = _things(wanted)
    none = np.zeros(len(found), bool)
    total = np.zeros(len(found))
    for (kind, name), words in things.items():
        label = name if kind == "label" else None
        by = found.tagged({label, *wanted.kinds.get(label, ())}) if label else none
        broad = found.tagged(wanted.broader.get(label, ())) if label else none
        seen = np.array([any(w in c for w in words) for c in clip]) if clip else none
        total += np.where(by | seen, 1.0, np.where(broad, BROADER_CREDIT, 0.0))
    return total / max(1, len(things))


def score(prefs: Preferences, payload: dict, resolved: Resolved, clip: dict[str, float] | None = None):
    return scores(prefs, [payload], resolved, [clip or {}])[0]


def scores(
    prefs: Preferences,
    payloads: list[dict],
    resolved: Resolved,
    clip: list[dict[str, float]] | None = None,
    colours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> list[tuple[float, dict]]:
    """(score, why) per payload; the colour maths once for all of them. ``colours``: the
    payloads' `_colour_arrays`, where the caller holds their palettes as arrays (`Candidates.colour_fit`)."""
    palettes = [p.get("colors") or [] for p in payloads]
    fits = color_fits(prefs.color, palettes, colours) if prefs.color else None
    wanted, found = as_wanted(resolved), clip or [{}] * len(payloads)
    return [_score(prefs, payload, wanted, fits[i] if fits else None, found[i]) for i, payload in enumerate(payloads)]


def _score(
    prefs: Preferences, payload: dict, wanted: Wanted, colour: tuple[float, dict] | None, clip: dict[str, float]
) -> tuple[float, dict]:
    parts, why = [], {}
    if colour is not None:
        s, why["color"] = colour
        parts.append(s)
    if prefs.orientation:
        match = payload.get("orientation") == prefs.orientation
        parts.append(1.0 if match else 0.0)
        why["orientation"] = {"wanted": prefs.orientation, "actual": payload.get("orientation"), "match": match}
    if prefs.width or prefs.height:
        s, why["size"] = _size_fit(prefs.width, prefs.height, payload.get("width"), payload.get("height"))
        parts.append(s)
    if prefs.tags:
        present = set(payload.get("tags") or [])
        fit, paths = _tags_fit(wanted, present, clip)
        parts.append(fit)
        labels = {label for label in wanted.resolved.values() if label}
        met = {w: p["by"] for w, p in paths.items() if p["path"] in ("tag", "kind")}
        matched = sorted({str(wanted.resolved[w]) for w in met})
        tags = sorted({t for by in met.values() for t in by})
        why["tags"] = {
            "matched": matched,
            "missing": sorted(labels - set(matched)),
            "resolved_from": {
                label: sorted(w for w, lb in wanted.resolved.items() if lb == label) for label in matched
            },
            "sources": {tag: (payload.get("tag_sources") or {}).get(tag, []) for tag in tags},
            "unresolved": [w for w, label in wanted.resolved.items() if label is None],
            "paths": paths,
        }
    if prefs.make:
        match = payload.get("make") == prefs.make
        parts.append(1.0 if match else 0.0)
        why["make"] = {"wanted": prefs.make, "actual": payload.get("make"), "match": match}
    return (sum(parts) / len(parts) if parts else 0.0), why  # np.mean's sum for so few, in a tenth of its time


PALETTE_WIDTH = 4  # colours per stored palette (streams.enrich.colors.K); shorter ones are padded


def palette_arrays(palettes: list[list[dict]]) -> tuple[np.ndarray, np.ndarray]:
    """CIELAB [n, PALETTE_WIDTH, 3] and coverage fractions [n, PALETTE_WIDTH] (0 for padding) of
    stored palettes, decoded in one pass (stored colours are always "#rrggbb"; hex_to_rgb's
    checks, once per colour, were most of a recommendation's time)."""
    padding = [{"hex": "000000", "coverage": 0.0}]
    padded = [palette[:PALETTE_WIDTH] + padding * (PALETTE_WIDTH - len(palette)) for palette in palettes]
    hexes = "".join(c["hex"].lstrip("#") for palette in padded for c in palette)
    rgb = np.frombuffer(bytes.fromhex(hexes), np.uint8).reshape(len(palettes), PALETTE_WIDTH, 3)
    coverage = np.array([[c["coverage"] for c in palette] for palette in padded], dtype=float)
    return rgb_to_lab(rgb), coverage.reshape(len(palettes), PALETTE_WIDTH) / 100.0


def _colour_arrays(wanted: str, lab: np.ndarray, coverage: np.ndarray):
    """Fit per palette, ΔE to each of its colours (inf for padding), index of the nearest."""
    distances = delta_e_to(lab, _lab(wanted))
    distances = np.where(coverage > 0, distances, np.inf)  # padding never matches
    fits = np.minimum(1.0, np.sum(coverage * np.exp(-((distances / COLOR_SCALE) ** 2)), axis=1))
    return fits, distances, np.argmin(distances, axis=1)


@lru_cache(maxsize=4096)
def _lab(wanted: str) -> tuple[float, float, float]:
    return tuple(rgb_to_lab(hex_to_rgb(wanted)).tolist())


def color_fits(
    wanted: str, palettes: list[list[dict]], colours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> list[tuple[float, dict]]:
    """(fit, why) per palette: the wanted colour against each of its colours, weighted by
    coverage. ``colours``: their `_colour_arrays`, where they are held already."""
    fits, distances, best = colours if colours is not None else _colour_arrays(wanted, *palette_arrays(palettes))
    out: list[tuple[float, dict]] = []
    for i, palette in enumerate(palettes):
        if not palette:
            out.append((0.0, {"wanted": wanted, "matched": None}))
            continue
        b = int(best[i])
        out.append(
            (
                float(fits[i]),
                {
                    "wanted": wanted,
                    "matched": palette[b]["hex"],
                    "delta_e": round(float(distances[i, b]), 2),
                    "coverage": palette[b]["coverage"],
                },
            )
        )
    return out


def _size_fit(want_w, want_h, w, h) -> tuple[float, dict]:
    if not w or not h:
        return 0.0, {"wanted": [want_w, want_h], "actual": None}
    fit = 1.0
    if want_w:
        fit *= min(1.0, w / want_w)  # big enough is a full fit; smaller scales down
    if want_h:
        fit *= min(1.0, h / want_h)
    if want_w and want_h:
        fit *= math.exp(-abs(math.log((w / h) / (want_w / want_h))))
    return fit, {"wanted": [want_w, want_h], "actual": [w, h], "fit": round(fit, 3)}
