"""EXIF in, typed fields out. Field names follow the original system's stored columns.

Every value is typed: numbers are ``int``/``float`` (never strings), dates are ISO 8601
``YYYY-MM-DDTHH:MM:SS`` strings, text is stripped. A field the image does not carry, or carries
with an unusable or absurd value, is absent from the dict: never 0, never None.
"""

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

MAX_ISO = 10_000_000
MAX_ALTITUDE_M = 100_000
MAX_EXPOSURE_BIAS_EV = 64  # cameras offer +-5 EV; anything far beyond is garbage
_SATURATED_ISO = 65535  # EXIF 2.3: ISOSpeedRatings (a SHORT) saturates, the real value is in ISOSpeed

_BAD_VALUE = (ValueError, TypeError, ZeroDivisionError, IndexError, OverflowError, AttributeError, KeyError)


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
    for part in (_simple_fields, _iso, _flash, _lens_specification, _gps):
        try:
            exif.update(part(tags))
        except Exception as exc:  # one broken group never costs the others
            log.info("unusable EXIF fields in %s: %s", part.__name__, exc)
    rotation = exif.get("Orientation")
    if rotation in _ROTATED:
        width, height = height, width
    exif["ImageWidth"], exif["ImageHeight"] = width, height
    return ExifResult(width=width, height=height, orientation=orientation_class(width, height), exif=exif)


# --- value converters: return the typed value, or raise / return None when unusable -----------------


def _text(tag) -> str | None:
    value = tag.values if hasattr(tag, "values") else tag
    if isinstance(value, list) and all(isinstance(v, int) for v in value):  # UNDEFINED-typed text
        value = bytes(v & 0xFF for v in value)
    if isinstance(value, (bytes, bytearray)):  # exifread leaves non-UTF-8 ASCII as bytes
        value = bytes(value).decode("latin-1")
    if not isinstance(value, str):
        value = str(tag.printable if hasattr(tag, "printable") else tag)
    value = " ".join(part.strip() for part in value.split("\x00") if part.strip())
    return value or None


def _number(value) -> float:
    if isinstance(value, tuple):  # exifread wraps FLOAT/DOUBLE values in 1-tuples
        value = value[0]
    if hasattr(value, "numerator") and hasattr(value, "denominator"):
        if value.denominator == 0:
            raise ZeroDivisionError
        result = value.numerator / value.denominator
    elif isinstance(value, (str, bytes)):
        raise TypeError("text where a number belongs")
    else:
        result = float(value)
    if not math.isfinite(result):
        raise ValueError("not finite")
    return result


def _first_number(tag) -> float:
    return _number(tag.values[0])


def _positive(tag) -> float | None:
    value = _first_number(tag)
    return value if value > 0 else None


def _first_int(tag) -> int:
    value = _number(tag.values[0])
    if value != int(value):
        raise ValueError("not an integer")
    return int(value)


def _non_negative_int(tag) -> int | None:
    value = _first_int(tag)
    return value if value >= 0 else None


def _positive_int(tag) -> int | None:
    value = _first_int(tag)
    return value if value > 0 else None


def _orientation(tag) -> int | None:
    value = _first_int(tag)
    return value if 1 <= value <= 8 else None


def _exposure_bias(tag) -> float | None:
    value = _first_number(tag)
    return value if abs(value) <= MAX_EXPOSURE_BIAS_EV else None


def _subsec(tag) -> str | None:
    # kept as the digit string it is: "05" (0.05 s) and "5" (0.5 s) differ
    text = _text(tag)
    return text if text and text.isdigit() else None


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
    ("BitsPerSample", "Image BitsPerSample", _positive_int),
    ("ImageDescription", "Image ImageDescription", _text),
    ("Orientation", "Image Orientation", _orientation),
    ("Copyright", "Image Copyright", _text),
    ("DateTime", "Image DateTime", _datetime),
    ("DateTimeOriginal", "EXIF DateTimeOriginal", _datetime),
    ("DateTimeDigitized", "EXIF DateTimeDigitized", _datetime),
    ("SubSecTimeOriginal", "EXIF SubSecTimeOriginal", _subsec),
    ("ExposureTime", "EXIF ExposureTime", _positive),
    ("FNumber", "EXIF FNumber", _positive),
    ("ExposureProgram", "EXIF ExposureProgram", _non_negative_int),
    ("SubjectDistance", "EXIF SubjectDistance", _positive),  # 0 means "unknown" in EXIF
    ("ExposureBiasValue", "EXIF ExposureBiasValue", _exposure_bias),
    ("MeteringMode", "EXIF MeteringMode", _non_negative_int),
    ("FocalLength", "EXIF FocalLength", _positive),
    ("FocalLengthIn35mm", "EXIF FocalLengthIn35mmFilm", _positive_int),  # 0 means "unknown"
    ("LensMake", "EXIF LensMake", _text),
    ("LensModel", "EXIF LensModel", _text),
    ("FocalPlaneXResolution", "EXIF FocalPlaneXResolution", _positive),
    ("FocalPlaneYResolution", "EXIF FocalPlaneYResolution", _positive),
]


def _simple_fields(tags) -> dict:
    out = {}
    for name, key, convert in _FIELDS:
        tag = tags.get(key)
        if tag is None:
            continue
        try:
            value = convert(tag)
        except _BAD_VALUE:
            value = None
        if value is not None and value != "":
            out[name] = value
    return out


def _iso(tags) -> dict:
    """ISOSpeedRatings; past 65535 the SHORT saturates and EXIF 2.3 writers put the value in ISOSpeed."""
    candidates = []
    for key in ("EXIF ISOSpeedRatings", "EXIF ISOSpeed"):
        tag = tags.get(key)
        if tag is None:
            continue
        try:
            value = _first_int(tag)
        except _BAD_VALUE:
            continue
        if 0 < value <= MAX_ISO:
            candidates.append(value)
    if not candidates:
        return {}
    if candidates[0] == _SATURATED_ISO and len(candidates) > 1 and candidates[1] > _SATURATED_ISO:
        return {"ISOSpeedRatings": candidates[1]}
    return {"ISOSpeedRatings": candidates[0]}


def _flash(tags) -> dict:
    """The raw Flash value, plus its bits decoded the way the original did (easyexif)."""
    tag = tags.get("EXIF Flash")
    if tag is None:
        return {}
    try:
        value = _first_int(tag)
    except _BAD_VALUE:
        return {}
    if not 0 <= value <= 0xFFFF:
        return {}
    return {"Flash": value, "FlashReturnedLight": (value >> 1) & 0b11, "FlashMode": (value >> 3) & 0b11}


def _lens_specification(tags) -> dict:
    """LensSpecification (0xA432): min focal, max focal, f-stop at min focal, f-stop at max focal."""
    tag = tags.get("EXIF LensSpecification")
    if tag is None:
        return {}
    out = {}
    for name, value in zip(("FocalLengthMin", "FocalLengthMax", "FStopMin", "FStopMax"), tag.values[:4]):
        try:
            number = _number(value)  # 0/0 means "unknown": a zero denominator, dropped
        except _BAD_VALUE:
            continue
        if number > 0:
            out[name] = number
    return out


def _dms(tag) -> tuple[float, float, float]:
    d, m, s = (_number(v) for v in tag.values[:3])
    if min(d, m, s) < 0:
        raise ValueError("negative degrees, minutes or seconds")
    return d, m, s


def _gps(tags) -> dict:
    out: dict = {}
    for axis, limit, directions in (("Latitude", 90, "NS"), ("Longitude", 180, "EW")):
        value, ref = tags.get(f"GPS GPS{axis}"), tags.get(f"GPS GPS{axis}Ref")
        if value is None:
            continue
        try:
            d, m, s = _dms(value)
        except _BAD_VALUE:
            continue
        degrees = d + m / 60 + s / 3600
        direction = None
        if ref is not None:
            text = (_text(ref) or "").upper()[:1]
            direction = text if text and text in directions else None
        if direction == directions[1]:  # S or W
            degrees = -degrees
        if abs(degrees) > limit:  # absurd coordinates are dropped, not stored
            continue
        out[axis] = round(degrees, 7)
        out[f"{axis}Degrees"], out[f"{axis}Minutes"], out[f"{axis}Seconds"] = d, m, s
        if direction:
            out[f"{axis}Direction"] = direction
    altitude = tags.get("GPS GPSAltitude")
    if altitude is not None:
        try:
            metres = _first_number(altitude)
            ref = tags.get("GPS GPSAltitudeRef")
            if ref is not None and _first_int(ref) == 1:  # 1 = below sea level
                metres = -abs(metres)
            if abs(metres) <= MAX_ALTITUDE_M:
                out["Altitude"] = round(metres, 3)
        except _BAD_VALUE:
            pass
    dop = tags.get("GPS GPSDOP")
    if dop is not None:
        try:
            value = _first_number(dop)
            if value > 0:
                out["DOP"] = value
        except _BAD_VALUE:
            pass
    return out
