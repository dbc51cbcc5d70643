"""The people tables: `users` (saved preferences), `feedback` (every event, once) and
`opinions` (each user's latest like or dislike per image)."""

from __future__ import annotations

import json


class Users:
    def __init__(self, db):
        self.db = db

    def save(self, name: str, preferences: dict) -> None:
        with self.db.cursor() as cur:
            cur.execute(
                """INSERT INTO users (name, preferences) VALUES (%s, %s)
                           ON CONFLICT (name) DO UPDATE SET preferences = EXCLUDED.preferences, updated_at = now()""",
                (name, json.dumps(preferences)),
            )

    def ensure(self, name: str) -> None:
        """The user exists (with no saved preferences if new)."""
        with self.db.cursor() as cur:
            cur.execute("INSERT INTO users (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (name,))

    def get(self, name: str) -> dict | None:
        with self.db.cursor() as cur:
            cur.execute("SELECT name, preferences, created_at, updated_at FROM users WHERE name = %s", (name,))
            user = cur.fetchone()
            if user is None:
                return None
            cur.execute("SELECT image_id, signal FROM opinions WHERE user_name = %s ORDER BY at DESC", (name,))
            opinions = cur.fetchall()
        user["likes"] = [o["image_id"] for o in opinions if o["signal"] == "like"]
        user["dislikes"] = [o["image_id"] for o in opinions if o["signal"] == "dislike"]
        return user

    def apply_feedback(self, event) -> None:
        """Idempotent: the event is logged once, and only a newer signal changes an opinion."""
        with self.db.cursor() as cur:
            cur.execute(
                """INSERT INTO feedback (event_id, user_name, image_id, signal, at)
                           VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING RETURNING event_id""",
                (event.event_id, event.user, event.image_id, event.signal, event.at),
            )
            if cur.fetchone() is None or event.signal == "view":
                return
            cur.execute(
                """INSERT INTO opinions (user_name, image_id, signal, at) VALUES (%s, %s, %s, %s)
                           ON CONFLICT (user_name, image_id) DO UPDATE SET signal = EXCLUDED.signal, at = EXCLUDED.at
                           WHERE opinions.at <= EXCLUDED.at""",
                (event.user, event.image_id, event.signal, event.at),
            )
