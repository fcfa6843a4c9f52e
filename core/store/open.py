"""``open_store``: the store a location names, loading only the implementation it needs."""

from __future__ import annotations

import os

from .common import DEFAULT_STORE_PATH, STORE_ENV
from .protocols import EventStore


def open_store(location: str | os.PathLike[str] | None = None) -> EventStore:
    """Open the store at ``location``: a SQLAlchemy URL (``postgresql+psycopg://...``) or a SQLite
    path. Without one, ``$ACUMBAMAIL_STORE``, else ``acumbamail-events.sqlite3``."""
    if location is None:
        location = os.environ.get(STORE_ENV) or DEFAULT_STORE_PATH
    text = os.fspath(location)
    if "://" in text:  # neither store module imports this one, so these imports make no circle
        from .sqlalchemy import SQLAlchemyEventStore

        return SQLAlchemyEventStore(text)
    from .sqlite import SQLiteEventStore

    return SQLiteEventStore(text)


__all__ = ["STORE_ENV", "open_store"]
