"""EXIF in, typed fields out. Field names follow the original system's stored columns."""
from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

import exifread

from .images import DEFAULT_MAX_PIXELS, identify

log = logging.getLogger(__name__)

# EXIF orientations 5-8 are rotated by 90 degrees: the displayed width is the stored height.
_ROTATED = {5, 6, 7, 8}
SQUARE_TOLERANCE = 0.01


@dataclass
class ExifResult:
    width: int
    height: int
    orientation: str
    exif: dict = field(default_factory=dict)


def orientation_class(width: int, height: int) -> str:
    if abs(width - height) <= SQUARE_TOLERANCE * max(width, height):
        return "square"
    return "landscape" if width > height else "portrait"


def extract(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> ExifResult:
    _, width, height = identify(data, max_pixels)
    try:
        tags = exifread.process_file(io.BytesIO(data), details=False, debug=False)
    except Exception as exc:  # a malformed EXIF block must not cost us the image
        log.info("unreadable EXIF block: %s", exc)
        tags = {}
    exif: dict = {}
    for name, key, convert in _FIELDS:
        tag = tags.get(key)
        if tag is None:
            continue
        try:
            value = convert(tag)
        except (ValueError, TypeError, ZeroDivisionError, IndexError, OverflowError):
            value = None
        if value is not None and value != "":
            exif[name] = value
    exif.update(_gps(tags))
    rotation = exif.get("Orientation")
    if rotation in _ROTATED:
        width, height = height, width
    exif["ImageWidth"], exif["ImageHeight"] = width, height
    return ExifResult(width=width, height=height, orientation=orientation_class(width, height), exif=exif)


def _text(tag) -> str | None:
    value = str(tag.printable if hasattr(tag, "printable") else tag).replace("\x00", "").strip()
    return value or None


def _number(value) -> float:
    if hasattr(value, "numerator") and hasattr(value, "denominator"):
        if value.denominator == 0:
            raise ZeroDivisionError
        result = value.numerator / value.denominator
    else:
        result = float(value)
    if not math.isfinite(result):
        raise ValueError("not finite")
    return result


def _first_number(tag) -> float:
    return _number(tag.values[0])


def _first_int(tag) -> int:
    return int(tag.values[0])


def _datetime(tag) -> str | None:
    text = _text(tag)
    if not text:
        return None
    try:
        return datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None  # "0000:00:00 00:00:00" and friends: absent, not an error


_FIELDS = [
    ("Make", "Image Make", _text),
    ("Model", "Image Model", _text),
    ("Software", "Image Software", _text),
    ("Orientation", "Image Orientation", _first_int),
    ("DateTime", "Image DateTime", _datetime),
    ("DateTimeOriginal", "EXIF DateTimeOriginal", _datetime),
    ("DateTimeDigitized", "EXIF DateTimeDigitized", _datetime),
    ("ExposureTime", "EXIF ExposureTime", _first_number),
    ("FNumber", "EXIF FNumber", _first_number),
    ("ISOSpeedRatings", "EXIF ISOSpeedRatings", _first_int),
    ("FocalLength", "EXIF FocalLength", _first_number),
]


def _dms(tag) -> float:
    d, m, s = (_number(v) for v in tag.values[:3])
    return d + m / 60 + s / 3600


def _gps(tags) -> dict:
    out = {}
    for axis, limit, negative in (("Latitude", 90, "S"), ("Longitude", 180, "W")):
        value, ref = tags.get(f"GPS GPS{axis}"), tags.get(f"GPS GPS{axis}Ref")
        if value is None:
            continue
        try:
            degrees = _dms(value)
        except (ValueError, TypeError, ZeroDivisionError, IndexError):
            continue
        if ref is not None and (_text(ref) or "").upper().startswith(negative):
            degrees = -degrees
        if abs(degrees) <= limit:  # absurd coordinates are dropped, not stored
            out[axis] = round(degrees, 7)
    altitude = tags.get("GPS GPSAltitude")
    if altitude is not None:
        try:
            metres = _first_number(altitude)
            ref = tags.get("GPS GPSAltitudeRef")
            if ref is not None and int(ref.values[0]) == 1:  # 1 = below sea level
                metres = -metres
            if abs(metres) < 100_000:
                out["Altitude"] = round(metres, 3)
        except (ValueError, TypeError, ZeroDivisionError, IndexError):
            pass
    return out
