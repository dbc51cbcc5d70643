"""Where credentials come from, and making API keys.

The server's secret keys the hash of every API key and session id: `VIEWFINDER_SECRET`, else
`<data dir>/secret`, made once (0600). Processes that share a database must share it too
(docker-compose passes it from `.env`). The command line's own key: `VIEWFINDER_API_KEY`, else
the admin key the embedded stack keeps in `<data dir>/admin.key` (0600, one line).
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.settings import Settings
from core.tokens import new_token, token_hash


def _private_file(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read, never readable in between."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(partial, path)


def server_secret(settings: Settings) -> bytes:
    if settings.secret:
        return settings.secret.encode()
    path = Path(settings.data_dir) / "secret"
    if not path.exists():
        _private_file(path, secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip().encode()


def admin_key_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "admin.key"


def client_key(settings: Settings) -> str | None:
    """The key the command line sends, if it has one."""
    if settings.api_key:
        return settings.api_key
    try:
        return admin_key_file(settings).read_text().strip() or None
    except OSError:
        return None


def create_key(db, settings: Settings, user: str, scopes: tuple[str, ...]) -> tuple[int, str]:
    """A new key for ``user``: (its id, the key itself, which is shown once and stored nowhere)."""
    key = new_token()
    return db.keys.create(user, scopes, token_hash(server_secret(settings), key)), key


def ensure_admin_key(db, settings: Settings) -> str:
    """The embedded stack's admin key: the one in `<data dir>/admin.key` while it is still live
    in this database, else a new one for user `admin`, written there."""
    path = admin_key_file(settings)
    try:
        key = path.read_text().strip()
    except OSError:
        key = ""
    if key and db.keys.find(token_hash(server_secret(settings), key)) is not None:
        return key
    _, key = create_key(db, settings, "admin", ("read", "write", "admin"))
    _private_file(path, key + "\n")
    return key


def create_link(db, settings: Settings, key_id: int, minutes: int = 15) -> str:
    """A one-time sign-in link token for key ``key_id``: used once, or expired after ``minutes``."""
    token = new_token("vfl_")
    expires = datetime.now(UTC) + timedelta(minutes=minutes)
    db.keys.open_session(token_hash(server_secret(settings), token), key_id, "link", expires)
    return token
