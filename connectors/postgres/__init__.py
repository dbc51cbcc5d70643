"""PostgreSQL, the source of truth: one connection pool (`Database`), migrations, and the SQL
of each table family in its own module, reached as ``db.images``, ``db.users``,
``db.unsplash``, ``db.keys`` and ``db.runs``. Writes are upserts keyed by the image id, so replaying an event leaves the
same rows."""

from .brands import brand_key_sql, brand_spelling_sql
from .database import Database, open_database

__all__ = ["Database", "brand_key_sql", "brand_spelling_sql", "open_database"]
