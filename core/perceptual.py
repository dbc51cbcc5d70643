"""Near-duplicates: the same photo resized, re-encoded, lightly cropped or brightened.

A perceptual hash (64 bits that survive those changes) puts copies a few bits apart and
different photos about half the bits apart, even when they share their colours. It sees only
light and dark, so two pictures of the same layout in different colours (a red and a green
poster) hash alike: near-duplicates must also share their colours (`alike`). Pure.

pHash: the signs of the 8×8 lowest frequencies of a 32×32 greyscale DCT against their median
(the algorithm of the `imagehash` package, bit for bit, without its scipy/PyWavelets stack).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

from core.colors import palette_vector

HASH_SIDE = 8
OVERSAMPLE = 4
# Hamming distance at or below which two photos are near-duplicates. Measured on the test photos
# (tests/unit/test_perceptual.py): copies resized, re-encoded at quality 30, cropped 5 %,
# brightened 20 % land 0–6 bits apart; different photos 30–36, same-colour scrambles and mirror
# images included.
NEAR = 10
# Least cosine of the two images' palette vectors (core.colors) for near-duplicates: copies score
# 0.95–1.0 on the test photos, different photos 0.5, a red and a green picture of one layout 0.03.
SAME_COLOURS = 0.9


@cache
def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n))
    m[0] /= np.sqrt(2)
    return m * np.sqrt(2 / n)


def phash(image: Image.Image) -> int:
    """The image's 64-bit perceptual hash, as a signed int64 (what PostgreSQL's bigint holds)."""
    n = HASH_SIDE * OVERSAMPLE
    grey = np.asarray(image.convert("L").resize((n, n), Image.Resampling.LANCZOS), dtype=np.float64)
    dct = _dct_matrix(n)
    low = (dct @ grey @ dct.T)[:HASH_SIDE, :HASH_SIDE]
    bits = (low > np.median(low)).flatten()
    value = int("".join("1" if b else "0" for b in bits), 2)
    return value - (1 << 64) if value >= 1 << 63 else value


def distance(a: int, b: int) -> int:
    """Bits that differ between two hashes."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def colour_likeness(a: list[dict], b: list[dict]) -> float:
    """Cosine of two images' palette vectors, from their dominant colours ([{hex, coverage}])."""
    va, vb = (np.asarray(palette_vector([(c["hex"], c["coverage"]) for c in cs])) for cs in (a, b))
    norms = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb) / norms if norms else 0.0


def alike(a_hash: int, a_colors: list[dict], b_hash: int, b_colors: list[dict], within: int = NEAR) -> bool:
    """Near-duplicates: hashes within ``within`` bits, and the same colours."""
    return distance(a_hash, b_hash) <= within and colour_likeness(a_colors or [], b_colors or []) >= SAME_COLOURS
