"""Alembic's environment for the history schema: run by ``stormwatch.history.migrate`` on a connection it opens
(async engines hand Alembic their sync connection through ``run_sync``), or by ``alembic`` with
``-x url=...`` for people who want the tool itself."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from stormwatch.history.schema import metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # the alembic command line: a sync URL given with -x url=...
        import sqlalchemy as sa

        url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise SystemExit("history migrations: pass -x url=<sync SQLAlchemy URL>")
        with sa.create_engine(url).connect() as sync:
            _migrate(sync)
        return
    _migrate(connection)


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      version_table="history_schema_version")
    with context.begin_transaction():
        context.run_migrations()


run()
