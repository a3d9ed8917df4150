"""Bring a history database to the newest schema with Alembic (idempotent: at head, an upgrade does nothing).

The revisions live in ``stormwatch/history/migrations/versions``; each is a frozen script, never edited after it
ships. A new table or column is a new revision (``alembic revision --autogenerate``, see docs/history.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "history_schema_version"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every revision the database lacks, up to ``revision``."""
    def run(connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


class OtherNamespace(Exception):
    """The database holds the history of another namespace: one database per namespace, never mixed."""


async def bind_namespace(engine: AsyncEngine, namespace: str) -> None:
    """Record the database's namespace on first use; OtherNamespace when it already holds another's history
    (its incidents would be restored into the wrong namespace, its reports mixed)."""
    from sqlalchemy.dialects import postgresql, sqlite

    from stormwatch.history.schema import history_meta

    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    async with engine.begin() as conn:
        await conn.execute(insert(history_meta).values(key="namespace", value=namespace).on_conflict_do_nothing())
        bound = (await conn.execute(sa.select(history_meta.c.value).where(history_meta.c.key == "namespace"))).one()
    if bound[0] != namespace:
        raise OtherNamespace(f"the history database holds namespace {bound[0]!r}, not {namespace!r}: give each "
                             f"namespace a database of its own (STORMWATCH_HISTORY_URL / STORMWATCH_HISTORY_PATH)")


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    def read(connection: Any) -> str | None:
        return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
