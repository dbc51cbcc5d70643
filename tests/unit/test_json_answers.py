"""The gateway's JSON answers (api.http.json_response): orjson where it can, the standard
library where it cannot, the same document either way."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np

from api.http import json_response


def decoded(response) -> object:
    assert response.content_type == "application/json"
    return json.loads(response.body)


def test_values_the_handlers_return_come_out_as_the_standard_library_writes_them():
    body = {
        "at": datetime(2026, 12, 2, 18, 30, 1, 250, tzinfo=UTC),
        "day": date(2026, 12, 2),
        "score": np.float64(0.8125),
        "count": np.int64(3),
        "nested": [{"hex": "#aabbcc", "coverage": 41.5}, None, True],
        "text": "ünïcode ✓",
    }
    expected = json.loads(json.dumps({**body, "score": 0.8125, "count": 3}, default=lambda v: v.isoformat()))
    assert decoded(json_response(body)) == expected


def test_what_orjson_refuses_is_written_the_standard_way():
    big = 1 << 70  # past 64 bits
    response = json_response({"n": big}, status=201, headers={"X-Test": "1"})
    assert decoded(response) == {"n": big}
    assert response.status == 201 and response.headers["X-Test"] == "1"
