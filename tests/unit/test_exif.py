"""streams.enrich.exif: typed EXIF fields from real JPEGs written by tests.photos."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from streams.enrich import BadImage
from streams.enrich.exif import extract, orientation_class
from tests.photos import EXIF_IFD, GPS_IFD, Photo, expected_degrees, jpeg

RED, BLUE = (220, 30, 30), (20, 40, 200)


def photo(**kwargs) -> Photo:
    kwargs.setdefault("size", (64, 48))
    return Photo("t", RED, BLUE, **kwargs)


def resave(data: bytes, ifd0: dict | None = None, exif_ifd: dict | None = None, gps_ifd: dict | None = None) -> bytes:
    """The same JPEG with some EXIF tags added or overwritten."""
    im = Image.open(io.BytesIO(data))
    exif = im.getexif()
    for tag, value in (ifd0 or {}).items():
        exif[tag] = value
    for where, changes in ((EXIF_IFD, exif_ifd), (GPS_IFD, gps_ifd)):
        if changes:
            ifd = exif.get_ifd(where)
            for tag, value in changes.items():
                ifd[tag] = value
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def plain(fmt: str, size=(30, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(out, fmt)
    return out.getvalue()


# --- the common fields ------------------------------------------------------------------

def test_camera_fields_come_out_exactly():
    result = extract(jpeg(photo(make="NIKON CORPORATION", model="NIKON D850", taken="2019:12:31 23:59:58", iso=6400)))
    assert result.exif["Make"] == "NIKON CORPORATION"
    assert result.exif["Model"] == "NIKON D850"
    assert result.exif["DateTimeOriginal"] == "2019-12-31T23:59:58"
    assert result.exif["ISOSpeedRatings"] == 6400
    assert isinstance(result.exif["ISOSpeedRatings"], int)


def test_dimensions_and_orientation_of_an_unrotated_photo():
    result = extract(jpeg(photo(size=(120, 80))))
    assert (result.width, result.height) == (120, 80)
    assert (result.exif["ImageWidth"], result.exif["ImageHeight"]) == (120, 80)
    assert result.orientation == "landscape"
    assert "Orientation" not in result.exif


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_image_without_exif_gives_only_its_size(fmt):
    result = extract(plain(fmt, (30, 20)))
    assert result.exif == {"ImageWidth": 30, "ImageHeight": 20}
    assert (result.width, result.height, result.orientation) == (30, 20, "landscape")


def test_not_an_image_is_bad_image():
    with pytest.raises(BadImage):
        extract(b"this is a text file, not a photo\n" * 4)


# --- GPS -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lat, lon, alt", [
    (-33.8688, 151.2093, 58.0),     # Sydney: south, east
    (40.6892, -74.0445, 93.0),      # New York: north, west
    (-22.9519, -43.2105, 710.5),    # Rio: south, west
    (51.5007, 0.1246, 12.25),       # London: north, east
    (31.5590, 35.4732, -430.5),     # Dead Sea shore: below sea level
])
def test_gps_signs_follow_the_hemisphere(lat, lon, alt):
    exif = extract(jpeg(photo(gps=(lat, lon, alt)))).exif
    assert exif["Latitude"] == pytest.approx(expected_degrees(lat), abs=1e-7)
    assert exif["Longitude"] == pytest.approx(expected_degrees(lon), abs=1e-7)
    # independent of the helper: the DMS written keeps 4 decimals of seconds
    assert exif["Latitude"] == pytest.approx(lat, abs=1e-5)
    assert exif["Longitude"] == pytest.approx(lon, abs=1e-5)
    assert (exif["Latitude"] < 0) == (lat < 0)
    assert (exif["Longitude"] < 0) == (lon < 0)
    assert exif["Altitude"] == pytest.approx(alt, abs=1e-3)
    assert (exif["Altitude"] < 0) == (alt < 0)


def test_photo_without_gps_has_no_coordinates():
    exif = extract(jpeg(photo())).exif
    assert not {"Latitude", "Longitude", "Altitude"} & set(exif)


# --- orientation ------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", [6, 8])
def test_rotated_orientations_swap_width_and_height(tag):
    result = extract(jpeg(photo(size=(400, 300), orientation_tag=tag)))
    assert result.exif["Orientation"] == tag
    assert (result.width, result.height) == (300, 400)
    assert (result.exif["ImageWidth"], result.exif["ImageHeight"]) == (300, 400)
    assert result.orientation == "portrait"


@pytest.mark.parametrize("tag", [6, 8])
def test_rotated_portrait_becomes_landscape(tag):
    result = extract(jpeg(photo(size=(300, 400), orientation_tag=tag)))
    assert (result.width, result.height, result.orientation) == (400, 300, "landscape")


@pytest.mark.parametrize("tag", [1, 3])
def test_upright_and_upside_down_keep_width_and_height(tag):
    result = extract(jpeg(photo(size=(400, 300), orientation_tag=tag)))
    assert result.exif["Orientation"] == tag
    assert (result.width, result.height, result.orientation) == (400, 300, "landscape")


# --- malformed fields ---------------------------------------------------------------------------

@pytest.mark.parametrize("taken", ["0000:00:00 00:00:00", "garbage", "2021:13:45 99:61:00", "    :  :     :  :  "])
def test_unusable_capture_time_is_absent_not_an_error(taken):
    exif = extract(jpeg(photo(taken=taken))).exif
    assert "DateTimeOriginal" not in exif
    assert exif["Make"] == "Canon" and exif["ISOSpeedRatings"] == 200  # the rest still comes out


def test_absurd_latitude_is_dropped_and_the_rest_kept():
    exif = extract(jpeg(photo(gps=(200.0, 10.5, 5.0)))).exif
    assert "Latitude" not in exif
    assert exif["Longitude"] == pytest.approx(10.5, abs=1e-6)
    assert exif["Altitude"] == pytest.approx(5.0)


def test_absurd_longitude_is_dropped_and_the_rest_kept():
    exif = extract(jpeg(photo(gps=(-45.25, 250.0, 5.0)))).exif
    assert "Longitude" not in exif
    assert exif["Latitude"] == pytest.approx(-45.25, abs=1e-6)


def test_zero_denominator_rationals_are_dropped():
    data = resave(
        jpeg(photo(gps=(10.0, 20.0, 30.0))),
        exif_ifd={0x829D: IFDRational(28, 0),   # FNumber
                  0x829A: IFDRational(1, 0),    # ExposureTime
                  0x920A: IFDRational(50, 1)},  # FocalLength, valid
        gps_ifd={2: (IFDRational(10, 1), IFDRational(5, 0), IFDRational(0, 1)),  # latitude minutes x/0
                 6: IFDRational(3, 0)})         # altitude x/0
    exif = extract(data).exif
    assert "FNumber" not in exif and "ExposureTime" not in exif
    assert "Latitude" not in exif and "Altitude" not in exif
    assert exif["FocalLength"] == pytest.approx(50.0)
    assert exif["Longitude"] == pytest.approx(20.0, abs=1e-6)
    assert exif["Make"] == "Canon"


def test_valid_rationals_come_out_as_numbers():
    data = resave(jpeg(photo()), exif_ifd={0x829D: IFDRational(28, 10), 0x829A: IFDRational(1, 250)})
    exif = extract(data).exif
    assert exif["FNumber"] == pytest.approx(2.8)
    assert exif["ExposureTime"] == pytest.approx(0.004)


@pytest.mark.parametrize("where, tag, value", [
    (None, 0x010E, "x" * 60_000),          # ImageDescription
    (EXIF_IFD, 0x9286, b"\0" * 8 + b"y" * 60_000),  # UserComment
    (EXIF_IFD, 0x927C, bytes(range(256)) * 234),   # MakerNote, ~60 KB of junk
])
def test_huge_exif_block_still_parses(where, tag, value):
    base = jpeg(photo(gps=(-12.5, -77.25, 150.0), iso=800))
    data = resave(base, ifd0={tag: value}) if where is None else resave(base, exif_ifd={tag: value})
    assert len(data) > 60_000  # the block really is in there
    exif = extract(data).exif
    assert exif["Make"] == "Canon" and exif["Model"] == "EOS 5D Mark IV"
    assert exif["DateTimeOriginal"] == "2021-06-15T10:30:00"
    assert exif["ISOSpeedRatings"] == 800
    assert exif["Latitude"] == pytest.approx(-12.5, abs=1e-6)
    assert exif["Longitude"] == pytest.approx(-77.25, abs=1e-6)


# --- square tolerance ------------------------------------------------------------------------------

@pytest.mark.parametrize("width, height, expected", [
    (1000, 1000, "square"),
    (1000, 1005, "square"),
    (1005, 1000, "square"),
    (1000, 1010, "square"),
    (1000, 1100, "portrait"),
    (1100, 1000, "landscape"),
    (1000, 1020, "portrait"),
    (1020, 1000, "landscape"),
    (4000, 3000, "landscape"),
    (3000, 4000, "portrait"),
])
def test_orientation_class(width, height, expected):
    assert orientation_class(width, height) == expected


def test_rotated_square_stays_square():
    result = extract(jpeg(photo(size=(200, 201), orientation_tag=6)))
    assert (result.width, result.height, result.orientation) == (201, 200, "square")
