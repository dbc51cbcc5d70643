"""core.exif: typed EXIF fields from real JPEGs written by tests.photos."""

from __future__ import annotations

import csv
import io
import json
import math
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from PIL.TiffImagePlugin import IFDRational as R

from core.exif import extract, orientation_class
from core.images import BadImage
from tests.support.photos import EXIF_IFD, GPS_IFD, Photo, expected_degrees, jpeg

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


@pytest.mark.parametrize(
    "lat, lon, alt",
    [
        (-33.8688, 151.2093, 58.0),  # Sydney: south, east
        (40.6892, -74.0445, 93.0),  # New York: north, west
        (-22.9519, -43.2105, 710.5),  # Rio: south, west
        (51.5007, 0.1246, 12.25),  # London: north, east
        (31.5590, 35.4732, -430.5),  # Dead Sea shore: below sea level
    ],
)
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
        exif_ifd={
            0x829D: IFDRational(28, 0),  # FNumber
            0x829A: IFDRational(1, 0),  # ExposureTime
            0x920A: IFDRational(50, 1),
        },  # FocalLength, valid
        gps_ifd={
            2: (IFDRational(10, 1), IFDRational(5, 0), IFDRational(0, 1)),  # latitude minutes x/0
            6: IFDRational(3, 0),
        },
    )  # altitude x/0
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


@pytest.mark.parametrize(
    "where, tag, value",
    [
        (None, 0x010E, "x" * 60_000),  # ImageDescription
        (EXIF_IFD, 0x9286, b"\0" * 8 + b"y" * 60_000),  # UserComment
        (EXIF_IFD, 0x927C, bytes(range(256)) * 234),  # MakerNote, ~60 KB of junk
    ],
)
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


@pytest.mark.parametrize(
    "width, height, expected",
    [
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
    ],
)
def test_orientation_class(width, height, expected):
    assert orientation_class(width, height) == expected


def test_rotated_square_stays_square():
    result = extract(jpeg(photo(size=(200, 201), orientation_tag=6)))
    assert (result.width, result.height, result.orientation) == (201, 200, "square")


# --- every field the original stored ------------------------------------------------------------

ORIGINAL_FIELDS = [
    "Make",
    "Model",
    "Software",
    "BitsPerSample",
    "ImageWidth",
    "ImageHeight",
    "ImageDescription",
    "Orientation",
    "Copyright",
    "DateTime",
    "DateTimeOriginal",
    "DateTimeDigitized",
    "SubSecTimeOriginal",
    "ExposureTime",
    "FNumber",
    "ExposureProgram",
    "ISOSpeedRatings",
    "SubjectDistance",
    "ExposureBiasValue",
    "Flash",
    "FlashReturnedLight",
    "FlashMode",
    "MeteringMode",
    "FocalLength",
    "FocalLengthIn35mm",
    "Latitude",
    "LatitudeDegrees",
    "LatitudeMinutes",
    "LatitudeSeconds",
    "LatitudeDirection",
    "Longitude",
    "LongitudeDegrees",
    "LongitudeMinutes",
    "LongitudeSeconds",
    "LongitudeDirection",
    "Altitude",
    "DOP",
    "FocalLengthMin",
    "FocalLengthMax",
    "FStopMin",
    "FStopMax",
    "LensMake",
    "LensModel",
    "FocalPlaneXResolution",
    "FocalPlaneYResolution",
]
TEXT_FIELDS = {
    "Make",
    "Model",
    "Software",
    "ImageDescription",
    "Copyright",
    "DateTime",
    "DateTimeOriginal",
    "DateTimeDigitized",
    "SubSecTimeOriginal",
    "LatitudeDirection",
    "LongitudeDirection",
    "LensMake",
    "LensModel",
}
INT_FIELDS = {
    "BitsPerSample",
    "ImageWidth",
    "ImageHeight",
    "Orientation",
    "ExposureProgram",
    "ISOSpeedRatings",
    "Flash",
    "FlashReturnedLight",
    "FlashMode",
    "MeteringMode",
    "FocalLengthIn35mm",
}


def full_photo() -> bytes:
    """A photo carrying every one of the original's fields."""
    return resave(
        jpeg(photo(gps=(-33.8688, 151.2093, 58.0), iso=1600, orientation_tag=1)),
        ifd0={
            0x0102: (8, 8, 8),  # BitsPerSample
            0x010E: "  Harbour at dawn \x00",  # ImageDescription
            0x8298: "Jane Doe",  # Copyright
            0x0131: "Adobe Lightroom 7.0",  # Software
            0x0132: "2020:01:02 03:04:05",
        },  # DateTime
        exif_ifd={
            0x9004: "2021:06:15 10:30:01",  # DateTimeDigitized
            0x9291: "05",  # SubSecTimeOriginal
            0x829A: R(1, 250),
            0x829D: R(28, 10),  # ExposureTime, FNumber
            0x8822: 3,  # ExposureProgram: aperture priority
            0x9206: R(35, 10),  # SubjectDistance
            0x9204: R(-2, 3),  # ExposureBiasValue
            0x9209: 0x19,  # Flash: fired, auto mode
            0x9207: 5,  # MeteringMode: pattern
            0x920A: R(50, 1),  # FocalLength
            0xA405: 80,  # FocalLengthIn35mmFilm
            0xA432: (R(24, 1), R(105, 1), R(4, 1), R(4, 1)),  # LensSpecification
            0xA433: "Canon",
            0xA434: "EF 24-105mm f/4L IS USM",
            0xA20E: R(1520, 1),
            0xA20F: R(1520, 1),
        },
        gps_ifd={11: R(43, 10)},
    )  # GPSDOP


def test_every_original_field_comes_out_with_its_type():
    exif = extract(full_photo()).exif
    assert set(exif) == set(ORIGINAL_FIELDS)
    for name, value in exif.items():
        if name in TEXT_FIELDS:
            assert isinstance(value, str) and value == value.strip() and "\x00" not in value, name
        elif name in INT_FIELDS:
            assert type(value) is int, name
        else:
            assert type(value) is float and math.isfinite(value), name
    json.dumps(exif, allow_nan=False)  # stored as JSON as it is


def test_text_fields_are_stripped():
    exif = extract(full_photo()).exif
    assert exif["ImageDescription"] == "Harbour at dawn"
    assert exif["Copyright"] == "Jane Doe"
    assert exif["Software"] == "Adobe Lightroom 7.0"
    assert exif["LensMake"] == "Canon" and exif["LensModel"] == "EF 24-105mm f/4L IS USM"


def test_blank_text_is_absent():
    exif = extract(resave(jpeg(photo()), ifd0={0x010E: "                               ", 0x8298: " \x00 "})).exif
    assert "ImageDescription" not in exif and "Copyright" not in exif


def test_dates_and_subseconds():
    exif = extract(full_photo()).exif
    assert exif["DateTime"] == "2020-01-02T03:04:05"
    assert exif["DateTimeOriginal"] == "2021-06-15T10:30:00"
    assert exif["DateTimeDigitized"] == "2021-06-15T10:30:01"
    assert exif["SubSecTimeOriginal"] == "05"  # a digit string: "05" is 0.05 s, "5" would be 0.5 s


def test_exposure_fields():
    exif = extract(full_photo()).exif
    assert exif["ExposureTime"] == pytest.approx(0.004)
    assert exif["FNumber"] == pytest.approx(2.8)
    assert exif["ExposureProgram"] == 3
    assert exif["MeteringMode"] == 5
    assert exif["ISOSpeedRatings"] == 1600
    assert exif["SubjectDistance"] == pytest.approx(3.5)
    assert exif["ExposureBiasValue"] == pytest.approx(-2 / 3)
    assert exif["BitsPerSample"] == 8


def test_focal_lengths_and_lens_specification():
    exif = extract(full_photo()).exif
    assert exif["FocalLength"] == pytest.approx(50.0)
    assert exif["FocalLengthIn35mm"] == 80
    assert (exif["FocalLengthMin"], exif["FocalLengthMax"]) == (24.0, 105.0)
    assert (exif["FStopMin"], exif["FStopMax"]) == (4.0, 4.0)
    assert exif["FocalPlaneXResolution"] == exif["FocalPlaneYResolution"] == 1520.0


def test_lens_specification_of_a_prime_with_unknown_parts():
    # a 35mm f/1.4 prime whose writer left the f-stop at the long end unknown (0/0)
    data = resave(jpeg(photo()), exif_ifd={0xA432: (R(35, 1), R(35, 1), R(14, 10), R(0, 0))})
    exif = extract(data).exif
    assert exif["FocalLengthMin"] == exif["FocalLengthMax"] == 35.0
    assert exif["FStopMin"] == pytest.approx(1.4)
    assert "FStopMax" not in exif


@pytest.mark.parametrize(
    "raw, returned, mode",
    [
        (0x00, 0, 0),  # no flash
        (0x01, 0, 0),  # fired
        (0x05, 2, 0),  # fired, strobe return light not detected
        (0x07, 3, 0),  # fired, strobe return light detected
        (0x10, 0, 2),  # off, compulsory suppression
        (0x18, 0, 3),  # auto, did not fire
        (0x19, 0, 3),  # auto, fired
        (0x1F, 3, 3),  # auto, fired, return light detected
        (0x09, 0, 1),  # compulsory firing
        (0x59, 0, 3),  # auto, fired, red-eye reduction
    ],
)
def test_flash_is_raw_with_its_bits_decoded(raw, returned, mode):
    exif = extract(resave(jpeg(photo()), exif_ifd={0x9209: raw})).exif
    assert exif["Flash"] == raw
    assert exif["FlashReturnedLight"] == returned
    assert exif["FlashMode"] == mode


def test_photo_without_the_new_tags_has_none_of_them():
    exif = extract(jpeg(photo())).exif
    assert set(exif) == {"Make", "Model", "DateTimeOriginal", "ISOSpeedRatings", "ImageWidth", "ImageHeight"}


@pytest.mark.parametrize(
    "lat, lon, lat_dir, lon_dir",
    [
        (-33.8688, 151.2093, "S", "E"),
        (40.6892, -74.0445, "N", "W"),
    ],
)
def test_gps_dms_parts_directions_and_dop(lat, lon, lat_dir, lon_dir):
    data = resave(jpeg(photo(gps=(lat, lon, 10.0))), gps_ifd={11: R(43, 10)})
    exif = extract(data).exif
    for axis, value, direction in (("Latitude", lat, lat_dir), ("Longitude", lon, lon_dir)):
        d, m, s = exif[f"{axis}Degrees"], exif[f"{axis}Minutes"], exif[f"{axis}Seconds"]
        assert all(type(v) is float and v >= 0 for v in (d, m, s))
        assert d == int(abs(value))
        assert d + m / 60 + s / 3600 == pytest.approx(abs(value), abs=1e-5)
        assert exif[f"{axis}Direction"] == direction
    assert exif["DOP"] == pytest.approx(4.3)


def test_gps_written_as_decimal_minutes():
    # some phones write degrees, decimal minutes and 0 seconds (seen in the original's data)
    data = resave(
        jpeg(photo()),
        gps_ifd={1: "N", 2: (R(33, 1), R(316201, 10000), R(0, 1)), 3: "W", 4: (R(117, 1), R(463125, 10000), R(0, 1))},
    )
    exif = extract(data).exif
    assert exif["Latitude"] == pytest.approx(33.527002, abs=1e-6)
    assert exif["Longitude"] == pytest.approx(-117.771875, abs=1e-6)
    assert exif["LatitudeMinutes"] == pytest.approx(31.6201) and exif["LatitudeSeconds"] == 0.0


def test_gps_without_direction_is_unsigned_and_has_no_direction():
    data = resave(jpeg(photo()), gps_ifd={2: (R(12, 1), R(30, 1), R(0, 1))})
    exif = extract(data).exif
    assert exif["Latitude"] == pytest.approx(12.5)
    assert "LatitudeDirection" not in exif and "Longitude" not in exif


def test_altitude_below_sea_level_is_negative():
    exif = extract(jpeg(photo(gps=(31.559, 35.4732, -430.5)))).exif
    assert exif["Altitude"] == pytest.approx(-430.5)


# --- absurd values are dropped, the rest kept --------------------------------------------------------


@pytest.mark.parametrize(
    "exif_ifd, dropped",
    [
        ({0x829A: R(-1, 250)}, "ExposureTime"),  # negative exposure
        ({0x829D: R(-28, 10)}, "FNumber"),  # negative f-number
        ({0x829D: float("nan")}, "FNumber"),  # written as a DOUBLE NaN
        ({0x829D: float("inf")}, "FNumber"),  # written as a DOUBLE infinity
        ({0x8827: -100}, "ISOSpeedRatings"),  # negative ISO (SSHORT)
        ({0x8827: 20_000_000}, "ISOSpeedRatings"),  # ISO beyond 10 000 000 (LONG)
        ({0x9204: R(1000, 1)}, "ExposureBiasValue"),  # +1000 EV
        ({0xA405: 0}, "FocalLengthIn35mm"),  # 0 means unknown
        ({0x9206: R(0, 1)}, "SubjectDistance"),  # 0 means unknown
        ({0x9209: -1}, "Flash"),  # not a flash bit field
    ],
)
def test_absurd_values_are_dropped(exif_ifd, dropped):
    exif = extract(resave(jpeg(photo(gps=(10.0, 20.0, 30.0))), exif_ifd=exif_ifd)).exif
    assert dropped not in exif
    if dropped == "Flash":
        assert "FlashMode" not in exif and "FlashReturnedLight" not in exif
    assert exif["Make"] == "Canon" and exif["Latitude"] == pytest.approx(10.0)


def test_finite_double_values_are_read():
    exif = extract(resave(jpeg(photo()), exif_ifd={0x829D: 2.8})).exif
    assert exif["FNumber"] == pytest.approx(2.8) and type(exif["FNumber"]) is float


def test_altitude_beyond_100_km_is_dropped():
    exif = extract(jpeg(photo(gps=(10.0, 20.0, 150_000.0)))).exif
    assert "Altitude" not in exif
    assert exif["Latitude"] == pytest.approx(10.0) and exif["Longitude"] == pytest.approx(20.0)


def test_absurd_latitude_drops_its_parts_too():
    exif = extract(jpeg(photo(gps=(200.0, 10.5, 5.0)))).exif
    assert not {"Latitude", "LatitudeDegrees", "LatitudeMinutes", "LatitudeSeconds", "LatitudeDirection"} & set(exif)
    assert exif["LongitudeDirection"] == "E" and exif["LongitudeDegrees"] == 10.0


def test_invalid_orientation_is_absent_and_does_not_rotate():
    result = extract(resave(jpeg(photo(size=(400, 300))), ifd0={0x0112: 9}))
    assert "Orientation" not in result.exif
    assert (result.width, result.height) == (400, 300)


def test_iso_above_65535_comes_from_iso_speed():
    # EXIF 2.3: ISOSpeedRatings (a SHORT) saturates at 65535 and the real value goes to ISOSpeed
    exif = extract(resave(jpeg(photo()), exif_ifd={0x8827: 65535, 0x8830: 3, 0x8833: 204800})).exif
    assert exif["ISOSpeedRatings"] == 204800


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_garbage_exif_block_still_gives_the_pixel_size():
    good = jpeg(photo(size=(50, 40)))
    junk = b"Exif\x00\x00II*\x00" + bytes(range(256)) * 4
    segment = b"\xff\xe1" + (len(junk) + 2).to_bytes(2, "big") + junk
    data = good[:2] + segment + good[2:]  # right after SOI, ahead of the real EXIF
    result = extract(data)
    assert (result.width, result.height) == (50, 40)
    assert (result.exif["ImageWidth"], result.exif["ImageHeight"]) == (50, 40)


# --- real rows from the original system ------------------------------------------------------------

SEED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "seed-exif-975.csv"
_DIRECTIONS = {"78": "N", "83": "S", "69": "E", "87": "W"}


def _seed_rows(plain_count: int = 12, gps_count: int = 8) -> list[dict]:
    """Well-formed rows of the original's export (some rows are shifted by unquoted commas)."""
    with SEED.open(newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        header = next(reader)
        plain_rows, gps_rows = [], []
        for values in reader:
            if len(values) != len(header):
                continue
            row = dict(zip(header, values))
            try:
                datetime_ok = len(row["DateTimeOriginal"]) == 19 and row["DateTimeOriginal"][4] == ":"
                numbers = [float(row[k]) for k in ("ExposureTime", "FNumber", "FocalLength", "Latitude")]
                iso = int(row["ISOSpeedRatings"])
            except ValueError:
                continue
            if not (
                row["Make"].strip()
                and row["Model"].strip()
                and datetime_ok
                and min(numbers[:3]) > 0
                and 0 < iso <= 65535
            ):
                continue
            has_gps = (
                numbers[3] != 0
                and row["LatitudeDirection"] in ("78", "83")
                and row["LongitudeDirection"] in ("69", "87")
            )
            (gps_rows if has_gps else plain_rows).append(row)
    return plain_rows[:plain_count] + gps_rows[:gps_count]


def _rational(text: str) -> R:
    exact = Fraction(text)  # "0.002500" -> 1/400, exactly what the camera wrote
    return R(exact.numerator, exact.denominator)


def _seed_jpeg(row: dict) -> bytes:
    im = Image.new("RGB", (32, 24), (90, 120, 150))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = row["Make"], row["Model"]
    sub = exif.get_ifd(EXIF_IFD)
    sub[0x9003] = row["DateTimeOriginal"]
    sub[0x829A], sub[0x829D] = _rational(row["ExposureTime"]), _rational(row["FNumber"])
    sub[0x8827] = int(row["ISOSpeedRatings"])
    sub[0x920A] = _rational(row["FocalLength"])
    if row["LatitudeDirection"] in ("78", "83"):
        gps = exif.get_ifd(GPS_IFD)
        gps[1] = _DIRECTIONS[row["LatitudeDirection"]]
        gps[2] = tuple(_rational(row[f"Latitude{p}"]) for p in ("Degrees", "Minutes", "Seconds"))
        gps[3] = _DIRECTIONS[row["LongitudeDirection"]]
        gps[4] = tuple(_rational(row[f"Longitude{p}"]) for p in ("Degrees", "Minutes", "Seconds"))
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.mark.skipif(not SEED.exists(), reason=f"{SEED} not in this checkout")
def test_rows_of_the_original_system_round_trip():
    rows = _seed_rows()
    assert len(rows) == 20
    assert sum(1 for r in rows if r["LatitudeDirection"] in ("78", "83")) == 8
    for row in rows:
        exif = extract(_seed_jpeg(row)).exif
        name = row["filename"]
        assert exif["Make"] == row["Make"].strip() and exif["Model"] == row["Model"].strip(), name
        assert exif["DateTimeOriginal"] == row["DateTimeOriginal"].replace(":", "-", 2).replace(" ", "T"), name
        assert exif["ISOSpeedRatings"] == int(row["ISOSpeedRatings"]) and type(exif["ISOSpeedRatings"]) is int
        for key in ("ExposureTime", "FNumber", "FocalLength"):
            assert type(exif[key]) is float
            assert exif[key] == pytest.approx(float(row[key]), rel=1e-6), (name, key)
        if row["LatitudeDirection"] in ("78", "83"):
            for axis in ("Latitude", "Longitude"):
                assert exif[axis] == pytest.approx(float(row[axis]), rel=1e-6), (name, axis)
                assert exif[f"{axis}Direction"] == _DIRECTIONS[row[f"{axis}Direction"]]
                for part in ("Degrees", "Minutes", "Seconds"):
                    assert exif[f"{axis}{part}"] == pytest.approx(float(row[f"{axis}{part}"]), rel=1e-6, abs=1e-9)
        else:
            assert "Latitude" not in exif and "Longitude" not in exif
