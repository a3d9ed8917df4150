"""Per-day roll-ups of the report figures: a report reads one row per day (and per team, service, priority)
instead of every incident of the day, for the days it covers whole. docs/reports.md, "Roll-ups".

A day's roll-up is computed from the history's rows, by the first report that needs it, and kept
(``rollup_figures``). It stays right because the history writer counts every write touching an incident opened
that day (``rollup_days.changes``, in the transaction of the write; a redelivered event writes nothing and counts
nothing) and a roll-up records the count it was computed at (``computed``): a report recomputes a day whose count
moved, under the day's row lock, so two reports never both write it. Only days that ended before ``now`` are
rolled up (today changes with every event); the window's ragged ends are read raw. A report with a team, service
or priority filter reads raw (its breakdowns cross the dimensions a roll-up keeps apart).

The action runs created on a day are rolled up with it (``rollup_runs``: runs and saved seconds per state; a run's
write counts a change on the day it was created). ``roll_up_ended`` keeps roll-ups warm: the history writer's
process calls it periodically (``stormwatch/history/service.py``) to compute the stale days that ended, a few per
tick, under the same row lock, so the first report of a month finds them computed.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stormwatch.history import schema as t
from stormwatch.history.store import DAY
from stormwatch.reports.queries import DayRow, RunDayRow, alert_names, incident_rows, run_day_rows
from stormwatch.reports.tally import Tally
from stormwatch.reports.window import Window

DIMS = ("team", "service", "priority")
log = structlog.get_logger("stormwatch.reports")


def whole_days(window: Window, now: float) -> tuple[float, float] | None:
    """The UTC days [first, last) inside the window that ended before ``now``; None when there are none."""
    first = math.ceil(window.since / DAY) * DAY
    last = math.floor(min(window.until, now) / DAY) * DAY
    return (first, last) if last > first else None


class Served(NamedTuple):
    span: tuple[float, float]  # the days [first, last) the roll-ups serve
    days: list[DayRow]
    runs: list[RunDayRow]


async def served_days(engine: AsyncEngine, window: Window, now: float,
                      clock: Callable[[], float] = time.time) -> Served | None:
    """The roll-ups serving the window's whole days (stale ones recomputed first), or None: read it all raw."""
    span = whole_days(window, now)
    if window.filters.any or span is None:
        return None
    try:
        days, runs = await _rollups(engine, span, clock)
        return Served(span, days, runs)
    except sa.exc.DBAPIError as exc:  # read-only, locked, not migrated: the raw path gives the same figures
        log.warning("report_rollups_unavailable", error=str(getattr(exc, "orig", exc))[:300])
        return None


async def _rollups(engine: AsyncEngine, span: tuple[float, float],
                   clock: Callable[[], float]) -> tuple[list[DayRow], list[RunDayRow]]:
    first, last = span
    d = t.rollup_days.c
    async with engine.connect() as conn:
        states = {row.day: row for row in await conn.execute(
            sa.select(d.day, d.changes, d.computed).where(d.day >= first, d.day < last))}
    days = [first + k * DAY for k in range(round((last - first) / DAY))]
    for day in days:
        state = states.get(day)
        if state is None or state.computed is None or state.computed != state.changes:
            await refresh_day(engine, day, clock())
    f = t.rollup_figures.c
    async with engine.connect() as conn:
        rows = [DayRow(float(r.day), r.dim, r.value, int(r.incidents), int(r.notifications), int(r.alerts),
                       int(r.symptoms), int(r.duplicates), int(r.reopened), int(r.acknowledged), float(r.tta_sum),
                       int(r.resolved), float(r.ttr_sum), dict(r.sla or {}), dict(r.tta_hist or {}),
                       dict(r.ttr_hist or {}), dict(r.minutes or {}), dict(r.alert_names or {}))
                for r in await conn.execute(sa.select(t.rollup_figures).where(f.day >= first, f.day < last))]
        u = t.rollup_runs.c
        runs = [RunDayRow(float(r.day), r.state, int(r.runs), float(r.saves)) for r in await conn.execute(
            sa.select(u.day, u.state, u.runs, u.saves).where(u.day >= first, u.day < last))]
    return rows, runs


async def pending_days(engine: AsyncEngine, now: float, limit: int) -> list[float]:
    """Up to ``limit`` ended days whose roll-up is stale or missing, the most recent first (what a report of
    this month would compute)."""
    d = t.rollup_days.c
    stale = sa.or_(d.computed.is_(None), d.computed != d.changes)
    async with engine.connect() as conn:
        return [float(day) for day in (await conn.execute(
            sa.select(d.day).where(stale, d.day + DAY <= now).order_by(d.day.desc()).limit(limit))).scalars()]


async def roll_up_ended(engine: AsyncEngine, now: float, limit: int, horizon_days: int = 400) -> int:
    """Compute up to ``limit`` stale roll-ups of days that ended before ``now`` (``refresh_day``: under the day's
    row lock, so a report computing the same day waits and then finds it fresh); returns how many were computed.
    Bounded, so a caller on a loop it shares (the history writer's) is held at most ``limit`` days' work. When
    nothing is stale, the ended days of the last ``horizon_days`` that nothing was written for (no ``rollup_days``
    row: nothing happened, or a history filled by other means) get a row, to be computed in the next rounds, so a
    report finds those days computed too."""
    days = await pending_days(engine, now, limit)
    for day in days:
        await refresh_day(engine, day, now)
    if not days:
        await _add_missing_days(engine, now, horizon_days)
    return len(days)


async def _add_missing_days(engine: AsyncEngine, now: float, horizon_days: int) -> None:
    last = math.floor(now / DAY) * DAY
    first = last - horizon_days * DAY
    d = t.rollup_days.c
    async with engine.connect() as conn:
        known = {float(day) for day in (await conn.execute(
            sa.select(d.day).where(d.day >= first, d.day < last))).scalars()}
    missing = [first + k * DAY for k in range(horizon_days) if first + k * DAY not in known]
    if missing:
        insert = _insert(engine)
        async with engine.begin() as conn:
            await conn.execute(insert(t.rollup_days).values([{"day": day, "changes": 0} for day in missing])
                               .on_conflict_do_nothing())


async def refresh_day(engine: AsyncEngine, day: float, now: float) -> None:
    """Compute one day's roll-up from the history's rows and record the change count it reflects."""
    insert = _insert(engine)
    d = t.rollup_days.c
    async with engine.begin() as conn:
        await conn.execute(insert(t.rollup_days).values(day=day, changes=0).on_conflict_do_nothing())
        state = (await conn.execute(sa.select(d.changes, d.computed).where(d.day == day).with_for_update())).one()
        if state.computed is not None and state.computed == state.changes:
            return  # another report computed it while this one waited for the lock
        rows = await _compute(conn, day)
        runs = await run_day_rows(conn, day)
        await conn.execute(sa.delete(t.rollup_figures).where(t.rollup_figures.c.day == day))
        await conn.execute(sa.delete(t.rollup_runs).where(t.rollup_runs.c.day == day))
        if rows:
            await conn.execute(sa.insert(t.rollup_figures), rows)
        if runs:
            await conn.execute(sa.insert(t.rollup_runs), runs)
        await conn.execute(sa.update(t.rollup_days).where(d.day == day)
                           .values(computed=state.changes, computed_at=now))


async def _compute(conn: AsyncConnection, day: float) -> list[dict[str, Any]]:
    rows = await incident_rows(conn, Window(day, day + DAY))
    names = {a.alertname: [a.notifications, a.incidents, a.flapping_incidents]
             for a in await alert_names(conn, Window(day, day + DAY))}
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    minutes: dict[str, int] = defaultdict(int)
    for r in rows.incidents:
        reopened, sla = r.id in rows.reopened, rows.sla.get(r.id, ())
        tallies[("all", "")].add(r, reopened, sla)
        for dim in DIMS:
            tallies[(dim, getattr(r, dim))].add(r, reopened, sla)
        minutes[str(int((r.created_at - day) // 60))] += 1
    return [{"day": day, "dim": dim, "value": value, **tally.rollup(),
             "minutes": dict(sorted(minutes.items(), key=lambda kv: int(kv[0]))) if dim == "all" else {},
             "alert_names": dict(sorted(names.items())) if dim == "all" else {}}
            for (dim, value), tally in sorted(tallies.items())]


def _insert(engine: AsyncEngine) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

