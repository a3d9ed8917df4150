"""Opening the history database: a URL or a file path to an async SQLAlchemy engine.

``STORMWATCH_HISTORY_URL`` names PostgreSQL (``postgresql://user@host/db``, driven by asyncpg) or SQLite
(``sqlite:///path``, driven by aiosqlite); without it, ``STORMWATCH_HISTORY_PATH`` is a SQLite file.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


def async_url(url: str) -> str:
    """The URL with the async driver of its dialect (``postgresql://`` -> ``postgresql+asyncpg://``)."""
    parsed = make_url(url)
    if "+" in parsed.drivername:
        return url
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(f"history URL: unsupported database {parsed.drivername!r} (postgresql or sqlite)")
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def sqlite_url(path: str) -> str:
    return f"sqlite+aiosqlite:///{path}"


def open_engine(url: str) -> AsyncEngine:
    """An engine for the history; SQLite gets WAL (readers do not block the writer) and a busy timeout."""
    engine = create_async_engine(async_url(url), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()
    return engine


def redacted(url: str) -> str:
    """The URL for logs: never its password."""
    return make_url(url).render_as_string(hide_password=True)
