"""Perceptual hashes on real photographs: copies found, different photos apart."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageEnhance

from core.images import THUMB_SIDE
from core.perceptual import NEAR, SAME_COLOURS, alike, colour_likeness, distance, phash
from streams.enrich.colors import dominant_colors
from tests.support.photos import gradient, sample_photo


def flower() -> Image.Image:
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image("flower.jpg"))


def reencoded(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def cropped(image: Image.Image, share: float) -> Image.Image:
    dx, dy = round(image.width * share / 2), round(image.height * share / 2)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


COPIES = {
    "resized to a third": lambda im: im.resize((im.width // 3, im.height // 3)),
    "enlarged": lambda im: im.resize((im.width * 3 // 2, im.height * 3 // 2)),
    "re-encoded at quality 30": lambda im: reencoded(im, 30),
    "cropped 5 %": lambda im: cropped(im, 0.05),
    "brightened 20 %": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    "resized, re-encoded and brightened": lambda im: ImageEnhance.Brightness(
        reencoded(im.resize((im.width // 2, im.height // 2)), 60)
    ).enhance(0.85),
}


@pytest.mark.parametrize("photo", [sample_photo, flower], ids=["china", "flower"])
@pytest.mark.parametrize("change", list(COPIES))
def test_copies_are_near_duplicates(photo, change):
    original = photo()
    copy = COPIES[change](original)
    assert alike(*marks(original), *marks(copy)), (distance(phash(original), phash(copy)), likeness(original, copy))


def marks(image: Image.Image) -> tuple[int, list[dict]]:
    """What the pipeline keeps of an image for this: the hash and dominant colours of its thumbnail-sized decode."""
    small = image.convert("RGB")
    small.thumbnail((THUMB_SIDE, THUMB_SIDE))
    return phash(small), [c.as_dict() for c in dominant_colors(small)]


def likeness(a: Image.Image, b: Image.Image) -> float:
    return colour_likeness(marks(a)[1], marks(b)[1])


def same_colours_other_scene(image: Image.Image) -> Image.Image:
    """The photo's own pixels, scrambled in blocks: the same colours in the same amounts, another picture."""
    import numpy as np

    a = np.asarray(image)
    h, w = (a.shape[0] // 8) * 8, (a.shape[1] // 8) * 8
    blocks = a[:h, :w].reshape(8, h // 8, 8, w // 8, 3).swapaxes(1, 2).reshape(64, h // 8, w // 8, 3)
    order = np.random.default_rng(0).permutation(64)
    shuffled = blocks[order].reshape(8, 8, h // 8, w // 8, 3).swapaxes(1, 2).reshape(h, w, 3)
    return Image.fromarray(np.ascontiguousarray(shuffled))


def test_different_photos_are_far_apart_even_in_the_same_colours():
    china, bloom = sample_photo(), flower()
    pairs = {
        "two photos": (china, bloom),
        "same colours, blocks moved": (china, same_colours_other_scene(china)),
        "mirror image": (china, china.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        "gradient against its mirror": (gradient(), gradient().transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    }
    for name, (a, b) in pairs.items():
        assert distance(phash(a), phash(b)) > 2 * NEAR, name
        assert not alike(*marks(a), *marks(b)), name


def test_one_layout_in_other_colours_is_another_picture():
    # Light and dark alike, so the hashes are close; the colours tell them apart.
    layout = sample_photo().convert("L")
    red = Image.merge("RGB", (layout, layout.point(lambda v: v // 4), layout.point(lambda v: v // 4)))
    green = Image.merge("RGB", (layout.point(lambda v: v // 4), layout, layout.point(lambda v: v // 4)))
    assert distance(phash(red), phash(green)) <= NEAR
    assert likeness(red, green) < SAME_COLOURS and not alike(*marks(red), *marks(green))


def test_hash_is_a_signed_64_bit_int_and_stable():
    value = phash(sample_photo())
    assert -(1 << 63) <= value < 1 << 63
    assert phash(sample_photo()) == value
    assert distance(value, value) == 0 and distance(0, -1) == 64
