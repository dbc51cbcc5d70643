"""The credentials tables: `api_keys` (only the keyed hash of each key) and `sessions` (web
sign-ins and one-time sign-in links, each acting with one key's rights)."""

from __future__ import annotations

from datetime import datetime


class Keys:
    def __init__(self, db):
        self.db = db

    def create(self, user: str, scopes: tuple[str, ...], key_hash: bytes) -> int:
        with self.db.cursor() as cur:
            cur.execute(
                "INSERT INTO api_keys (user_name, scopes, key_hash) VALUES (%s, %s, %s) RETURNING id",
                (user, list(scopes), key_hash),
            )
            return cur.fetchone()["id"]

    def list(self) -> list[dict]:
        """Every key that is not revoked: id, user, scopes, created, last used. Never the hash."""
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT id, user_name AS user, scopes, created_at, last_used_at FROM api_keys
                   WHERE revoked_at IS NULL ORDER BY id"""
            )
            return cur.fetchall()

    def revoke(self, key_id: int) -> bool:
        """False when there is no such live key. Its sessions end with it."""
        with self.db.cursor() as cur:
            cur.execute(
                "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL RETURNING id", (key_id,)
            )
            revoked = cur.fetchone() is not None
            cur.execute("DELETE FROM sessions WHERE key_id = %s", (key_id,))
            return revoked

    def find(self, key_hash: bytes) -> dict | None:
        """The live key with this hash: {id, user, scopes}."""
        with self.db.cursor() as cur:
            cur.execute(
                "SELECT id, user_name AS user, scopes FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
                (key_hash,),
            )
            return cur.fetchone()

    def used(self, key_id: int) -> None:
        with self.db.cursor() as cur:
            cur.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))

    def open_session(self, id_hash: bytes, key_id: int, kind: str, expires_at: datetime) -> None:
        with self.db.cursor() as cur:
            cur.execute("DELETE FROM sessions WHERE expires_at < now()")  # the table never grows stale
            cur.execute(
                "INSERT INTO sessions (id_hash, key_id, kind, expires_at) VALUES (%s, %s, %s, %s)",
                (id_hash, key_id, kind, expires_at),
            )

    def session(self, id_hash: bytes) -> dict | None:
        """The live session's key: {id, user, scopes, expires_at}."""
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT k.id, k.user_name AS user, k.scopes, s.expires_at
                   FROM sessions s JOIN api_keys k ON k.id = s.key_id
                   WHERE s.id_hash = %s AND s.kind = 'session' AND s.expires_at > now() AND k.revoked_at IS NULL""",
                (id_hash,),
            )
            return cur.fetchone()

    def end_session(self, id_hash: bytes) -> None:
        with self.db.cursor() as cur:
            cur.execute("DELETE FROM sessions WHERE id_hash = %s", (id_hash,))

    def use_link(self, id_hash: bytes) -> int | None:
        """The key id of a live one-time sign-in link, which is gone once used."""
        with self.db.cursor() as cur:
            cur.execute(
                """DELETE FROM sessions s USING api_keys k
                   WHERE s.id_hash = %s AND s.kind = 'link' AND s.expires_at > now()
                     AND k.id = s.key_id AND k.revoked_at IS NULL
                   RETURNING s.key_id""",
                (id_hash,),
            )
            row = cur.fetchone()
            return row["key_id"] if row else None
