"""The gateway's contract as an OpenAPI 3.1 document, served at GET /openapi.json.

The routes come from where they are declared: `api.routes.ROUTES` (method, path, access,
summary), the health routes of `api.app.HEALTH` and the two pages of `api.ui`. What a route
takes and answers (parameters, bodies, responses) is written once here, in `DETAILS`, keyed
by the route's method and path exactly as `ROUTES` spells it; `missing_details()` names a
declared route without an entry, and the contract test fails on it. What every route shares
follows from its access level: `security`, 401 (with `WWW-Authenticate`), 403, 429, and, for
JSON bodies, 400 and 413. Every 4xx and 5xx is JSON `{"error": "…"}`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web

from core import perceptual
from core.colors import FAMILIES
from core.ids import ID_PATTERN
from query import gallery
from query.analytics import graphs
from query.recommendation import ranking
from query.recommendation.service import SIGNALS, USER_NAME
from schemas.pipeline import STAGE_NAMES

from .auth import COOKIE, SAFE_METHODS, needed_scope

Schema = dict[str, Any]

SEARCH_MAX_CHARS = 200
FIXED_GRAPHS = [name for name in graphs.NAMES if "<" not in name]  # and size/static/<step>/<n>
GRAPH_NAME = {
    "anyOf": [
        {"type": "string", "enum": FIXED_GRAPHS},
        {"type": "string", "pattern": "^size/static(/[0-9]{1,6}(/[0-9]{1,2})?)?$"},
    ],
    "description": "size/static/<step>/<n> (step 1-100000 px, n 1-50 bins) or one of the others",
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null: a type list where it has one type (JSON Schema 2020-12), else anyOf."""
    kind = schema.get("type")
    if not isinstance(kind, str):
        return {"anyOf": [schema, {"type": "null"}]}
    out = {**schema, "type": [kind, "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), closed: bool = False, **extra) -> Schema:
    """An object schema; ``closed``: the handler refuses keys it does not know."""
    out: Schema = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    out.update(extra)
    return out


def json_content(schema: Schema) -> dict:
    return {"application/json": {"schema": schema}}


def ok(schema: Schema, description: str, headers: dict | None = None) -> dict:
    out = {"description": description, "content": json_content(schema)}
    if headers:
        out["headers"] = headers
    return out


def error(description: str, schema: Schema | None = None) -> dict:
    return {"description": description, "content": json_content(schema or ref("Error"))}


def query(name: str, schema: Schema, description: str, required: bool = False, **extra) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description, **extra}


def path(name: str, schema: Schema, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def json_body(schema: Schema, description: str, required: bool = True) -> dict:
    return {"required": required, "description": description, "content": json_content(schema)}


def whole(low: int, high: int, description: str, default: int | None = None) -> Schema:
    out: Schema = {"type": "integer", "minimum": low, "maximum": high, "description": description}
    if default is not None:
        out["default"] = default
    return out


IMAGE_ID = {"type": "string", "pattern": f"^{ID_PATTERN}$", "description": "32 hex digits: the content hash"}
IMAGE_ID_PARAM = path("id", ref("ImageId"), "an image id (another value is a 404)")
LIMIT = query("limit", whole(1, ranking.MAX_LIMIT, "how many results", 10), "how many results")

# -- shared shapes ----------------------------------------------------------------------------


def _preferences(with_user: bool) -> Schema:
    """Today's preferences (``ranking.parse_preferences``): every key optional, no other key."""
    properties: dict[str, Schema] = {
        "color": nullable(ref("Color")),
        "width": nullable(whole(1, ranking.MAX_SIDE, "wanted width in pixels")),
        "height": nullable(whole(1, ranking.MAX_SIDE, "wanted height in pixels")),
        "orientation": nullable({"type": "string", "enum": list(ranking.ORIENTATIONS)}),
        "tags": nullable(
            {
                "type": "array",
                "maxItems": ranking.MAX_TAGS,
                "items": {"type": "string", "maxLength": ranking.MAX_TAG_CHARS},
                "description": "free-text words, resolved to labels by meaning (puppy → dog)",
            }
        ),
        "make": nullable({"type": "string", "description": "camera brand, compared case-insensitively"}),
        "limit": whole(1, ranking.MAX_LIMIT, "how many results", 10),
        "group_duplicates": nullable(
            {
                "type": "boolean",
                "description": "one result per near-duplicate group (default true); `why` counts those folded",
            }
        ),
    }
    if with_user:
        properties["user"] = nullable(
            {**ref("UserName"), "description": "whose saved preferences and opinions fill what is left out"}
        )
    return obj(properties, closed=True, description="Today's preferences; empty strings and null mean none.")


def _original_request() -> Schema:
    """The original client's body (``ranking.from_original``)."""
    number = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": ranking.MAX_SIDE}, {"type": "string"}]}
    return obj(
        {
            "preferences": obj(
                {
                    "dominant_color": nullable(ref("Color")),
                    "imagewidth": nullable({**number, "description": "pixels, a number or its digits"}),
                    "imageheight": nullable({**number, "description": "pixels, a number or its digits"}),
                    "orientation": nullable(
                        {
                            "anyOf": [
                                {"type": "integer", "enum": [0, 1]},
                                {"type": "string", "enum": ["0", "1"]},
                                {"type": "string", "enum": list(ranking.ORIENTATIONS)},
                            ],
                            "description": "0 = landscape, 1 = portrait, or a word",
                        }
                    ),
                    "tags": nullable(
                        {
                            "anyOf": [
                                {
                                    "type": "array",
                                    "maxItems": ranking.MAX_TAGS,
                                    "items": {"type": "string", "maxLength": ranking.MAX_TAG_CHARS},
                                },
                                {"type": "string", "description": "comma-separated words"},
                            ]
                        }
                    ),
                    "make": nullable({"type": "string"}),
                },
                closed=True,
            ),
            "user": nullable(ref("UserName")),
            "limit": whole(1, ranking.MAX_LIMIT, "how many results", 10),
        },
        required=("preferences",),
        closed=True,
        description="The original system's client: its web form's names inside `preferences`; "
        "a bad value is a 400 naming the original's field.",
    )


DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_TEXT = {"type": ["string", "null"]}

SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {"error": {"type": "string", "description": "what went wrong, in words"}},
        required=("error",),
        description="Every 4xx and 5xx answer. Some carry more: `ids` (an ambiguous file name), "
        "`graphs` (an unknown graph), `gather` (the run in progress).",
    ),
    "ImageId": IMAGE_ID,
    "UserName": {"type": "string", "pattern": USER_NAME.pattern, "description": "1-64 letters, digits or . _ @ -"},
    "Color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$", "description": '"#rrggbb"'},
    "Stage": {"type": "string", "enum": list(STAGE_NAMES), "description": "a pipeline stage"},
    "Preferences": _preferences(with_user=False),
    "RecommendRequest": {
        "oneOf": [_preferences(with_user=True), _original_request()],
        "description": "Today's preferences (with an optional `user`), or the original client's "
        '`{"preferences": {…}}`.',
    },
    "Result": obj(
        {
            "id": ref("ImageId"),
            "score": {"type": "number"},
            "url": {"type": "string"},
            "thumbnail": {"type": "string"},
            "width": {"type": ["integer", "null"]},
            "height": {"type": ["integer", "null"]},
            "orientation": nullable({"type": "string", "enum": list(ranking.ORIENTATIONS)}),
            "why": {"type": "object", "description": "each component of the score, explained"},
        },
        required=("id", "score", "url", "thumbnail", "why"),
    ),
    "TagResolution": {
        "type": "object",
        "additionalProperties": obj(
            {
                "label": NULLABLE_TEXT,
                "score": {"type": "number"},
                "via": {"type": "string", "description": "exact, lemma, wordnet, embedding, keyword … or none"},
                "kinds": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "labels that are kinds of this one: an image carrying one meets the word",
                },
                "broader": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "labels this one is a close kind of: an image carrying one earns part credit",
                },
            },
            required=("label", "score", "via"),
        ),
        "description": "word → the label it resolved to",
    },
    "Color4": obj(
        {
            "hex": {"type": "string"},
            "coverage": {"type": "number"},
            "name": NULLABLE_TEXT,
            "family": {"type": "string", "enum": list(FAMILIES), "description": "what the gallery filters by"},
        },
        required=("hex", "coverage"),
    ),
    "Image": obj(
        {
            "id": ref("ImageId"),
            "status": {"type": "string", "enum": ["arrived", "enriched", "failed"]},
            "error": NULLABLE_TEXT,
            "source": {"type": "string", "enum": ["upload", "unsplash"]},
            "filename": NULLABLE_TEXT,
            "content_type": {"type": "string"},
            "size_bytes": {"type": "integer", "minimum": 0},
            "arrived_at": DATETIME,
            "enriched_at": nullable(DATETIME),
            "width": {"type": ["integer", "null"]},
            "height": {"type": ["integer", "null"]},
            "orientation": nullable({"type": "string", "enum": list(ranking.ORIENTATIONS)}),
            "exif": {"type": "object", "description": "the original's EXIF fields, typed (Make, Model, …)"},
            "tags_status": NULLABLE_TEXT,
            "embedding_status": NULLABLE_TEXT,
            "tags": {
                "type": ["object", "null"],
                "additionalProperties": obj(
                    {"count": {"type": "integer"}, "score": {"type": "number"}}, required=("count", "score")
                ),
                "description": "label → {count, score, boxes}; null unless tags_status is ok",
            },
            "colors": {"type": ["array", "null"], "items": ref("Color4")},
            "clip_tags": {
                "type": ["object", "null"],
                "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                "description": "label → CLIP zero-shot probability over the open vocabulary; null without CLIP",
            },
            "keywords": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the dataset's keywords for a photo from it, most confident first; empty for uploads",
            },
            "country": NULLABLE_TEXT,
            "dead_letters": {"type": "array", "items": {"type": "object"}},
            "near_duplicates": {
                "type": "array",
                "items": ref("NearDuplicate"),
                "description": "the same photo resized, re-encoded, lightly cropped or brightened; nearest first",
            },
            "url": {"type": "string"},
            "thumbnail": {"type": "string"},
        },
        required=(
            "id",
            "status",
            "width",
            "height",
            "orientation",
            "exif",
            "tags",
            "colors",
            "country",
            "near_duplicates",
        ),
    ),
    "GalleryImage": obj(
        {
            "id": ref("ImageId"),
            "url": {"type": "string"},
            "thumbnail": {"type": "string"},
            "filename": NULLABLE_TEXT,
            "arrived_at": {"type": "string"},
            "taken_at": NULLABLE_TEXT,
            "width": {"type": ["integer", "null"]},
            "height": {"type": ["integer", "null"]},
            "orientation": NULLABLE_TEXT,
            "make": NULLABLE_TEXT,
            "colors": {"type": "array", "items": {"type": "object"}},
            "tags": {
                "type": "object",
                "description": "label → {score, source}: detr, clip or dataset (a keyword, score null)",
            },
        },
        required=("id", "url", "thumbnail", "colors", "tags"),
    ),
    "NearDuplicate": obj(
        {
            "id": ref("ImageId"),
            "distance": {"type": "integer", "minimum": 0, "maximum": 64, "description": "bits of 64 that differ"},
        },
        required=("id", "distance"),
    ),
    "User": obj(
        {
            "name": ref("UserName"),
            "preferences": {"type": "object", "description": "the preferences saved"},
            "created_at": DATETIME,
            "updated_at": DATETIME,
            "likes": {"type": "array", "items": ref("ImageId")},
            "dislikes": {"type": "array", "items": ref("ImageId")},
        },
        required=("name", "preferences", "likes", "dislikes"),
    ),
    "Progress": obj(
        {
            "dataset": {"type": "string"},
            "phase": {"type": "string", "description": "starting → metadata → downloading → done | failed"},
            "total": {"type": "integer"},
            "already_stored": {"type": "integer"},
            "stored": {"type": "integer"},
            "failed": {"type": "integer"},
            "retries": {"type": "integer"},
            "done": {"type": "integer"},
            "remaining": {"type": "integer"},
            "rate_per_s": {"type": "number"},
            "eta_s": {"type": ["number", "null"]},
            "elapsed_s": {"type": "number"},
            "error": NULLABLE_TEXT,
        },
        required=("dataset", "phase"),
        description="A dataset run's progress",
    ),
    "DeadLetter": obj(
        {
            "image_id": {"type": "string"},
            "stage": {"type": "string"},
            "reason": {"type": "string"},
            "failed_at": {"type": "string"},
            "attempts": {"type": ["integer", "null"]},
            "filename": NULLABLE_TEXT,
            "source": NULLABLE_TEXT,
        },
        required=("image_id", "stage", "reason"),
    ),
    "Upload": obj(
        {
            "ids": {"type": "array", "items": ref("ImageId")},
            "images": {
                "type": "array",
                "items": obj(
                    {"id": ref("ImageId"), "filename": NULLABLE_TEXT, "duplicate": {"type": "boolean"}},
                    required=("id", "duplicate"),
                ),
            },
            "rejected": {
                "type": "array",
                "items": obj({"filename": NULLABLE_TEXT, "reason": {"type": "string"}}, required=("reason",)),
            },
        },
        required=("ids", "images", "rejected"),
    ),
    "Who": obj(
        {
            "signed_in": {"type": "boolean"},
            "user": ref("UserName"),
            "scopes": {"type": "array", "items": {"type": "string", "enum": ["read", "write", "admin"]}},
            "via": {"type": "string", "enum": ["key", "session"]},
            "expires_at": DATETIME,
        },
        required=("signed_in",),
    ),
    "Key": obj(
        {
            "id": {"type": "integer"},
            "user": ref("UserName"),
            "scopes": {"type": "array", "items": {"type": "string", "enum": ["read", "write", "admin"]}},
            "created_at": DATETIME,
            "last_used_at": nullable(DATETIME),
        },
        required=("id", "user", "scopes"),
    ),
    "Health": obj(
        {
            "status": {"type": "string", "enum": ["ok", "failing"]},
            "failing": {"type": "array", "items": {"type": "string"}},
            "checks": {
                "type": "object",
                "additionalProperties": obj({"ok": {"type": "boolean"}, "error": {"type": "string"}}, required=("ok",)),
            },
        },
        required=("status", "failing", "checks"),
    ),
}

SCOPES = {"type": "string", "enum": ["read", "write", "admin"]}
RESULTS = {"type": "array", "items": ref("Result")}

# -- per route: parameters, bodies, responses ---------------------------------------------------
# Keyed by (method, path) exactly as api.routes.ROUTES spells them. The responses every route of
# an access level shares (401, 403, 429, 413 …) are added by `_operation`.

DETAILS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/gather/uploads"): {
        "tags": ["gather"],
        "description": "Each file is stored byte for byte (EXIF and all) and enters the pipeline; "
        "a file that is not an image is refused with the reason. At most 100 files per request.",
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": obj(
                        {
                            "files": {
                                "type": "array",
                                "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                                "description": "one part per image, each named `files`",
                            }
                        },
                        required=("files",),
                    )
                }
            },
        },
        "responses": {
            "202": ok(ref("Upload"), "at least one file was accepted; `rejected` lists the others with reasons"),
            "400": error("not multipart, or no `files` field"),
            "413": error("more than 100 files, or a request past the upload limit"),
            "422": error("every file was refused: `rejected` says why", {"allOf": [ref("Upload"), ref("Error")]}),
        },
    },
    ("GET", "/gather/download"): {
        "tags": ["gather"],
        "description": "Starts gathering the Unsplash Lite dataset: a folder under the allowed dirs "
        "(VIEWFINDER_DATASET_DIRS) or the https URL of its zip on an allowed host.",
        "parameters": [
            query("dataset", {"type": "string", "minLength": 1}, "a folder or a zip URL", required=True),
            query("limit", whole(1, 10_000_000, "photos at most"), "photos at most"),
            query("width", whole(16, 8000, "pixels", 1080), "width each photo is fetched at"),
            query("concurrency", whole(1, 256, "downloads at once", 16), "downloads at once"),
        ],
        "responses": {
            "202": ok(obj({"gather": ref("Progress")}, required=("gather",)), "the run started"),
            "400": error("no dataset, a refused source, or a bad number"),
            "409": error(
                "a run is in progress",
                {"allOf": [ref("Error"), obj({"gather": ref("Progress")}, required=("gather",))]},
            ),
        },
    },
    ("POST", "/gather/download"): {
        "tags": ["gather"],
        "description": "As GET; the parameters may come in a JSON body instead, which wins over the query.",
        "parameters": [
            query("dataset", {"type": "string", "minLength": 1}, "a folder or a zip URL (or in the body)"),
            query("limit", whole(1, 10_000_000, "photos at most"), "photos at most"),
            query("width", whole(16, 8000, "pixels", 1080), "width each photo is fetched at"),
            query("concurrency", whole(1, 256, "downloads at once", 16), "downloads at once"),
        ],
        "requestBody": json_body(
            obj(
                {
                    "dataset": {"type": "string", "minLength": 1},
                    "limit": whole(1, 10_000_000, "photos at most"),
                    "width": whole(16, 8000, "pixels", 1080),
                    "concurrency": whole(1, 256, "downloads at once", 16),
                }
            ),
            "the run's parameters (optional)",
            required=False,
        ),
        "responses": {
            "202": ok(obj({"gather": ref("Progress")}, required=("gather",)), "the run started"),
            "400": error("no dataset, a refused source, a bad number, or a body that is not a JSON object"),
            "409": error(
                "a run is in progress",
                {"allOf": [ref("Error"), obj({"gather": ref("Progress")}, required=("gather",))]},
            ),
        },
    },
    ("GET", "/gather/status"): {
        "tags": ["gather"],
        "responses": {
            "200": ok(
                obj(
                    {
                        "gather": nullable(ref("Progress")),
                        "pipeline": obj(
                            {
                                "arrived": {"type": "integer"},
                                "enriched": {"type": "integer"},
                                "failed": {"type": "integer"},
                                "in_flight": {"type": "integer"},
                                "lag_seconds": {"type": "number"},
                                "enriched_per_s": {"type": "number"},
                                "failed_by_stage": {"type": "object", "additionalProperties": {"type": "integer"}},
                                "stages": {
                                    "type": "array",
                                    "items": obj(
                                        {
                                            "stage": ref("Stage"),
                                            "does": {"type": "string"},
                                            "passed": {"type": "integer"},
                                            "failed": {"type": "integer"},
                                        },
                                        required=("stage", "passed", "failed"),
                                    ),
                                },
                            },
                            required=("arrived", "enriched", "failed", "stages"),
                        ),
                        "downloads": obj(
                            {
                                "pending": {"type": "integer"},
                                "stored": {"type": "integer"},
                                "failed": {"type": "integer"},
                                "recent_failures": {"type": "array", "items": {"type": "object"}},
                            },
                            required=("recent_failures",),
                        ),
                        "dead_letters": {"type": "array", "items": ref("DeadLetter")},
                    },
                    required=("gather", "pipeline", "downloads", "dead_letters"),
                ),
                "the latest dataset run (null before the first), the pipeline's counts, downloads, dead letters",
            )
        },
    },
    ("GET", "/gather/deadletters"): {
        "tags": ["gather"],
        "parameters": [
            query("limit", whole(1, 10_000, "rows at most", 100), "rows at most"),
            query("stage", ref("Stage"), "only this stage's"),
        ],
        "responses": {
            "200": ok(
                obj(
                    {"dead_letters": {"type": "array", "items": ref("DeadLetter")}, "count": {"type": "integer"}},
                    required=("dead_letters", "count"),
                ),
                "the most recent first",
            ),
            "400": error("a bad limit or stage"),
        },
    },
    ("POST", "/gather/deadletters/retry"): {
        "tags": ["gather"],
        "requestBody": json_body(
            obj(
                {
                    "stage": nullable(ref("Stage")),
                    "ids": nullable({"type": "array", "items": ref("ImageId")}),
                }
            ),
            "which failed images: one stage's, some ids, or (no body) all",
            required=False,
        ),
        "responses": {
            "200": ok(obj({"retried": {"type": "integer"}}, required=("retried",)), "how many were sent again"),
            "400": error("a bad stage or id"),
        },
    },
    ("GET", "/images"): {
        "tags": ["images"],
        "description": "The collection as a gallery: enriched images, newest first (by arrival), a page at a "
        "time. Follow `next` as `cursor` for the next page (null: the last); filters combine, and `count` is "
        "how many match them in all.",
        "parameters": [
            query("cursor", {"type": "string", "maxLength": 200}, "where the last page ended (its `next`)"),
            query("limit", whole(1, gallery.MAX_LIMIT, "images per page", gallery.DEFAULT_LIMIT), "images per page"),
            query(
                "color",
                {"type": "string", "enum": list(FAMILIES)},
                "a colour family among the image's dominant colours (covering at least 10 %)",
            ),
            query("orientation", {"type": "string", "enum": list(ranking.ORIENTATIONS)}, "the image's orientation"),
            query("tag", {"type": "string", "maxLength": gallery.MAX_TEXT}, "a label from DETR, CLIP or the dataset"),
            query(
                "make", {"type": "string", "maxLength": gallery.MAX_TEXT}, "a camera make, any spelling of the brand"
            ),
            query("taken_from", {"type": "string", "format": "date"}, "taken on or after this day (EXIF)"),
            query("taken_to", {"type": "string", "format": "date"}, "taken on or before this day (EXIF)"),
        ],
        "responses": {
            "200": ok(
                obj(
                    {
                        "images": {"type": "array", "items": ref("GalleryImage")},
                        "count": {"type": "integer", "minimum": 0},
                        "next": NULLABLE_TEXT,
                        "filters": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    required=("images", "count", "next", "filters"),
                ),
                "a page of the gallery",
            ),
            "400": error("a bad filter, limit or cursor"),
        },
    },
    ("GET", "/images/{id}"): {
        "tags": ["images"],
        "parameters": [IMAGE_ID_PARAM],
        "responses": {"200": ok(ref("Image"), "everything stored about the image"), "404": error("no such image")},
    },
    ("GET", "/images/{id}/duplicates"): {
        "tags": ["images"],
        "parameters": [
            IMAGE_ID_PARAM,
            query("within", whole(0, 32, "bits", perceptual.NEAR), "the most bits of 64 that may differ"),
        ],
        "responses": {
            "200": ok(
                obj(
                    {
                        "id": ref("ImageId"),
                        "within": {"type": "integer"},
                        "near_duplicates": {"type": "array", "items": ref("NearDuplicate")},
                    },
                    required=("id", "within", "near_duplicates"),
                ),
                "the image's near-duplicates, nearest first",
            ),
            "400": error("a bad `within`"),
            "404": error("no such image"),
        },
    },
    ("GET", "/cdn/show/{id}"): {
        "tags": ["images"],
        "description": "By id the bytes never change (a year's cache, ETag, 304). By the file name it was "
        "uploaded under when exactly one image has it (`Content-Location` names its id); a 404 lists the "
        "`ids` when several have it.",
        "parameters": [
            path("id", {"type": "string", "minLength": 1}, "an image id, or the file name of exactly one image"),
            query("size", {"type": "string", "enum": ["original", "thumb"], "default": "original"}, "thumb: 320 px"),
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "an ETag this answered before",
            },
        ],
        "responses": {
            "200": {
                "description": "the original bytes in their own type, or a JPEG thumbnail",
                "headers": {
                    "ETag": {"required": True, "schema": {"type": "string"}},
                    "Cache-Control": {"required": True, "schema": {"type": "string"}},
                    "Content-Location": {"schema": {"type": "string"}, "description": "by file name: the id's URL"},
                },
                "content": {"image/*": {"schema": {"type": "string", "contentMediaType": "image/*"}}},
            },
            "304": {"description": "not modified"},
            "400": error("size is neither thumb nor original"),
            "404": error(
                "no image with that id or file name, or several (then `ids` lists them)",
                {"allOf": [ref("Error"), obj({"ids": {"type": "array", "items": ref("ImageId")}})]},
            ),
            "422": error("the stored original cannot be made a thumbnail"),
        },
    },
    ("POST", "/recommend/recommend"): {
        "tags": ["recommend"],
        "requestBody": json_body(ref("RecommendRequest"), "preferences, all optional"),
        "responses": {
            "200": ok(
                obj(
                    {
                        "results": RESULTS,
                        "resolved_tags": {"type": "object", "additionalProperties": NULLABLE_TEXT},
                        "tag_resolution": ref("TagResolution"),
                        "user": nullable(ref("UserName")),
                        "count": {"type": "integer"},
                    },
                    required=("results", "resolved_tags", "tag_resolution", "count"),
                ),
                "the best first, each with its score and why",
            ),
            "400": error("a bad preference, named"),
            "404": error("no such user"),
        },
    },
    ("GET", "/recommend/similar/{id}"): {
        "tags": ["recommend"],
        "parameters": [IMAGE_ID_PARAM, LIMIT],
        "responses": {
            "200": ok(
                obj(
                    {
                        "like": ref("ImageId"),
                        "space": {"type": "string", "enum": ["clip", "palette"]},
                        "results": RESULTS,
                        "count": {"type": "integer"},
                    },
                    required=("like", "space", "results", "count"),
                ),
                "the nearest images, in CLIP space when the image has a CLIP vector, else by colours",
            ),
            "400": error("a bad limit"),
            "404": error("no enriched image with that id"),
        },
    },
    ("GET", "/recommend/evaluate"): {
        "tags": ["recommend"],
        "parameters": [
            query("k", whole(1, ranking.MAX_LIMIT, "cut-off", 10), "the cut-off of recall@k, nDCG@k"),
            query("queries", whole(1, 100_000, "queries at most", 1000), "conversions replayed at most"),
            query(
                "keyword",
                {"type": "array", "items": {"type": "string"}},
                "only these search keywords",
                style="form",
                explode=True,
            ),
        ],
        "responses": {
            "200": ok(
                obj(
                    {"queries": {"type": "integer"}, "k": {"type": "integer"}, "systems": {"type": "object"}},
                    required=("queries", "k", "systems"),
                ),
                "recall@k, nDCG@k and MRR for the recommender, a popularity and a random baseline",
            ),
            "400": error("a bad k or queries"),
        },
    },
    ("GET", "/recommend/search"): {
        "tags": ["recommend"],
        "parameters": [
            query(
                "q",
                {"type": "string", "minLength": 1, "maxLength": SEARCH_MAX_CHARS, "pattern": r"\S"},
                "free text",
                required=True,
            ),
            LIMIT,
        ],
        "responses": {
            "200": ok(
                obj(
                    {
                        "q": {"type": "string"},
                        "results": RESULTS,
                        "tag_resolution": ref("TagResolution"),
                        "clip": {"type": "boolean"},
                        "count": {"type": "integer"},
                    },
                    required=("q", "results", "count"),
                ),
                "CLIP, resolved tags and descriptions, fused by reciprocal rank",
            ),
            "400": error("q missing or longer than 200 characters, or a bad limit"),
        },
    },
    ("POST", "/recommend/feedback"): {
        "tags": ["recommend"],
        "requestBody": json_body(
            obj(
                {
                    "user": nullable({**ref("UserName"), "description": "by default the key's user"}),
                    "image": ref("ImageId"),
                    "signal": {"type": "string", "enum": list(SIGNALS)},
                },
                required=("image", "signal"),
            ),
            "a like, dislike or view; a key acts for its own user (an admin key for anyone)",
        ),
        "responses": {
            "202": ok(obj({"event_id": {"type": "string"}}, required=("event_id",)), "on its way to the profile"),
            "400": error("a bad user, image or signal"),
            "404": error("no such user or image"),
        },
    },
    ("PUT", "/recommend/users/{name}"): {
        "tags": ["recommend"],
        "parameters": [path("name", ref("UserName"), "the user")],
        "requestBody": json_body(ref("Preferences"), "the preferences to keep (any of recommend's)"),
        "responses": {
            "200": ok(ref("User"), "the user as stored"),
            "400": error("a bad name or preference"),
        },
    },
    ("GET", "/recommend/users/{name}"): {
        "tags": ["recommend"],
        "parameters": [path("name", ref("UserName"), "the user")],
        "responses": {
            "200": ok(ref("User"), "saved preferences, likes and dislikes"),
            "400": error("not a user name"),
            "404": error("no such user"),
        },
    },
    ("GET", "/visualize/graph/{name:.+}"): {
        "tags": ["visualize"],
        "description": "Graphs: " + ", ".join(f"`{n}`" for n in graphs.NAMES) + ". Count-style graphs answer "
        "`labels` and `counts`; `map` answers `points`.",
        "parameters": [
            path("name", GRAPH_NAME, "the graph; it holds slashes (tags/top, size/static/2000/4); another is a 404"),
            query("since", {"type": "string", "format": "date"}, "EXIF date from (YYYY-MM-DD, included)"),
            query("until", {"type": "string", "format": "date"}, "EXIF date to (YYYY-MM-DD, included)"),
            query("make", {"type": "string"}, "camera make, compared as brands"),
            query("tag", {"type": "string"}, "only images with this tag"),
            query("limit", whole(1, 200_000, "rows or points at most"), "each graph caps it lower"),
        ],
        "responses": {
            "200": ok(
                obj(
                    {
                        "graph": {"type": "string"},
                        "filters": {"type": "object", "additionalProperties": {"type": "string"}},
                        "labels": {"type": "array"},
                        "counts": {"type": "array", "items": {"type": "integer"}},
                    },
                    required=("graph", "filters"),
                ),
                "the numbers behind the graph",
            ),
            "400": error("a bad filter, limit or path parameter"),
            "404": error(
                "no such graph; `graphs` lists them",
                {"allOf": [ref("Error"), obj({"graphs": {"type": "array", "items": {"type": "string"}}})]},
            ),
        },
    },
    ("GET", "/visualize/api/v1/reset"): {
        "tags": ["visualize"],
        "description": "The original's reset. Changes no stored data.",
        "responses": {
            "200": ok(
                obj(
                    {"reset": {"const": True}, "dropped": {"type": "array", "items": {"type": "string"}}},
                    required=("reset", "dropped"),
                ),
                "what was dropped",
            )
        },
    },
    ("GET", "/auth/session"): {
        "tags": ["auth"],
        "reads_session": True,
        "responses": {"200": ok(ref("Who"), "who is signed in, or that no one is")},
    },
    ("POST", "/auth/session"): {
        "tags": ["auth"],
        "requestBody": json_body(
            obj({"key": {"type": "string", "minLength": 1, "pattern": r"\S"}}, required=("key",)), "an API key"
        ),
        "responses": {
            "200": ok(
                ref("Who"),
                "signed in: an HttpOnly, SameSite=Strict cookie `vf_session` acts with the key's rights",
                {"Set-Cookie": {"required": True, "schema": {"type": "string"}}},
            ),
            "400": error('body is not {"key": KEY}'),
        },
    },
    ("DELETE", "/auth/session"): {
        "tags": ["auth"],
        "reads_session": True,
        "responses": {"200": ok(obj({"signed_in": {"const": False}}, required=("signed_in",)), "signed out")},
    },
    ("GET", "/auth/link"): {
        "tags": ["auth"],
        "parameters": [query("token", {"type": "string"}, "the one-time token", required=True)],
        "responses": {
            "303": {
                "description": "signed in; on to the web interface",
                "headers": {
                    "Location": {"required": True, "schema": {"type": "string"}},
                    "Set-Cookie": {"required": True, "schema": {"type": "string"}},
                },
            },
        },
    },
    ("GET", "/auth/keys"): {
        "tags": ["auth"],
        "responses": {
            "200": ok(obj({"keys": {"type": "array", "items": ref("Key")}}, required=("keys",)), "never the keys")
        },
    },
    ("POST", "/auth/keys"): {
        "tags": ["auth"],
        "requestBody": json_body(
            obj(
                {"user": ref("UserName"), "scopes": {"type": "array", "minItems": 1, "items": SCOPES}},
                required=("user", "scopes"),
            ),
            "whose key, and what it may do",
        ),
        "responses": {
            "201": ok(
                obj(
                    {
                        "id": {"type": "integer"},
                        "user": ref("UserName"),
                        "scopes": {"type": "array", "items": SCOPES},
                        "key": {"type": "string", "description": "shown once; only its keyed hash is kept"},
                    },
                    required=("id", "user", "scopes", "key"),
                ),
                "the new key",
            ),
            "400": error("a bad user or scopes"),
        },
    },
    ("DELETE", "/auth/keys/{id}"): {
        "tags": ["auth"],
        "parameters": [path("id", {"type": "string", "pattern": "^[0-9]{1,18}$"}, "the key's id")],
        "responses": {
            "200": ok(obj({"revoked": {"type": "integer"}}, required=("revoked",)), "revoked, its sessions ended"),
            "404": error("no live key with that id"),
        },
    },
    ("GET", "/openapi.json"): {
        "tags": ["contract"],
        "responses": {"200": ok({"type": "object", "required": ["openapi", "paths"]}, "this document")},
    },
    ("GET", "/docs"): {
        "tags": ["contract"],
        "responses": {"200": {"description": "this document as a page", "content": {"text/html": {}}}},
    },
}

# Routes `api.ui` registers (the web interface; its static files under /ui/… are left out).
UI_DETAILS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/"): {
        "tags": ["web"],
        "summary": "the web interface",
        "responses": {"200": {"description": "the page", "content": {"text/html": {}}}},
    },
    ("GET", "/ui/config.json"): {
        "tags": ["web"],
        "summary": "what the web interface needs: dashboards, services, colour families",
        "responses": {
            "200": ok(
                obj(
                    {
                        "dashboard_url": NULLABLE_TEXT,
                        "dashboards": {
                            "type": "array",
                            "items": obj(
                                {
                                    "path": {"type": "string"},
                                    "title": {"type": "string"},
                                    "what": {"type": "string"},
                                    "url": {"type": "string"},
                                },
                                required=("path", "title", "url"),
                            ),
                        },
                        "services": {
                            "type": "object",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        },
                        "color_families": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "what the gallery's `color` filter takes",
                        },
                    },
                    required=("dashboard_url", "dashboards", "services", "color_families"),
                ),
                "the dashboards' addresses and each service's dependencies",
            )
        },
    },
    ("GET", "/ui/world.json"): {
        "tags": ["web"],
        "summary": "the image page's offline world map: dots where people live",
        "responses": {
            "200": ok(
                obj(
                    {
                        "points": {
                            "type": "array",
                            "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                            "description": "[latitude, longitude] pairs, to a tenth of a degree",
                        }
                    },
                    required=("points",),
                ),
                "the map's dots",
            )
        },
    },
}

# -- the document -----------------------------------------------------------------------------

_RESPONSES = {
    "Unauthorized": {
        "description": "no key where one is needed, or a key (or sign-in) that is unknown or revoked",
        "headers": {
            "WWW-Authenticate": {
                "required": True,
                "schema": {"type": "string"},
                "description": 'Bearer realm="viewfinder"',
            }
        },
        "content": json_content(ref("Error")),
    },
    "Forbidden": error("the key lacks the scope, acts for another user, or a cookie write came from another site"),
    "TooManyRequests": {
        "description": "too many failed sign-ins from this address in a minute",
        "headers": {"Retry-After": {"required": True, "schema": {"type": "string"}, "description": "seconds"}},
        "content": json_content(ref("Error")),
    },
    "TooLarge": error("the JSON body is over its limit (64 KB by default)"),
    "BadJson": error("the body is not a JSON object"),
    "ServerError": error("a fault of the gateway (never a client's input), logged"),
}

INFO_DESCRIPTION = """\
Event-streaming image recommendation: uploads and the Unsplash Lite dataset pass through a
pipeline (EXIF, objects, colours, vectors); this gateway stores, serves, recommends and explains.

**Access.** Under the default policy `VIEWFINDER_AUTH=writes` reads are open and every write needs
`Authorization: Bearer KEY` with the `write` scope (admin routes: `admin`); under `all` reads need
`read`. A web sign-in (`POST /auth/session`) gives the cookie `vf_session` acting with the key's
rights; writes by cookie must come from the gateway's own pages. No or an unknown key is a 401 with
`WWW-Authenticate: Bearer`, a key without the scope a 403, ten failed sign-ins a minute from one
address a 429 with `Retry-After`.

**Errors.** Every 4xx and 5xx is JSON `{"error": "…"}`. JSON bodies are at most 64 KB (413).
"""

TAGS = [
    {"name": "gather", "description": "uploads, dataset runs, the pipeline's progress"},
    {"name": "images", "description": "what is stored about an image, and its bytes"},
    {"name": "recommend", "description": "recommendations, search, users and feedback"},
    {"name": "visualize", "description": "the data behind the graphs"},
    {"name": "auth", "description": "sign in and out, API keys"},
    {"name": "health", "description": "liveness of the whole and of each service"},
    {"name": "web", "description": "the web interface"},
    {"name": "contract", "description": "this document"},
]


def openapi_path(route_path: str) -> str:
    """aiohttp's `/visualize/graph/{name:.+}` as OpenAPI writes it: `/visualize/graph/{name}`."""
    return re.sub(r"\{(\w+):[^{}]*\}", r"{\1}", route_path)


def security(access: str, policy: str) -> list[dict[str, list[str]]]:
    """Who may call a route of this access level under this policy (`VIEWFINDER_AUTH`)."""
    scope = needed_scope(access, policy)
    if scope is None:
        if access == "public":
            return []
        return [{}, {"bearer": []}, {"session": []}]  # open, and a key or a sign-in may come along
    return [{"bearer": [scope]}, {"session": [scope]}]


def _operation(method: str, access: str, summary: str, details: dict[str, Any], policy: str, op_id: str) -> dict:
    details = dict(details)
    reads_session = details.pop("reads_session", False)  # a public route that says who is signed in
    op: dict[str, Any] = {"operationId": op_id, "summary": details.pop("summary", summary), **details}
    op["x-access"] = access
    op["security"] = [{}, {"bearer": []}, {"session": []}] if reads_session else security(access, policy)
    responses = dict(details.get("responses", {}))
    shared = {"401": "Unauthorized", "429": "TooManyRequests", "500": "ServerError"}
    if needed_scope(access, policy) is not None or method not in SAFE_METHODS:
        shared["403"] = "Forbidden"
    if "application/json" in details.get("requestBody", {}).get("content", {}):
        shared.update({"400": "BadJson", "413": "TooLarge"})
    for status, name in shared.items():
        responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})
    op["responses"] = dict(sorted(responses.items()))
    return op


def _op_id(method: str, route_path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", openapi_path(route_path).replace("{", "by_").replace("}", ""))
    return "_".join([method.lower(), *words]) or method.lower()


def declared_routes() -> list[tuple[str, str, str, str]]:
    """(method, path as declared, access, summary) of every route the gateway registers itself:
    `ROUTES`, the health routes, the web interface's two pages."""
    from .app import HEALTH  # the app imports the routes, which import this module
    from .routes import ROUTES

    out = [(r.method, r.path, r.access, r.summary) for r in ROUTES]
    out.append(("GET", "/api/v1/health", "public", "health of the whole: every dependency"))
    out += [
        ("GET", f"/{service}/api/v1/health", "public", f"health of {service}: {', '.join(deps)}")
        for service, deps in HEALTH.items()
    ]
    out += [(m, p, "public", d.get("summary", "")) for (m, p), d in UI_DETAILS.items()]
    return out


def _details(method: str, route_path: str) -> dict[str, Any] | None:
    if route_path.endswith("/api/v1/health"):
        return {
            "tags": ["health"],
            "responses": {
                "200": ok(ref("Health"), "every dependency answers"),
                "503": error(
                    "a dependency is failing: named in `failing` and `error`", {"allOf": [ref("Health"), ref("Error")]}
                ),
            },
        }
    return DETAILS.get((method, route_path)) or UI_DETAILS.get((method, route_path))


def missing_details() -> list[str]:
    """Declared routes without an entry in `DETAILS`: each must have one."""
    return [f"{m} {p}" for m, p, _, _ in declared_routes() if _details(m, p) is None]


def stale_details() -> list[str]:
    """Entries of `DETAILS` for routes no longer declared."""
    declared = {(m, p) for m, p, _, _ in declared_routes()}
    return [f"{m} {p}" for m, p in DETAILS if (m, p) not in declared]


@cache
def document(policy: str = "writes") -> dict[str, Any]:
    """The OpenAPI 3.1 document for the gateway under auth policy ``policy`` (cached and shared:
    not to be changed). A declared route without details is still listed, with the responses its
    access level implies."""
    try:
        release = version("viewfinder")
    except PackageNotFoundError:
        release = "0+unknown"
    paths: dict[str, dict[str, Any]] = {}
    for method, route_path, access, summary in declared_routes():
        details = _details(method, route_path) or {"responses": {}}
        op = _operation(method, access, summary, details, policy, _op_id(method, route_path))
        paths.setdefault(openapi_path(route_path), {})[method.lower()] = op
    for item in paths.values():  # a path's operations in a readable order
        item_sorted = sorted(item.items(), key=lambda kv: ["get", "put", "post", "delete"].index(kv[0]))
        item.clear()
        item.update(item_sorted)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Viewfinder", "version": release, "description": INFO_DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": _RESPONSES,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer KEY` (`viewfinder keys create`, POST /auth/keys)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": COOKIE,
                    "description": "the cookie POST /auth/session sets (HttpOnly, SameSite=Strict)",
                },
            },
        },
    }


def policy_of(request: web.Request) -> str:
    from .services import SERVICES

    services = request.app.get(SERVICES)
    return services.settings.auth if services is not None else "writes"


async def openapi_json(request: web.Request) -> web.Response:
    """GET /openapi.json: this contract, under the gateway's policy."""
    return web.json_response(document(policy_of(request)), headers={"Cache-Control": "no-cache"})
