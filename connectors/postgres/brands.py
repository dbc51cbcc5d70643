"""Camera brands, normalised cheaply in SQL: collapse whitespace, trim, then cut a trailing
company suffix from the first corporate word on ("NIKON CORPORATION" → "NIKON", "OLYMPUS
IMAGING CORP." → "OLYMPUS", "LEICA CAMERA AG" → "LEICA"); lower-cased, that is the brand key,
so "Nikon" and "NIKON CORPORATION" are one brand. A make made only of such words is kept."""

from __future__ import annotations

_CORPORATE = "corporation|corp|company|co|inc|ltd|limited|imaging|optical|camera|electronics|ag|gmbh"


def brand_spelling_sql(expr: str) -> str:
    """SQL for the make ``expr`` without its company suffix, case kept; NULL for no make."""
    collapsed = f"btrim(regexp_replace({expr}, '\\s+', ' ', 'g'))"
    return f"NULLIF(regexp_replace({collapsed}, '[ ,.]+({_CORPORATE})([ ,.].*)?$', '', 'i'), '')"


def brand_key_sql(expr: str) -> str:
    return f"lower({brand_spelling_sql(expr)})"
