"""Image bytes in, validated pixels out: safe decoding shared by every stage, the gateway and
the gatherer. Anything that is not a usable image raises `BadImage` with a reason a person reads."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 100_000_000
THUMB_SIDE = 320
# PIL's format name → the content type stored with the original and served by the CDN.
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
    "MPO": "image/jpeg",
}


class BadImage(ValueError):
    """The input cannot be processed; the message is the reason a person reads in the dead letter."""


def original_key(image_id: str) -> str:
    return f"originals/{image_id}"


def thumbnail_key(image_id: str) -> str:
    return f"thumbs/{image_id}.jpg"


def identify(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str, int, int]:
    """(format, width, height) from the header alone; raises BadImage for non-images and bombs."""
    if not data:
        raise BadImage("empty file")
    try:
        with warnings.catch_warnings():
            # ``max_pixels`` below is the limit: PIL's own warning threshold (~89 MP) is lower
            # than the default 100 MP and must not reject images the configured limit allows.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, (w, h) = im.format, im.size
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise BadImage(_reason(exc)) from None
    except Exception as exc:  # PIL raises many types for malformed headers
        raise BadImage(f"unreadable image header: {exc}") from None
    if w <= 0 or h <= 0:
        raise BadImage(f"invalid image size {w}x{h}")
    if w * h > max_pixels:
        raise BadImage(f"image too large: {w}x{h} pixels exceeds the limit of {max_pixels} (decompression bomb?)")
    return fmt or "unknown", w, h


def decode_rgb(data: bytes, max_side: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Fully decoded, EXIF-rotated RGB image, shrunk so its longer side is at most ``max_side``.

    ``draft`` lets libjpeg decode at 1/2, 1/4 or 1/8 scale, which is several times
    faster than decoding full size and resizing afterwards.
    """
    identify(data, max_pixels)
    try:
        with warnings.catch_warnings():  # identify has enforced max_pixels already
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
        if max_side and opened.format == "JPEG":
            opened.draft("RGB", (max_side, max_side))
        opened.load()
        im = ImageOps.exif_transpose(opened)
        if im.mode != "RGB":
            im = _to_rgb(im)
        if max_side and max(im.size) > max_side:
            scale = max_side / max(im.size)
            im = im.resize(
                (max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.BILINEAR
            )
        return im
    except BadImage:
        raise
    except Exception as exc:
        raise BadImage(f"cannot decode image: {_reason(exc)}") from None


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return im.point(lambda v: v / 256).convert("L").convert("RGB")
    return im.convert("RGB")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, UnidentifiedImageError):
        return "not an image (unrecognised format)"
    if "truncated" in text.lower():
        return f"truncated image file ({text})"
    return text


def jpeg_thumbnail(image: Image.Image, side: int, quality: int = 82) -> bytes:
    """A decoded RGB image as a JPEG whose longer side is at most ``side``."""
    if max(image.size) > side:
        image = image.copy()
        image.thumbnail((side, side), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()
