"""Colour maths: hex and sRGB, CIELAB, CIEDE2000 differences, CSS3 names, and the palette
vector that places an image's colours in the vector index. numpy, and numba for the one
difference a recommendation computes a thousand times (`delta_e_to`)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import ImageColor


def rgb_to_hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    text = value.strip().lstrip("#")
    if len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ValueError(f"not a #rrggbb colour: {value!r}")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def rgb_to_lab(rgb) -> np.ndarray:
    """sRGB (0-255, shape (..., 3)) to CIELAB under D65."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
    )
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e(lab1, lab2) -> np.ndarray:
    """CIEDE2000 colour difference, broadcasting over leading axes."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=np.float64), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=np.float64), -1, 0)
    C1, C2 = np.hypot(a1, b1), np.hypot(a2, b2)
    Cm7 = ((C1 + C2) / 2) ** 7
    G = 0.5 * (1 - np.sqrt(Cm7 / (Cm7 + 25.0**7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dLp, dCp = L2 - L1, C2p - C1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(C1p * C2p == 0, 0, dh)
    dHp = 2 * np.sqrt(C1p * C2p) * np.sin(np.radians(dh / 2))
    Lpm, Cpm = (L1 + L2) / 2, (C1p + C2p) / 2
    hsum = h1p + h2p
    hpm = np.where(
        C1p * C2p == 0,
        hsum,
        np.where(np.abs(h1p - h2p) <= 180, hsum / 2, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2)),
    )
    T = (
        1
        - 0.17 * np.cos(np.radians(hpm - 30))
        + 0.24 * np.cos(np.radians(2 * hpm))
        + 0.32 * np.cos(np.radians(3 * hpm + 6))
        - 0.20 * np.cos(np.radians(4 * hpm - 63))
    )
    SL = 1 + 0.015 * (Lpm - 50) ** 2 / np.sqrt(20 + (Lpm - 50) ** 2)
    SC, SH = 1 + 0.045 * Cpm, 1 + 0.015 * Cpm * T
    Cpm7 = Cpm**7
    RT = -2 * np.sqrt(Cpm7 / (Cpm7 + 25.0**7)) * np.sin(np.radians(60 * np.exp(-(((hpm - 275) / 25) ** 2))))
    return np.sqrt((dLp / SL) ** 2 + (dCp / SC) ** 2 + (dHp / SH) ** 2 + RT * (dCp / SC) * (dHp / SH))


def delta_e_to(labs, lab) -> np.ndarray:
    """`delta_e` from each of ``labs`` (shape (..., 3)) to the one colour ``lab``, compiled: the
    same steps as `delta_e` (to the last bit where libm's and numpy's functions agree, else
    within 1e-12), three times faster on a recommendation's 1,400 colours (383 → 126 µs), where
    numpy's 40 passes over small arrays cost more than the maths."""
    labs = np.asarray(labs, dtype=np.float64)
    L2, a2, b2 = (float(v) for v in np.asarray(lab, dtype=np.float64).reshape(3))
    flat = np.ascontiguousarray(labs.reshape(-1, 3))
    return _delta_e_kernel()(flat, L2, a2, b2).reshape(labs.shape[:-1])


def warm() -> None:
    """Compile `delta_e_to` now (or load it from numba's cache), not in the first request that needs it."""
    delta_e_to(np.zeros((1, 3)), (50.0, 0.0, 0.0))


@lru_cache(maxsize=1)
def _delta_e_kernel():
    # Compiled on first use (about a second; then from numba's cache), not at import: most
    # processes that import this module never need it.
    from core.colour_kernel import delta_e_to

    return delta_e_to


@lru_cache(maxsize=1)
def _css3() -> tuple[list[str], np.ndarray]:
    # PIL's colormap is the CSS3 named-colour table; grey/gray spellings are folded. By name,
    # not value: getrgb replaces a looked-up entry's value with its RGB tuple.
    names, rgbs = [], []
    for name in sorted(ImageColor.colormap):
        if "grey" in name:
            continue
        names.append(name)
        rgbs.append(ImageColor.getrgb(name)[:3])
    return names, rgb_to_lab(np.array(rgbs))


def css3_name(rgb) -> str:
    names, labs = _css3()
    return names[int(np.argmin(delta_e(labs, rgb_to_lab(rgb))))]


def css3_hex(name: str) -> str | None:
    """A CSS3 colour's own hex, by the names `css3_name` gives; None for another name."""
    try:
        return rgb_to_hex(ImageColor.getrgb(name)[:3])
    except ValueError:
        return None


# Palette vector: a soft histogram over fixed anchor colours. It does not depend on
# the order in which KMeans returned the clusters, weights each colour by coverage,
# and cosine similarity against a one-colour query ranks by perceptual closeness.
_ANCHOR_LEVELS = (0, 64, 128, 191, 255)
SIGMA = 20.0


@lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    grid = np.array([(r, g, b) for r in _ANCHOR_LEVELS for g in _ANCHOR_LEVELS for b in _ANCHOR_LEVELS])
    return rgb_to_lab(grid)


PALETTE_DIM = len(_ANCHOR_LEVELS) ** 3


@lru_cache(maxsize=4)
def palette_basis(rank: int) -> np.ndarray:
    """An orthonormal basis [PALETTE_DIM, rank] of the directions palette vectors vary most in:
    the leading right singular vectors of the one-colour vectors of a 17³ sRGB grid. Every
    palette is a sum of such bumps, so a few directions hold most of one (8: 0.29 of a unit
    vector's length left over, 24: 0.09, on average, for random four-colour palettes)."""
    levels = np.linspace(0, 255, 17)
    grid = np.stack(np.meshgrid(levels, levels, levels), axis=-1).reshape(-1, 3)
    bumps = np.exp(-((delta_e(_anchors()[None], rgb_to_lab(grid)[:, None]) / SIGMA) ** 2))
    bumps /= np.linalg.norm(bumps, axis=1, keepdims=True)
    return np.linalg.svd(bumps, full_matrices=False)[2][:rank].T.copy()


def palette_vector(colors: list[tuple[str, float]], compiled: bool = False) -> list[float]:
    """[(hex, coverage)] to a unit-length PALETTE_DIM vector. ``compiled``: with `delta_e_to`,
    for a process that compiled it at start (the gateway). The pipeline's workers use numpy's:
    they call this while models import in other threads, and numba importing beside them lost
    images their CLIP embedding."""
    anchors = _anchors()
    vec = np.zeros(len(anchors))
    for hex_value, coverage in colors:
        lab = rgb_to_lab(hex_to_rgb(hex_value))
        d = delta_e_to(anchors, lab) if compiled else delta_e(anchors, lab)
        vec += coverage * np.exp(-((d / SIGMA) ** 2))
    norm = np.linalg.norm(vec)
    return (vec / norm if norm > 0 else vec).round(6).tolist()


# Colour families a person filters by ("blue", not "steelblue"): hue bands over HSV, with the
# near-greys, darks and lights apart. schemas/sql/011_gallery.sql holds the same rules as the SQL
# function colour_family(hex), which the gallery's filter runs in PostgreSQL; a test holds them equal.
FAMILIES = ("red", "orange", "brown", "yellow", "green", "cyan", "blue", "purple", "pink", "black", "gray", "white")
_HUE_BANDS = (
    (15, "red"),
    (45, "orange"),
    (70, "yellow"),
    (165, "green"),
    (200, "cyan"),
    (260, "blue"),
    (290, "purple"),
    (345, "pink"),
    (360, "red"),
)


def family(hex_value: str) -> str:
    """The colour family of "#rrggbb"."""
    r, g, b = (c / 255 for c in hex_to_rgb(hex_value))
    high, low = max(r, g, b), min(r, g, b)
    spread = high - low
    if high < 0.2:
        return "black"
    if spread / high < 0.15:
        return "white" if high > 0.85 else "gray"
    if high == r:
        hue = 60 * (((g - b) / spread) % 6)
    elif high == g:
        hue = 60 * ((b - r) / spread + 2)
    else:
        hue = 60 * ((r - g) / spread + 4)
    name = next(band for limit, band in _HUE_BANDS if hue < limit)
    return "brown" if name == "orange" and high < 0.6 else name


def with_families(colors: list[dict] | None) -> list[dict]:
    """Stored swatches ({hex, coverage, name}) with the family of each, as the API shows them."""
    return [{**c, "family": family(c["hex"])} for c in colors or []]
