"""One report: the window's figures with their trend against the previous window, the series by period, the
breakdowns by team, service and priority, and the top lists. The document every surface shows (API JSON and CSV,
``stormwatch report``, the console's Reports page)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from stormwatch.reports import figures as f
from stormwatch.reports.major import major_section, read_majors
from stormwatch.reports.muted import muted_section, read_muted
from stormwatch.reports.queries import Rows, read_rows
from stormwatch.reports.rollup import served_days
from stormwatch.reports.window import BusinessHours, Window

#: figures the history cannot give (no event records them); docs/reports.md says why. Muted notifications and
#: maintenance volume were here until the engine published ``alert.muted`` (issue 17): the ``muted`` section
NOT_RECORDED: dict[str, str] = {}


def compose(current: Rows, previous: Rows, window: Window, hours: BusinessHours) -> dict[str, Any]:
    """The report document from both windows' rows (pure)."""
    now = f.scalar_figures(current, window, hours)
    before = f.scalar_figures(previous, window.previous, hours)
    return {
        "window": window.public(),
        "business_hours": hours.describe(),
        "figures": f.trend(now, before),
        "series": f.series(current, window),
        "by_team": f.breakdown(current, lambda r: r.team, "team"),
        "by_service": f.breakdown(current, lambda r: r.service, "service"),
        "by_priority": f.breakdown(current, lambda r: r.priority, "priority"),
        "alerts": f.noisiest(current),
        "automation": {"runs_by_state": f.runs_by_state(current)},
        "problems": [{"id": p.id, "title": p.title, "status": p.status, "incidents": p.incidents}
                     for p in current.problems],
        "not_recorded": NOT_RECORDED,
    }


async def build_report(engine: AsyncEngine, window: Window, hours: BusinessHours, *, now: float | None = None,
                       rollups: bool = True) -> dict[str, Any]:
    """Read both windows (the whole days from roll-ups, ``rollup.py``, unless ``rollups`` is false), then compute
    in a thread: a long window's figures take CPU time the event loop (and the worker's alert pipeline on it) must
    not wait for. ``now``: which days have ended (default: the clock)."""
    moment = time.time() if now is None else now
    rows = []
    for part, lists in ((window, True), (window.previous, False)):
        served = await served_days(engine, part, moment) if rollups else None
        if served is None:
            rows.append(await read_rows(engine, part, lists=lists))
        else:
            rows.append(await read_rows(engine, part, lists=lists, days=served.days, served=served.span,
                                        run_days=served.runs))
    report = await asyncio.to_thread(compose, rows[0], rows[1], window, hours)
    report["major_incidents"] = major_section(await read_majors(engine, window),
                                              await read_majors(engine, window.previous))
    report["muted"] = muted_section(await read_muted(engine, window), await read_muted(engine, window.previous),
                                    window)
    return report
