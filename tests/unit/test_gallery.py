"""The gallery's parameters and cursor (pure); the listing itself is tested on the real stack
(tests/integration/test_gallery.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.colors import FAMILIES, family
from query.gallery import DEFAULT_LIMIT, GalleryError, decode_cursor, encode_cursor, parse


@pytest.mark.parametrize(
    "hex_value, expected",
    [
        ("#d62828", "red"),
        ("#f77f00", "orange"),
        ("#7f5539", "brown"),
        ("#ffd60a", "yellow"),
        ("#2a9d8f", "cyan"),
        ("#38b000", "green"),
        ("#1e3a8a", "blue"),
        ("#7b2cbf", "purple"),
        ("#ff5d8f", "pink"),
        ("#0b0b0b", "black"),
        ("#808080", "gray"),
        ("#f5f5f5", "white"),
        ("#ff0000", "red"),
        ("#ff0033", "red"),  # just short of 360°: red again
    ],
)
def test_colour_families(hex_value, expected):
    assert family(hex_value) == expected and expected in FAMILIES


def test_parameters_are_checked_and_defaults_filled():
    assert parse({}) == ({}, None, DEFAULT_LIMIT)
    filters, after, limit = parse({"color": "Blue", "tag": " Dog ", "limit": "5", "taken_from": "2020-01-31"})
    assert filters == {"color": "blue", "tag": "dog", "taken_from": "2020-01-31"} and after is None and limit == 5
    for params, needle in [
        ({"colour": "blue"}, "unknown parameter"),
        ({"color": "teal-ish"}, "color must be one of"),
        ({"orientation": "diagonal"}, "orientation"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"taken_to": "31/01/2020"}, "YYYY-MM-DD"),
        ({"tag": "x" * 65}, "at most 64"),
        ({"cursor": "not a cursor!"}, "cursor"),
        ({"cursor": "bm9wZQ"}, "cursor"),  # base64 of "nope"
    ]:
        with pytest.raises(GalleryError, match=needle):
            parse(params)


def test_a_cursor_round_trips_and_a_forged_one_is_refused():
    at = datetime(2026, 12, 2, 16, 5, 3, 123456, tzinfo=UTC)
    cursor = encode_cursor(at, "ab" * 16)
    assert decode_cursor(cursor) == (at, "ab" * 16)
    assert parse({"cursor": cursor})[1] == (at, "ab" * 16)
    naive = encode_cursor(datetime(2026, 12, 2), "x")  # no zone: not one the gallery gives
    with pytest.raises(GalleryError):
        decode_cursor(naive)
