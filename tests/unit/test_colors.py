"""core.colors (CIEDE2000, names, palette vectors) and streams.enrich.colors (dominant colours)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from core.colors import (
    PALETTE_DIM,
    css3_hex,
    css3_name,
    delta_e,
    delta_e_to,
    hex_to_rgb,
    palette_vector,
    rgb_to_hex,
    rgb_to_lab,
)
from core.images import decode_rgb
from streams.enrich.colors import K, dominant_colors
from tests.support.photos import Photo, jpeg

RED, BLUE, GREEN, YELLOW = (255, 0, 0), (0, 0, 255), (0, 160, 0), (250, 220, 0)

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Table 1: (Lab1, Lab2, published ΔE00).
SHARMA_2005 = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def painted(main, accent, size=(256, 256), accent_fraction=8) -> Image.Image:
    """``main`` everywhere but a vertical stripe of 1/accent_fraction in ``accent``."""
    im = Image.new("RGB", size, main)
    im.paste(accent, (0, 0, size[0] // accent_fraction, size[1]))
    return im


def de(rgb1, rgb2) -> float:
    return float(delta_e(rgb_to_lab(rgb1), rgb_to_lab(rgb2)))


def cosine(u, v) -> float:
    u, v = np.asarray(u), np.asarray(v)
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


# --- dominant colours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "main, accent, size",
    [
        (RED, BLUE, (256, 256)),
        ((220, 20, 60), (0, 0, 255), (400, 300)),
        ((40, 120, 200), YELLOW, (300, 400)),
        (GREEN, (250, 250, 250), (640, 480)),
    ],
)
def test_main_colour_of_a_painted_image(main, accent, size):
    swatches = dominant_colors(painted(main, accent, size))
    assert 1 <= len(swatches) <= K
    assert de(hex_to_rgb(swatches[0].hex), main) < 5
    assert swatches[0].coverage == pytest.approx(87.5, abs=3)
    # the accent is found as well, as the second colour
    assert de(hex_to_rgb(swatches[1].hex), accent) < 5
    assert swatches[1].coverage == pytest.approx(12.5, abs=3)
    coverages = [s.coverage for s in swatches]
    assert coverages == sorted(coverages, reverse=True)
    assert sum(coverages) == pytest.approx(100, abs=0.1)


def test_main_colour_survives_jpeg_and_decoding():
    main = (200, 30, 30)
    im = decode_rgb(jpeg(Photo("j", main, BLUE, (400, 300))), max_side=256)
    swatches = dominant_colors(im)
    assert de(hex_to_rgb(swatches[0].hex), main) < 5
    assert swatches[0].coverage == pytest.approx(87.5, abs=3)
    assert swatches[0].name == css3_name(hex_to_rgb(swatches[0].hex))


def test_dominant_colours_are_deterministic():
    rng = np.random.default_rng(7)
    im = Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8), "RGB")
    first, second = dominant_colors(im), dominant_colors(im)
    assert first == second
    assert len(first) == K


def test_at_most_k_swatches_from_many_colours():
    a = np.zeros((64, 64, 3), np.uint8)
    for i, colour in enumerate([RED, BLUE, GREEN, YELLOW, (255, 255, 255), (0, 0, 0), (128, 0, 128), (0, 200, 200)]):
        a[i * 8 : (i + 1) * 8] = colour
    swatches = dominant_colors(Image.fromarray(a))
    assert len(swatches) == K
    assert [s.coverage for s in swatches] == sorted((s.coverage for s in swatches), reverse=True)


def test_four_equal_quadrants():
    a = np.zeros((64, 64, 3), np.uint8)
    a[:32, :32], a[:32, 32:], a[32:, :32], a[32:, 32:] = RED, GREEN, BLUE, YELLOW
    swatches = dominant_colors(Image.fromarray(a))
    assert sorted(s.hex for s in swatches) == sorted(rgb_to_hex(c) for c in (RED, GREEN, BLUE, YELLOW))
    assert all(s.coverage == pytest.approx(25.0, abs=0.01) for s in swatches)


def test_flat_image_is_one_swatch():
    swatches = dominant_colors(Image.new("RGB", (100, 70), (12, 34, 56)))
    assert len(swatches) == 1
    assert swatches[0].hex == "#0c2238"
    assert swatches[0].coverage == pytest.approx(100.0)


def test_two_colour_image_is_two_swatches():
    a = np.zeros((64, 64, 3), np.uint8)
    a[:, :48] = RED
    a[:, 48:] = BLUE
    swatches = dominant_colors(Image.fromarray(a))
    assert [(s.hex, s.coverage, s.name) for s in swatches] == [("#ff0000", 75.0, "red"), ("#0000ff", 25.0, "blue")]


def test_non_rgb_input_is_accepted():
    swatches = dominant_colors(Image.new("L", (40, 40), 200))
    assert len(swatches) == 1 and swatches[0].hex == "#c8c8c8"


def test_swatch_as_dict():
    swatch = dominant_colors(Image.new("RGB", (8, 8), RED))[0]
    assert swatch.as_dict() == {"hex": "#ff0000", "coverage": 100.0, "name": "red"}


# --- names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rgb, name",
    [
        ((255, 0, 0), "red"),
        ((250, 6, 4), "red"),
        ((0, 0, 255), "blue"),
        ((0, 128, 0), "green"),
        ((255, 255, 255), "white"),
        ((0, 0, 0), "black"),
        ((128, 128, 128), "gray"),
        ((255, 165, 0), "orange"),
    ],
)
def test_css3_name(rgb, name):
    assert css3_name(rgb) == name


# --- CIEDE2000 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA_2005)
def test_delta_e_matches_sharma_2005(lab1, lab2, expected):
    assert float(delta_e(lab1, lab2)) == pytest.approx(expected, abs=1e-3)
    assert float(delta_e(lab2, lab1)) == pytest.approx(expected, abs=1e-3)  # symmetric


def test_delta_e_broadcasts_over_pairs():
    lab1 = np.array([p[0] for p in SHARMA_2005])
    lab2 = np.array([p[1] for p in SHARMA_2005])
    expected = np.array([p[2] for p in SHARMA_2005])
    got = delta_e(lab1, lab2)
    assert got.shape == (len(SHARMA_2005),)
    assert np.abs(got - expected).max() < 1e-3
    # one colour against many
    many = delta_e(lab2, lab1[0])
    assert many.shape == (len(SHARMA_2005),)
    assert many[0] == pytest.approx(expected[0], abs=1e-3)


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA_2005)
def test_compiled_delta_e_matches_sharma_2005(lab1, lab2, expected):
    assert float(delta_e_to(np.array([lab1]), lab2)[0]) == pytest.approx(expected, abs=1e-3)


def test_compiled_delta_e_is_numpys():
    rng = np.random.default_rng(4)
    # Every sRGB corner and grey (zero chroma, the formula's special cases) and random colours,
    # against colours with the hue on either side of the wrap, and greys.
    labs = np.concatenate(
        [
            rgb_to_lab(rng.integers(0, 256, (2999, 3))),  # 2999 + 27 + 18: 761 palettes of 4
            rgb_to_lab(np.array(list(itertools.product((0, 128, 255), repeat=3)))),
            rgb_to_lab(np.repeat(np.arange(0, 256, 15)[:, None], 3, axis=1)),
        ]
    ).reshape(-1, 4, 3)
    for target in [*rgb_to_lab(rng.integers(0, 256, (20, 3))), rgb_to_lab((128, 128, 128)), (50.0, 0.0, -1e-9)]:
        got, want = delta_e_to(labs, target), delta_e(labs, target)
        assert got.shape == want.shape == labs.shape[:-1]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_delta_e_of_identical_colours_is_zero():
    assert float(delta_e((53.2, 80.1, 67.2), (53.2, 80.1, 67.2))) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "rgb, lab",
    [
        ((255, 255, 255), (100.0, 0.0, 0.0)),
        ((0, 0, 0), (0.0, 0.0, 0.0)),
        ((255, 0, 0), (53.24, 80.09, 67.20)),  # sRGB primaries under D65, published values
        ((0, 255, 0), (87.73, -86.18, 83.18)),
        ((0, 0, 255), (32.30, 79.19, -107.86)),
    ],
)
def test_rgb_to_lab(rgb, lab):
    assert np.allclose(rgb_to_lab(rgb), lab, atol=0.05)


# --- hex -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, rgb",
    [("#ff8000", (255, 128, 0)), ("#FF8000", (255, 128, 0)), ("#000000", (0, 0, 0)), ("#0a0B0c", (10, 11, 12))],
)
def test_hex_to_rgb(text, rgb):
    assert hex_to_rgb(text) == rgb
    assert rgb_to_hex(rgb) == text.lower()


@pytest.mark.parametrize("bad", ["red", "#12345", "#1234567", "#gggggg", "", "#", "#12 456", "rgb(1,2,3)"])
def test_hex_to_rgb_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        hex_to_rgb(bad)


# --- palette vectors --------------------------------------------------------------------------------------------

PALETTE = [("#ff0000", 60.0), ("#00a000", 25.0), ("#0000ff", 10.0), ("#123456", 5.0)]


def test_palette_vector_is_order_invariant():
    vectors = [palette_vector(list(order)) for order in itertools.permutations(PALETTE)]
    assert all(v == vectors[0] for v in vectors)


def test_palette_vector_is_unit_length():
    for colours in (PALETTE, [("#ff0000", 100.0)], [("#808080", 50.0), ("#ffffff", 50.0)]):
        vec = palette_vector(colours)
        assert len(vec) == PALETTE_DIM
        assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
        assert min(vec) >= 0


def test_palette_vector_ranks_by_colour():
    query = palette_vector([("#ff0000", 100.0)])
    red_dominated = palette_vector([("#e01010", 80.0), ("#0000ff", 20.0)])
    blue_dominated = palette_vector([("#0000ff", 80.0), ("#e01010", 20.0)])
    orange = palette_vector([("#ff8000", 100.0)])
    green = palette_vector([("#00ff00", 100.0)])
    assert cosine(query, red_dominated) > cosine(query, blue_dominated)
    assert cosine(query, orange) > cosine(query, green)  # nearer hue, more similar
    assert cosine(query, query) == pytest.approx(1.0, abs=1e-5)


def test_palette_vector_weighs_by_coverage():
    query = palette_vector([("#0000ff", 100.0)])
    mostly_blue = palette_vector([("#0000ff", 70.0), ("#ffff00", 30.0)])
    half_blue = palette_vector([("#0000ff", 50.0), ("#ffff00", 50.0)])
    assert cosine(query, mostly_blue) > cosine(query, half_blue)


def test_palette_vector_rejects_bad_hex():
    with pytest.raises(ValueError):
        palette_vector([("red", 100.0)])


def test_css3_names_survive_pil_having_looked_colours_up_before():
    from PIL import ImageColor

    from core import colors

    ImageColor.getrgb("crimson")  # PIL then keeps crimson's value as a tuple in its colormap
    colors._css3.cache_clear()
    assert colors.css3_name((220, 20, 60)) == "crimson"


def test_css3_hex_is_the_named_colours_own():
    assert css3_hex("red") == "#ff0000"
    assert css3_hex("darkslategray") == "#2f4f4f"
    assert css3_hex("not-a-colour") is None
