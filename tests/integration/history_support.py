"""Databases for the history's tests: a SQLite file in the test's tmp dir, or a PostgreSQL database of its own
(``CREATE DATABASE test_<uuid>`` on the local server, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from stormwatch.history import schema
from stormwatch.history.database import open_engine
from tests.conftest import _answers, missing_tool

PG_URL = os.environ.get("STORMWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def require_postgres() -> None:
    if not _answers(PG_URL, 5432):
        missing_tool(f"PostgreSQL not answering at {PG_URL}; run `bash deploy/dev.sh services`")


@asynccontextmanager
async def postgres_database(server_url: str = PG_URL) -> AsyncIterator[str]:
    """A fresh database on the server; yields its URL and drops it afterwards."""
    require_postgres()
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = open_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@asynccontextmanager
async def history_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    async with postgres_database() as url:
        yield url


@asynccontextmanager
async def history_engine(kind: str, tmp_path: Path) -> AsyncIterator[Any]:
    """An engine on a fresh history database (``history_database``), disposed after."""
    async with history_database(kind, tmp_path) as url:
        engine = open_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()


#: tables that count the writer's work rather than hold facts: how many batches touched a day depends on how the
#: events were batched (``rollup_days.changes``), and roll-ups are computed by reports, not written by events
BOOKKEEPING = ("rollup_days", "rollup_figures", "rollup_runs")


async def existing_columns(engine: Any) -> dict[str, set[str]]:
    """The history tables the database has, with their columns (one at an earlier revision has fewer of both)."""
    def read(c: Any) -> dict[str, set[str]]:
        inspector = sa.inspect(c)
        return {name: {col["name"] for col in inspector.get_columns(name)} for name in inspector.get_table_names()}
    async with engine.connect() as conn:
        return dict(await conn.run_sync(read))


async def dump(engine: Any, *, skip: tuple[str, ...] = ("applied_at",), existing: bool = False,
               columns: dict[str, set[str]] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every history table, sorted: two histories with equal dumps hold the same facts. ``existing``:
    only the tables and columns the database has (one at an earlier revision); ``columns``: only these (as
    ``existing_columns`` read them at another revision, to compare the rows a migration kept)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    if existing and columns is None:
        columns = await existing_columns(engine)
    async with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if columns is not None and table.name not in columns or table.name in BOOKKEEPING:
                continue
            picked = [c for c in table.columns if c.name not in skip and (columns is None or c.name in columns[table.name])]
            rows = (await conn.execute(sa.select(*picked))).all()
            out[table.name] = sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value
