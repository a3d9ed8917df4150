"""Reports over a history database: what the API and the CLI ask (``HistoryReports.report(window)``)."""

from __future__ import annotations

from typing import Any

import asyncio
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from stormwatch.reports.report import build_report
from stormwatch.reports.window import BusinessHours, Window


class HistoryUnavailable(Exception):
    """The history database did not answer, or holds no history tables yet (the writer migrates it)."""


#: reports computed at once by one process; more wait their turn (each reads two windows and computes in a thread)
CONCURRENT_REPORTS = 2


class HistoryReports:
    def __init__(self, engine: AsyncEngine, hours: BusinessHours) -> None:
        self.engine = engine
        self.hours = hours
        self._turns = asyncio.Semaphore(CONCURRENT_REPORTS)

    async def report(self, window: Window) -> dict[str, Any]:
        try:
            async with self._turns:
                return await build_report(self.engine, window, self.hours)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.InterfaceError, OSError) as exc:
            raise HistoryUnavailable(_why(exc)) from exc

    async def close(self) -> None:
        await self.engine.dispose()


def missing_file(url: str) -> str | None:
    """The path of a SQLite history that does not exist (opening it would create an empty one), else None."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:" \
            and not Path(parsed.database).exists():
        return parsed.database
    return None


def _why(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)).lower()
    if "no such table" in text or "does not exist" in text and "relation" in text:
        return "the history database has no history yet (the history writer creates its tables when it starts)"
    return "the history database is not answering"
