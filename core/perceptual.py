"""Perceptual hashes: 64 bits that survive resizing, re-encoding, light crops and brightness
changes, so near-duplicate photos sit a few bits apart while different photos (even of the same
colours) sit about half the bits apart. Pure: a PIL image in, an int out.

pHash: the signs of the 8×8 lowest frequencies of a 32×32 greyscale DCT against their median
(the algorithm of the `imagehash` package, bit for bit, without its scipy/PyWavelets stack).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image

HASH_SIDE = 8
OVERSAMPLE = 4
# Hamming distance at or below which two photos are near-duplicates. Measured on the test photos
# (tests/unit/test_perceptual.py): copies resized, re-encoded at quality 30, cropped 5 %,
# brightened 20 % land 0–6 bits apart; different photos 30–36, same-colour scrambles and mirror
# images included.
NEAR = 10


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


def near_duplicates(a: int, b: int, within: int = NEAR) -> bool:
    return distance(a, b) <= within
