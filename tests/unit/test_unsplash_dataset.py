"""Reading the Lite format: parts, headers, traps."""

from __future__ import annotations

import pytest

from connectors.unsplash import dataset
from tests.support.dataset import write_dataset

PHOTOS = [(f"p{i:03d}", f"http://127.0.0.1:1/ok/{i}") for i in range(1, 7)]


@pytest.fixture()
def folder(tmp_path):
    return write_dataset(tmp_path, PHOTOS)


def test_split_parts_are_read_in_order_and_duplicates_dropped(folder):
    report = dataset.Report("photos")
    rows = list(dataset.read(folder, "photos", report))
    assert [r["photo_id"] for r in rows] == [pid for pid, _ in PHOTOS]
    assert report.files == ["photos.tsv000", "photos.tsv001"]
    assert report.dropped == {"duplicate": 1}
    assert rows[0]["photo_description"] != "a duplicate row"  # the first occurrence wins


def test_values_are_typed_and_empty_fields_are_null(folder):
    rows = {r["photo_id"]: r for r in dataset.read(folder, "photos")}
    p1, p3 = rows["p001"], rows["p003"]
    assert p1["photo_width"] == 4001 and p1["exif_iso"] == 100 and p1["photo_featured"] is True
    assert p1["photo_aspect_ratio"] == pytest.approx(4001 / 3000, abs=1e-3)
    assert p1["photo_submitted_at"] == "2020-02-11T10:11:12.345000"
    assert p3["photo_description"] is None and p3["photo_location_latitude"] is None
    assert p1["photographer_last_name"] is None and rows["p002"]["photographer_last_name"] == "Lovelace"


def test_keywords_lose_stray_spaces_and_newlines(folder):
    keywords = {r["keyword"] for r in dataset.read(folder, "keywords")}
    assert keywords == {"mountain", "snowy peak"}


def test_keyless_conversions_carry_a_row_hash(folder):
    rows = list(dataset.read(folder, "conversions"))
    assert len(rows) == len(PHOTOS) + 1  # the repeat is settled by the database, by hash
    assert len({r["row_hash"] for r in rows}) == len(PHOTOS)
    assert all(r["keyword"] == "peak" for r in rows)


def test_version_is_found_and_old_coordinates_are_swapped_back(folder):
    assert dataset.dataset_version(folder) == (1, 2, 0)
    row = next(r for r in dataset.read(folder, "photos") if r["photo_id"] == "p001")
    fixed = dataset.fix_coordinates(dict(row), swapped=True)
    assert (fixed["photo_location_latitude"], fixed["photo_location_longitude"]) == (44.25, -119.5)
    # Read as if current, -119.5 is no latitude at all: dropped rather than stored wrong.
    unswapped = dataset.fix_coordinates(dict(row), swapped=False)
    assert unswapped["photo_location_latitude"] is None and unswapped["photo_location_longitude"] is None


def test_a_file_with_the_wrong_header_is_named(folder):
    (folder / "colors.tsv000").write_text("photo_id\tcolour\n1\tred\n")
    with pytest.raises(dataset.DatasetError, match=r"colors.tsv000.*missing column\(s\) hex"):
        list(dataset.read(folder, "colors"))


def test_missing_file_and_malformed_rows(folder):
    (folder / "collections.tsv000").unlink()
    with pytest.raises(dataset.DatasetError, match="no collections.tsv"):
        list(dataset.read(folder, "collections"))
    with open(folder / "photos.tsv001", "a") as f:
        f.write(
            "short\trow\n" + "\t".join(["p999", "", ""] + [""] * 28) + "\n" + "p998\t\tnot-a-url" + "\tx" * 28 + "\n"
        )
    report = dataset.Report("photos")
    ids = [r["photo_id"] for r in dataset.read(folder, "photos", report)]
    assert "p999" not in ids  # no image URL: nothing to fetch
    assert report.dropped["2 fields instead of 31"] == 1 and report.dropped["no photo_image_url"] == 1
    assert "p998" in ids and report.nulled["photo_width"] >= 1  # "x" is no width: NULL, the row stays
