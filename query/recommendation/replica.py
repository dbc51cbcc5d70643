"""A replica of the embedded index's colour space in the gateway's memory.

Every recommendation starts with colour searches under keyword filters. Asked of the index
service, each costs a search there plus a 72 KB JSON answer dumped by one side and parsed by
the other, under two GILs. The service publishes a change feed
(`viewfinder.embedded.index.ChangeFeed`); this module mirrors the "palette" vectors and the
filterable payload into numpy arrays, answers those searches exactly by brute force (the
embedded engine also scans one plain segment) and passes every other call on.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from connectors.vectors import IndexServiceClient, VectorIndex, open_index
from core.colors import PALETTE_DIM, palette_basis
from core.settings import Settings
from schemas.vectors import collection_vectors

from . import ranking

log = logging.getLogger("viewfinder.replica")

USING = "palette"
KEYWORDS = ("orientation", "make")  # one value per image
LISTS = ("tags",)  # several per image; a filter matches any of them
BULK = 1000  # points applied at once after which they are exempted from garbage collection


class PaletteReplica:
    """Points of one named vector space with their payload, searchable with the index's filter
    semantics: {field: value} must match, a list value matches any of its items."""

    def __init__(self, dim: int, capacity: int = 1024):
        self.dim = dim
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self.payloads: list[dict] = []
        self.matrix = np.zeros((capacity, dim), np.float32)  # unit rows
        # Each row's coordinates in a few directions (`core.colors.palette_basis` for palettes)
        # and, last, the length left out of them, as int8 (`QUANTUM`): a search passes over
        # these, a thirtieth of the matrix, and computes exact scores only for the rows their
        # bound cannot rule out. Held a direction a row (one image a column): the pass reads them
        # in 1/5 of the time.
        self.basis = _basis(dim, REDUCED)
        self.low = np.zeros((self.basis.shape[1] + 1, capacity), np.int8)  # × 1/QUANTUM
        self.present = np.zeros(capacity, bool)
        # What the ranking reads of each image (`ranking.Candidates`), made once when it arrives:
        # a request reads its candidates' columns, no payload (but the few it explains).
        self.lab = np.zeros((capacity, ranking.PALETTE_WIDTH, 3))
        self.coverage = np.zeros((capacity, ranking.PALETTE_WIDTH))
        self.codes = {f: np.zeros(capacity, np.int32) for f in KEYWORDS}
        self.vocabulary: dict[str, dict[str, int]] = {f: {} for f in KEYWORDS}  # code 0: no value
        self.sides = np.zeros((capacity, 2))  # width, height
        self.tag_sets = ranking.TagSets()
        self.tag_set = np.zeros(capacity, np.int32)  # each image's, in tag_sets
        self.members: dict[str, set[int]] = {}
        self._member_arrays: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def _grow(self, needed: int) -> None:
        if needed <= len(self.present):
            return
        size = max(needed, 2 * len(self.present))
        self.matrix = np.resize(self.matrix, (size, self.dim))
        low = np.zeros((len(self.low), size), np.int8)
        low[:, : self.low.shape[1]] = self.low
        self.low = low
        self.present = np.resize(self.present, size)
        self.lab = np.resize(self.lab, (size, *self.lab.shape[1:]))
        self.coverage = np.resize(self.coverage, (size, self.coverage.shape[1]))
        self.codes = {f: np.resize(c, size) for f, c in self.codes.items()}
        self.sides = np.resize(self.sides, (size, 2))
        self.tag_set = np.resize(self.tag_set, size)

    def apply(self, points: list[dict]) -> None:
        """Upserts {"id", "vector", "payload"}; a point seen before is replaced."""
        self._grow(len(self.ids) + len(points))
        lab, coverage = ranking.palette_arrays([(p.get("payload") or {}).get("colors") or [] for p in points])
        touched = []
        for i, point in enumerate(points):
            row = self.rows.get(point["id"])
            if row is None:
                row = self.rows[point["id"]] = len(self.ids)
                self.ids.append(point["id"])
                self.payloads.append({})
            payload = dict(point.get("payload") or {})
            self.lab[row], self.coverage[row] = lab[i], coverage[i]
            self.sides[row] = ranking.side(payload.get("width")), ranking.side(payload.get("height"))
            self.tag_set[row] = self.tag_sets.code(payload.get("tags"))
            for tag in set(self.payloads[row].get("tags") or []) - set(payload.get("tags") or []):
                self.members[tag].discard(row)
                self._member_arrays.pop(tag, None)
            for tag in payload.get("tags") or []:
                self.members.setdefault(tag, set()).add(row)
                self._member_arrays.pop(tag, None)
            self.payloads[row] = payload
            for field in KEYWORDS:
                self.codes[field][row] = ranking.keyword_code(self.vocabulary[field], payload.get(field))
            vector = point.get("vector")
            self.present[row] = vector is not None
            v = np.zeros(self.dim, np.float32) if vector is None else np.asarray(vector, np.float32)
            norm = np.linalg.norm(v)
            self.matrix[row] = v / norm if norm > 0 else v
            touched.append(row)
        reduced = self.matrix[touched] @ self.basis
        left = np.linalg.norm(self.matrix[touched] - reduced @ self.basis.T, axis=1)
        # Coordinates of unit rows lie in [-1, 1]: a fixed quantum, off by half of it at most.
        self.low[:-1, touched] = np.round(np.clip(reduced.T, -1, 1) * QUANTUM)
        self.low[-1, touched] = np.round(np.clip(left, 0, 1) * QUANTUM)

    @staticmethod
    def serves(must: dict | None) -> bool:
        return all(
            key in KEYWORDS + LISTS and all(isinstance(v, str) for v in _listed(value))
            for key, value in (must or {}).items()
        )

    def _mask(self, field: str, value) -> np.ndarray:
        n = len(self.ids)
        if field in LISTS:
            mask = np.zeros(n, bool)
            for v in _listed(value):
                mask[self._members(v)] = True
            return mask
        return _among(self.codes[field][:n], self._codes(field, value))

    def _codes(self, field: str, value) -> list[int]:
        vocabulary = self.vocabulary[field]
        return [vocabulary[v] for v in _listed(value) if v in vocabulary]

    def _members(self, tag: str) -> np.ndarray:
        rows = self._member_arrays.get(tag)
        if rows is None:
            rows = self._member_arrays[tag] = np.sort(np.fromiter(self.members.get(tag, ()), np.int64))
        return rows

    def _allowed(self, rows: np.ndarray, must: dict | None, exclude: list[str] | None) -> np.ndarray:
        """Which of ``rows`` the filter lets through (`_mask`, for a few rows)."""
        ok = self.present[rows]
        for field, value in (must or {}).items():
            if field in LISTS:
                hit = np.zeros(len(rows), bool)
                for v in _listed(value):
                    members = self._members(v)
                    if len(members):
                        hit |= members[np.minimum(np.searchsorted(members, rows), len(members) - 1)] == rows
                ok &= hit
            else:
                ok &= _among(self.codes[field][rows], self._codes(field, value))
        excluded = self._rows_of(exclude)
        if excluded:
            ok &= ~np.isin(rows, excluded)
        return ok

    def _mask_all(self, must: dict | None, exclude: list[str] | None) -> np.ndarray:
        mask = self.present[: len(self.ids)].copy()
        for field, value in (must or {}).items():
            mask &= self._mask(field, value)
        mask[self._rows_of(exclude)] = False
        return mask

    def _rows_of(self, ids: list[str] | None) -> list[int]:
        return [self.rows[iid] for iid in ids or () if iid in self.rows]

    def search(self, vector, must: dict | None = None, limit: int = 10, exclude: list[str] | None = None) -> list[dict]:
        return self.search_many([{"vector": vector, "must": must, "limit": limit, "exclude": exclude}])[0]

    def search_many(self, requests: list[dict]) -> list[list[dict]]:
        ids, payloads = self.ids, self.payloads
        return [
            [{"id": ids[r], "score": score, "payload": payloads[r]} for r, score in zip(rows.tolist(), scores.tolist())]
            for rows, scores in self._hits(requests)
        ]

    def search_union(self, requests: list[dict]) -> ranking.Candidates:
        """The images any of the searches finds, as the columns the ranking values them by."""
        found = [rows for rows, _ in self._hits(requests)]
        rows = np.sort(np.concatenate(found)) if found else np.arange(0)
        rows = rows[np.diff(rows, prepend=-1) != 0]  # np.unique's answer in a fifth of its time
        listed = rows.tolist()
        return ranking.Candidates(
            ids=ranking.Picked(self.ids, listed),
            payloads=ranking.Picked(self.payloads, listed),
            lab=self.lab[rows],
            coverage=self.coverage[rows],
            keywords={f: (self.codes[f][rows], self.vocabulary[f]) for f in ranking.KEYWORDS},
            tag_set=self.tag_set[rows],
            tag_sets=self.tag_sets,
            width=self.sides[rows, 0],
            height=self.sides[rows, 1],
        )

    def _hits(self, requests: list[dict]):
        """Per request, its hits' rows and scores, best first. Searches for one vector under
        different filters (a recommendation's narrowed and relaxed candidates) share one pass
        over the reduced rows."""
        queries: dict[tuple, _Query | None] = {}
        for request in requests:
            vector = tuple(request["vector"])
            if vector not in queries:
                queries[vector] = self._query(vector)
            query = queries[vector]
            if query is None:
                yield np.arange(0), np.zeros(0, np.float32)
            else:
                yield self._top(query, request.get("must"), request.get("limit", 10), request.get("exclude"))

    def _query(self, vector) -> _Query | None:
        n = len(self.ids)
        q = np.asarray(vector, np.float32)
        norm = np.linalg.norm(q)
        if not n or norm == 0:
            return None
        q /= norm
        reduced = q @ self.basis
        left = np.linalg.norm(q - self.basis @ reduced)
        # The score in the basis plus, by Cauchy–Schwarz, the most the rest can add, plus the
        # most the rows' rounding to int8 can hide (half a quantum a coordinate).
        weights = np.append(reduced, left).astype(np.float32)
        error = float(np.abs(weights).sum()) / (2 * QUANTUM)
        bound = _kernels().bound(weights / QUANTUM, self.low, n, error)
        # An even sample's exact scores, once for every filter the query is searched under.
        step = n // SAMPLE
        if step <= 1:  # small: no threshold needed
            return _Query(q, bound, float(left), error, np.arange(0), q[:0])
        return _Query(q, bound, float(left), error, np.arange(0, n, step), self.matrix[:n:step] @ q)

    def _top(
        self, query: _Query, must: dict | None, limit: int, exclude: list[str] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        rows, scores = self._best_rows(query, must, exclude, limit)  # rows ascending
        k = min(limit, len(rows))
        if k <= 0:
            return np.arange(0), np.zeros(0, np.float32)
        if k < len(rows):
            # Equal scores by row, also where the limit cuts them: of two searches under
            # filters one within the other, the narrower's best hold every hit of the wider's
            # that it lets through (`recommender._narrowed` counts on it).
            least = np.partition(scores, len(rows) - k)[len(rows) - k]
            above = np.flatnonzero(scores > least)
            top = np.concatenate((above, np.flatnonzero(scores == least)[: k - len(above)]))
        else:
            top = np.arange(len(rows))
        top = top[np.argsort(-scores[top], kind="stable")]
        return rows[top], scores[top]

    def _best_rows(
        self, query: _Query, must: dict | None, exclude: list[str] | None, limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows the filter lets through among which are its ``limit`` best, with their exact
        scores: those whose bound reaches a threshold that at least ``limit`` of them are known
        to score, placed from an even sample of the rows (about 2 × ``limit`` expected above it),
        the filter checked only for them; for a filter that lets few rows through, all of those."""
        n = len(self.ids)
        step = n // SAMPLE
        if step > 1:
            known = query.known[self._allowed(query.sample, must, exclude)]
            rank = -(-2 * limit // step) + 1  # the sampled row about 2 × limit rows down the ranking
            if len(known) * step >= n * FEW:
                while rank <= len(known):
                    threshold = np.partition(known, len(known) - rank)[len(known) - rank]
                    rows = np.flatnonzero(query.bound >= threshold - SLACK)
                    rows = rows[self._allowed(rows, must, exclude)]
                    scores = _kernels().exact(self.matrix, rows, query.vector)
                    # No row left out can reach the threshold; if `limit` kept ones do, the best are kept.
                    if np.count_nonzero(scores >= threshold) >= limit:
                        return rows, scores
                    rank *= 4  # the sample was unlucky: a lower threshold
        rows = np.flatnonzero(self._mask_all(must, exclude))
        if len(rows) > limit:
            # The `limit` best lower bounds (the bound less twice the most the rest can add) are
            # met by `limit` rows: no row whose bound is below the least of them can be better.
            bound = query.bound[rows]
            rest = (self.low[-1, rows] + 0.5) / QUANTUM  # at least each row's length outside the basis
            lower = bound - 2 * query.error - 2 * query.left * rest
            floor = np.partition(lower, len(lower) - limit)[len(lower) - limit]
            rows = rows[bound >= floor - 2 * SLACK]
        return rows, _kernels().exact(self.matrix, rows, query.vector)


# Rows whose exact scores place a search's threshold: 1024 took 8 % less CPU a recommendation
# than 2048 at 100k (a coarser threshold, fewer rows read for it), 512 5 % (interleaved A/B).
SAMPLE = 1024
SLACK = 1e-4  # float32 rounding of the bound and the scores
FEW = 0.05  # a filter letting fewer rows through is checked on every row
# Directions of the reduced rows (`core.colors.palette_basis`). Fewer make the pass cheaper and
# the bound looser, so more rows are scored exactly. Since the rows are held transposed (a cheap
# pass), 16 beat 8 by 11-15 % of a recommendation's CPU at 100k and 3 % at 1M; 12 by 7 % at 100k;
# 24 lost 10-15 % to 16 (interleaved A/B, one core, `make_queries`, synthetic palettes).
REDUCED = 16
# The reduced rows are held as int8 multiples of 1/QUANTUM: a looser bound than int16's lets
# about half as many rows again through to exact scores, and the pass reads half the bytes (14 %
# less CPU a recommendation at 100k, interleaved A/B).
QUANTUM = 127


@lru_cache(maxsize=1)
def _kernels():
    # Compiled on first use (or loaded from numba's cache), not at import.
    from . import kernels

    return kernels


def warm() -> None:
    """Compile the passes now, not in the first search."""
    _kernels().bound(np.zeros(1, np.float32), np.zeros((1, 1), np.int8), 1, 0.0)
    _kernels().exact(np.zeros((1, 1), np.float32), np.zeros(1, np.int64), np.zeros(1, np.float32))


@dataclass
class _Query:
    vector: np.ndarray  # unit length
    bound: np.ndarray  # per row, at least its score
    left: float  # the query's length outside the basis
    error: float  # the most the int8 rows' rounding moves a bound
    sample: np.ndarray  # every (n // SAMPLE)-th row
    known: np.ndarray  # their exact scores


def _among(codes: np.ndarray, wanted: list[int]) -> np.ndarray:
    """Per entry of ``codes``, whether it is one of ``wanted`` (np.isin, without its cost for one)."""
    return codes == wanted[0] if len(wanted) == 1 else np.isin(codes, wanted)


def _listed(value) -> list:
    """A filter's value as the list it stands for: a list matches any of its items."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _basis(dim: int, rank: int) -> np.ndarray:
    """Palettes: their own basis; other spaces (the tests' small ones): the first coordinates."""
    if dim == PALETTE_DIM:
        return palette_basis(rank).astype(np.float32)
    return np.eye(dim, min(dim, rank), dtype=np.float32)


class ReplicatedIndex:
    """A `VectorIndex` for the gateway of the embedded stack: colour searches with keyword
    filters from a local replica that is never behind what the index service acknowledged
    (its head file is read before each search), every other call to the service itself.
    Until the first full copy has arrived, everything goes to the service."""

    def __init__(self, remote, dim: int, page: int = 2000):
        self.remote, self.dim, self.page = remote, dim, page
        self.lock = threading.Lock()
        self.replica: PaletteReplica | None = None
        self.epoch: str | None = None
        self.seq = 0
        self.head_file: Path | None = None
        self._loading = False
        self._start_loading()

    def _start_loading(self) -> None:
        if not self._loading:
            self._loading = True
            threading.Thread(target=self._load, name="index-replica", daemon=True).start()

    def _load(self) -> None:
        try:
            replica = PaletteReplica(self.dim)
            answer = self.remote.changes(0, self.page, USING)
            head_file = Path(answer["head_file"])
            if _read_head(head_file) is None:
                log.info("index replica: the index service's head file is not on this host; searching remotely")
                return
            replica.apply(answer["points"])
            seq = answer["next"]
            while seq < answer["end"]:
                answer = self.remote.changes(seq, self.page, USING)
                replica.apply(answer["points"])
                seq = answer["next"]
            with self.lock:
                self.replica, self.epoch, self.seq, self.head_file = replica, answer["epoch"], seq, head_file
            _exempt_from_gc()
            log.info("index replica: %d points in memory", len(replica))
        except Exception as exc:  # the service answers every search meanwhile
            log.warning("index replica unavailable, searching remotely: %s", exc)
        finally:
            self._loading = False

    def answers_now(self) -> bool:
        """Whether the replica is loaded and caught up: a search it serves now reads no network."""
        head = _read_head(self.head_file) if self.replica is not None else None
        return head is not None and head == (self.epoch, self.seq)

    def _current(self) -> PaletteReplica | None:
        """The replica, caught up with the service's head; None when it cannot be used now."""
        if self.replica is None:
            return None
        head = _read_head(self.head_file)
        if head is None or head[0] != self.epoch:  # the service restarted: its order starts over
            with self.lock:
                self.replica = None
            self._start_loading()
            return None
        with self.lock:
            if self.replica is None:  # another thread saw the restart first
                return None
            behind = head[1] - self.seq
            while self.seq < head[1]:
                answer = self.remote.changes(self.seq, self.page, USING)
                if answer["epoch"] != self.epoch:
                    self.replica = None
                    self._start_loading()
                    return None
                self.replica.apply(answer["points"])
                self.seq = answer["next"]
            if behind >= BULK:
                _exempt_from_gc()
            return self.replica

    def _local(self, request: dict) -> bool:
        return (
            request.get("using") == USING
            and request.get("vector") is not None
            and not (request.get("positives") or request.get("negatives") or request.get("among") is not None)
            and PaletteReplica.serves(request.get("must"))
        )

    def search(self, using, vector=None, must=None, limit=10, **options) -> list[dict]:
        return self.search_many([dict(using=using, vector=vector, must=must, limit=limit, **options)])[0]

    def search_many(self, requests: list[dict]) -> list[list[dict]]:
        replica = self._current() if all(map(self._local, requests)) else None
        if replica is None:
            return self.remote.search_many(requests)
        with self.lock:
            return replica.search_many(requests)

    def search_union(self, requests: list[dict]) -> ranking.Candidates | None:
        """`PaletteReplica.search_union` where the replica can answer them all; else None (ask
        `search_many`)."""
        replica = self._current() if all(map(self._local, requests)) else None
        if replica is None:
            return None
        with self.lock:
            return replica.search_union(requests)

    def ensure(self) -> None:
        self.remote.ensure()

    def upsert(self, points: list[dict]) -> None:
        self.remote.upsert(points)

    def vectors(self, ids: list[str], using: str) -> dict[str, list[float]]:
        return self.remote.vectors(ids, using)

    def count(self) -> int:
        return self.remote.count()

    def close(self) -> None:
        self.remote.close()


def _exempt_from_gc() -> None:
    """The replica's payloads are a million long-lived objects: every full collection walked
    them, stalling the gateway ~350 ms (measured at 100k images); frozen, they are skipped."""
    gc.collect()
    gc.freeze()


def _read_head(path: Path | None) -> tuple[str, int] | None:
    # Read before every search (twice a recommendation): os calls, not pathlib's text file,
    # which cost 3x as much (16 against 5 µs, and a tenth of a loaded gateway's samples).
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            epoch, seq = os.read(fd, 256).split()
        finally:
            os.close(fd)
        return epoch.decode(), int(seq)
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def open_query_index(settings: Settings) -> VectorIndex:
    """The index as the gateway reads it: through a replica of the colour space when it is the
    embedded service and VIEWFINDER_INDEX_REPLICA is on, else as it is."""
    index = open_index(settings)
    if settings.index_replica and isinstance(index, IndexServiceClient):
        return ReplicatedIndex(index, collection_vectors(settings.clip_dim)["palette"])
    return index
