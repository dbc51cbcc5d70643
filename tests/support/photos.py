"""Test images written by the tests themselves: painted colours, known EXIF."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

EXIF_IFD, GPS_IFD = 0x8769, 0x8825


@dataclass
class Photo:
    name: str
    color: tuple[int, int, int]  # the colour painted over most of the picture
    accent: tuple[int, int, int]
    size: tuple[int, int]
    make: str = "Canon"
    model: str = "EOS 5D Mark IV"
    taken: str = "2021:06:15 10:30:00"
    iso: int = 200
    gps: tuple[float, float, float] | None = None  # signed lat, lon, altitude (m)
    orientation_tag: int | None = None
    extra: dict = field(default_factory=dict)
    # A dark square at this (x, y), in fractions of the size: a different picture, not a resized copy
    # (same-layout photos are near-duplicates, and recommendations fold them into one).
    spot: tuple[float, float] | None = None


def _dms(value: float) -> tuple:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60, 4)
    return (IFDRational(d, 1), IFDRational(m, 1), IFDRational(int(round(s * 10000)), 10000))


def jpeg(photo: Photo, quality: int = 92) -> bytes:
    w, h = photo.size
    im = Image.new("RGB", (w, h), photo.color)
    im.paste(photo.accent, (0, 0, max(1, w // 8), h))  # a stripe of 1/8: the main colour keeps 7/8
    if photo.spot:
        side, (x, y) = min(w, h) // 3, (round(photo.spot[0] * w), round(photo.spot[1] * h))
        im.paste((30, 30, 30), (x, y, min(w, x + side), min(h, y + side)))
    exif = Image.Exif()
    exif[0x010F] = photo.make
    exif[0x0110] = photo.model
    if photo.orientation_tag:
        exif[0x0112] = photo.orientation_tag
    sub = exif.get_ifd(EXIF_IFD)
    sub[0x9003] = photo.taken
    sub[0x8827] = photo.iso
    if photo.gps:
        lat, lon, alt = photo.gps
        gps = exif.get_ifd(GPS_IFD)
        gps[1] = "N" if lat >= 0 else "S"
        gps[2] = _dms(lat)
        gps[3] = "E" if lon >= 0 else "W"
        gps[4] = _dms(lon)
        gps[5] = 0 if alt >= 0 else 1
        gps[6] = IFDRational(int(round(abs(alt) * 100)), 100)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def expected_degrees(value: float) -> float:
    """What a reader gets back from the rational degrees/minutes/seconds `jpeg` writes."""
    d, m, s = (float(x) for x in _dms(value))
    result = d + m / 60 + s / 3600
    return round(-result if value < 0 else result, 7)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bilevel_png(width: int, height: int) -> bytes:
    """A complete, valid 1-bit PNG of an all-black width x height image: tiny file, huge area."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    rows_per_block = max(1, 4_000_000 // len(row))
    block = row * rows_per_block
    z = zlib.compressobj(1)
    parts, done = [], 0
    while done < height:
        n = min(rows_per_block, height - done)
        parts.append(z.compress(block if n == rows_per_block else row * n))
        done += n
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def gradient(width: int = 120, height: int = 80) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    rgb = np.stack(np.broadcast_arrays(x[None, :], y[:, None], np.uint8(128)), axis=-1)
    return Image.fromarray(np.ascontiguousarray(rgb), "RGB")


def sample_photo() -> Image.Image:
    """A real photograph that ships with scikit-learn."""
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image("china.jpg"))
