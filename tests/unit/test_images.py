"""core.images: identify/decode_rgb against a corpus of awkward inputs."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from core.images import DEFAULT_MAX_PIXELS, BadImage, decode_rgb, identify
from tests.support.photos import Photo, bilevel_png, jpeg

RED, BLUE = (255, 0, 0), (0, 0, 255)


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return jpeg(Photo("big", RED, BLUE, (2400, 1600)))


# --- not images ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [identify, decode_rgb])
def test_zero_bytes(fn):
    with pytest.raises(BadImage, match="empty"):
        fn(b"")


@pytest.mark.parametrize("fn", [identify, decode_rgb])
def test_text_file(fn):
    with pytest.raises(BadImage, match="not an image"):
        fn(b"name,colour\nsunset,orange\n" * 20)


def test_png_signature_with_garbage_after_it():
    with pytest.raises(BadImage):
        decode_rgb(b"\x89PNG\r\n\x1a\n" + b"\x07" * 200)


# --- truncated ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_side", [None, 64])
def test_truncated_jpeg_identifies_but_does_not_decode(max_side):
    data = jpeg(Photo("t", RED, BLUE, (800, 600)))
    cut = data[: len(data) // 2]
    assert identify(cut) == ("JPEG", 800, 600)  # the header is intact
    with pytest.raises(BadImage, match="truncated"):
        decode_rgb(cut, max_side=max_side)


def test_whole_jpeg_decodes():
    im = decode_rgb(jpeg(Photo("t", RED, BLUE, (80, 60))))
    assert (im.mode, im.size) == ("RGB", (80, 60))


# --- modes that are not RGB ----------------------------------------------------------------------------


def test_png_with_alpha_becomes_rgb_on_white():
    rgba = np.zeros((20, 40, 4), np.uint8)
    rgba[:, :10] = (255, 0, 0, 255)  # opaque red
    rgba[:, 10:20] = (0, 0, 0, 128)  # half-transparent black
    rgba[:, 20:] = (0, 0, 255, 0)  # fully transparent (its colour must not show)
    data = encode(Image.fromarray(rgba, "RGBA"), "PNG")
    assert identify(data) == ("PNG", 40, 20)
    im = decode_rgb(data)
    assert (im.mode, im.size) == ("RGB", (40, 20))
    px = np.asarray(im).astype(int)
    assert (px[:, :10] == (255, 0, 0)).all()
    assert (np.abs(px[:, 10:20] - 127) <= 2).all()  # black at 50% over white
    assert (px[:, 20:] == (255, 255, 255)).all()


def test_palette_png_with_transparency_becomes_white():
    im = Image.new("P", (16, 16), 0)
    im.putpalette([0, 128, 0, 200, 0, 0] + [0] * (256 * 3 - 6))
    im.paste(1, (0, 0, 8, 16))
    data = encode(im, "PNG", transparency=1)
    px = np.asarray(decode_rgb(data))
    assert (px[:, :8] == (255, 255, 255)).all()
    assert (px[:, 8:] == (0, 128, 0)).all()


def test_grey_alpha_png_becomes_rgb_on_white():
    la = np.zeros((8, 8, 2), np.uint8)
    la[:, :4] = (50, 255)
    la[:, 4:] = (50, 0)
    px = np.asarray(decode_rgb(encode(Image.fromarray(la, "LA"), "PNG")))
    assert (px[:, :4] == 50).all() and (px[:, 4:] == 255).all()


def test_16_bit_greyscale_png_decodes_to_rgb():
    values = np.linspace(0, 65535, 64 * 16).astype(np.uint16).reshape(16, 64)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"  # the case under test
    im = decode_rgb(data)
    assert (im.mode, im.size) == ("RGB", (64, 16))
    px = np.asarray(im).astype(int)
    assert (px[..., 0] == px[..., 1]).all() and (px[..., 1] == px[..., 2]).all()  # still grey
    assert np.abs(px[..., 0] - values.astype(int) // 256).max() <= 1  # scaled, not clipped
    assert px[0, 0, 0] <= 1 and px[-1, -1, 0] >= 254


def test_cmyk_jpeg_decodes_to_rgb():
    data = encode(Image.new("CMYK", (24, 24), (0, 255, 255, 0)), "JPEG", quality=95)
    im = decode_rgb(data)
    assert im.mode == "RGB"
    r, g, b = np.asarray(im).reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize("lossless", [True, False])
def test_webp(lossless):
    data = encode(Image.new("RGB", (50, 30), (10, 200, 10)), "WEBP", lossless=lossless, quality=90)
    assert identify(data) == ("WEBP", 50, 30)
    im = decode_rgb(data)
    assert (im.mode, im.size) == ("RGB", (50, 30))
    assert np.abs(np.asarray(im).astype(int) - (10, 200, 10)).max() <= (0 if lossless else 8)


def test_webp_with_alpha_becomes_white():
    im = Image.new("RGBA", (20, 20), (0, 0, 255, 0))
    im.paste((255, 0, 0, 255), (0, 0, 10, 20))
    px = np.asarray(decode_rgb(encode(im, "WEBP", lossless=True)))
    assert (px[:, :10] == RED).all() and (px[:, 10:] == 255).all()


# --- decompression bombs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [identify, decode_rgb])
def test_decompression_bomb_is_refused_quickly(fn):
    data = bilevel_png(30_000, 30_000)  # 900 megapixels
    assert len(data) < 1_000_000
    start = time.perf_counter()
    with pytest.raises(BadImage) as err:
        fn(data)
    assert time.perf_counter() - start < 1.0
    message = str(err.value).lower()
    assert "limit" in message and "decompression bomb" in message


@pytest.mark.parametrize("fn", [identify, decode_rgb])
def test_configured_max_pixels_is_enforced(fn):
    data = bilevel_png(2000, 1000)  # 2 megapixels, a 1 megapixel limit
    start = time.perf_counter()
    with pytest.raises(BadImage) as err:
        fn(data, max_pixels=1_000_000)
    assert time.perf_counter() - start < 1.0
    assert "limit of 1000000" in str(err.value) and "2000x1000" in str(err.value)


def test_image_at_the_limit_is_accepted():
    assert identify(bilevel_png(1000, 1000), max_pixels=1_000_000) == ("PNG", 1000, 1000)


def test_default_limit_is_the_configured_one_not_pillows():
    # 90.25 MP is under the 100 MP default (Settings.max_pixels), though over Pillow's own
    # ~89.5 MP warning threshold: the configured limit decides.
    assert DEFAULT_MAX_PIXELS >= 9500 * 9500
    assert identify(bilevel_png(9500, 9500)) == ("PNG", 9500, 9500)
    with pytest.raises(BadImage, match="limit"):
        identify(bilevel_png(10_100, 10_000))  # 101 MP: over the default


# --- draft decoding -------------------------------------------------------------------------------------------


def test_draft_decode_respects_max_side(big_jpeg):
    start = time.perf_counter()
    im = decode_rgb(big_jpeg, max_side=256)
    elapsed = time.perf_counter() - start
    assert im.mode == "RGB"
    assert max(im.size) <= 256 and max(im.size) >= 250
    assert im.size[0] > im.size[1]
    assert im.size[0] / im.size[1] == pytest.approx(1.5, rel=0.02)
    px = np.asarray(im).astype(int)
    assert np.abs(px[:, 0] - BLUE).max() < 40 and np.abs(px[:, -1] - RED).max() < 40  # stripe still on the left
    assert elapsed < 2.0


def test_full_decode_without_max_side(big_jpeg):
    assert decode_rgb(big_jpeg).size == (2400, 1600)


def test_max_side_larger_than_image_leaves_size_alone():
    assert decode_rgb(jpeg(Photo("s", RED, BLUE, (120, 80))), max_side=256).size == (120, 80)


@pytest.mark.parametrize("tag, stripe_at", [(6, "top"), (8, "bottom"), (3, "right"), (1, "left")])
def test_draft_decode_applies_exif_rotation(tag, stripe_at):
    # jpeg() paints the accent as a stripe over the stored image's left eighth
    data = jpeg(Photo("r", RED, BLUE, (2400, 1600), orientation_tag=tag))
    im = decode_rgb(data, max_side=256)
    assert max(im.size) <= 256
    rotated = tag in (6, 8)
    assert (im.size[1] > im.size[0]) == rotated
    px = np.asarray(im).astype(int)
    edges = {"top": px[0, :], "bottom": px[-1, :], "left": px[:, 0], "right": px[:, -1]}
    opposite = {"top": "bottom", "bottom": "top", "left": "right", "right": "left"}[stripe_at]
    assert np.abs(edges[stripe_at] - BLUE).max() < 40
    assert np.abs(edges[opposite] - RED).max() < 40


def test_non_jpeg_is_shrunk_too():
    data = encode(Image.new("RGB", (1000, 400), (1, 2, 3)), "PNG")
    im = decode_rgb(data, max_side=100)
    assert im.size == (100, 40)
