"""Retention: what is older than ``STORMWATCH_HISTORY_RETENTION_DAYS`` leaves the history.

Resolved incidents resolved before the cut go with their members, symptoms, labels, timeline, problem links and
probable-cause links (a change no incident links any more goes with its last link);
resolved problems, silences that ended, finished action runs and applied-event ids follow the same cut. Open
incidents and problems stay whatever their age. ``incident_groups`` is never pruned: it is what keeps incident ids
from being issued twice (docs/history.md). Deleted in chunks, so no statement holds locks for long.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from stormwatch.history import schema as t
from stormwatch.history.store import HistoryStore, day_of

CHUNK = 2000


async def prune(engine: AsyncEngine, cutoff: float) -> dict[str, int]:
    """Delete what ended before ``cutoff`` (epoch seconds); returns rows deleted per table."""
    removed = {"incidents": 0, "problems": 0, "silences": 0, "action_runs": 0, "applied_events": 0}
    i = t.incidents.c
    while True:
        async with engine.begin() as conn:
            found = (await conn.execute(sa.select(i.id, i.created_at).where(
                i.status == "resolved", i.resolved_at < cutoff).limit(CHUNK))).all()
            ids = [r[0] for r in found]
            if not ids:
                break
            await HistoryStore(engine).touch_days(conn, {day_of(r[1]) for r in found})  # their roll-ups change
            for table in (t.incident_alerts, t.incident_symptoms, t.incident_labels, t.timeline_entries, t.sla_records,
                          t.incident_changes):
                await conn.execute(sa.delete(table).where(table.c.incident_id.in_(ids)))
            await conn.execute(sa.delete(t.problem_incidents).where(t.problem_incidents.c.incident_id.in_(ids)))
            removed["incidents"] += (await conn.execute(sa.delete(t.incidents).where(i.id.in_(ids)))).rowcount
    p = t.problems.c
    while True:
        async with engine.begin() as conn:
            ids = [r[0] for r in await conn.execute(
                sa.select(p.id).where(p.status == "resolved", p.resolved_at < cutoff).limit(CHUNK))]
            if not ids:
                break
            await conn.execute(sa.delete(t.problem_incidents).where(t.problem_incidents.c.problem_id.in_(ids)))
            await conn.execute(sa.delete(t.timeline_entries).where(t.timeline_entries.c.problem_id.in_(ids)))
            removed["problems"] += (await conn.execute(sa.delete(t.problems).where(p.id.in_(ids)))).rowcount
    async with engine.begin() as conn:
        ic = t.incident_changes.c
        linked = sa.select(ic.service).where(ic.service == t.changes.c.service, ic.change_id == t.changes.c.change_id)
        removed["changes"] = (await conn.execute(sa.delete(t.changes).where(
            t.changes.c.at < cutoff, ~linked.exists()))).rowcount
        removed["silences"] = (await conn.execute(sa.delete(t.silences).where(
            sa.func.coalesce(t.silences.c.expired_at, t.silences.c.ends_at) < cutoff))).rowcount
        runs = t.action_runs.c
        created = {day_of(r[0]) for r in await conn.execute(
            sa.select(runs.created_at).distinct().where(runs.finished_at < cutoff, runs.created_at.is_not(None)))}
        await HistoryStore(engine).touch_days(conn, created)  # their days' run roll-ups change
        removed["action_runs"] = (await conn.execute(sa.delete(t.action_runs).where(
            runs.finished_at < cutoff))).rowcount
        removed["muted_days"] = (await conn.execute(sa.delete(t.muted_days).where(
            t.muted_days.c.day + 86400.0 <= cutoff))).rowcount  # days that ended before the cutoff
        removed["applied_events"] = (await conn.execute(sa.delete(t.applied_events).where(
            t.applied_events.c.applied_at < cutoff))).rowcount
    return removed
