"""The history generator and query benchmark (docs/performance.md) on both databases, small: the tool keeps
working, writes what it says, and every measured query answers."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from stormwatch.history import migrate, schema
from stormwatch.history.database import open_engine
from stormwatch.tools.history_bench import QUERIES, generate, measure
from tests.integration.history_support import history_database


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_generate_then_measure(tmp_path, kind):
    async with history_database(kind, tmp_path) as url:
        engine = open_engine(url)
        try:
            await migrate.upgrade(engine)
            now = time.time()
            written = await generate(engine, 3000, end=now)
            async with engine.connect() as conn:
                counts = {name: (await conn.execute(sa.select(sa.func.count()).select_from(
                    schema.metadata.tables[name]))).scalar() for name in written}
                recent = (await conn.execute(sa.select(sa.func.count()).select_from(schema.incidents).where(
                    schema.incidents.c.created_at >= now - 30 * 86400))).scalar()
            assert counts == written and written["incidents"] == 3000
            assert 200 <= recent <= 300  # a year, evenly: about 30/365 of them
            figures = await measure(engine, now, runs=1)
            assert set(figures) == set(QUERIES) and all(ms >= 0 for ms in figures.values())
        finally:
            await engine.dispose()
