"""API keys and session ids: long random tokens, stored only as a keyed hash.

A key carries 256 random bits, so nobody can guess one, and a slow password hash (bcrypt,
argon2) would add milliseconds to every request while protecting nothing: there is no
dictionary to slow down. HMAC-SHA256 with the server's secret is fast and still useful: a
copy of the database alone cannot even confirm a leaked key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "vf_"
SCOPES = ("read", "write", "admin")
# What each scope allows: an admin key may do everything, a write key may read.
GRANTS = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}


def new_token(prefix: str = KEY_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_hash(secret: bytes, token: str) -> bytes:
    return hmac.new(secret, token.encode(), hashlib.sha256).digest()


def parse_scopes(text: str) -> tuple[str, ...]:
    """ "read,write" → ("read", "write"); ValueError naming an unknown scope."""
    scopes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes are a comma-separated choice of {', '.join(SCOPES)}, got {text!r}")
    return scopes


def allows(scopes, needed: str) -> bool:
    return any(needed in GRANTS[s] for s in scopes if s in GRANTS)
