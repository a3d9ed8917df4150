"""Major incidents in a report (issue 21): how many, how fast they were declared major, how people were kept
informed. Its own section of the report document (``major_incidents``), beside the figures: docs/reports.md.

Over the window's incidents (opened in it, under its filters) that became major: ``major_at`` on the history's
incident row (declared major, or promoted) and the ``incident.status_update`` entries of its timeline.
``read_majors`` is the SQL (the same on SQLite and PostgreSQL); ``major_figures`` is pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from stormwatch.history import schema as t
from stormwatch.reports.figures import mean, percentile
from stormwatch.reports.queries import opened_in
from stormwatch.reports.window import Window

#: the section's figures, in the order tables and CSV list them
MAJOR_FIGURES = (
    "major_incidents", "declared_major", "time_to_major_mean", "time_to_major_p50", "time_to_major_p90",
    "with_commander", "with_communications_lead", "status_updates", "updates_per_major",
    "time_to_first_update_p50", "time_to_first_update_p90",
    "time_between_updates_mean", "time_between_updates_p50", "time_between_updates_p90", "without_update",
)
LABELS = {
    "major_incidents": "Major incidents", "declared_major": "Declared major (not promoted)",
    "time_to_major_mean": "Time to major mean", "time_to_major_p50": "Time to major p50",
    "time_to_major_p90": "Time to major p90", "with_commander": "With an incident commander",
    "with_communications_lead": "With a communications lead", "status_updates": "Stakeholder updates",
    "updates_per_major": "Updates per major incident", "time_to_first_update_p50": "Time to first update p50",
    "time_to_first_update_p90": "Time to first update p90",
    "time_between_updates_mean": "Time between updates mean", "time_between_updates_p50": "Time between updates p50",
    "time_between_updates_p90": "Time between updates p90", "without_update": "Major incidents without an update",
}
DURATIONS = frozenset(name for name in MAJOR_FIGURES if name.startswith("time_"))


class MajorRow(NamedTuple):
    id: str
    created_at: float
    major_at: float
    commander: str | None
    communications_lead: str | None
    updates: tuple[float, ...]  # when each stakeholder update went out, oldest first


async def read_majors(engine: AsyncEngine, window: Window) -> list[MajorRow]:
    """The window's major incidents with the times of their stakeholder updates (two indexed queries)."""
    i, tl = t.incidents.c, t.timeline_entries.c
    majors = sa.and_(opened_in(window), i.major_at.is_not(None))
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(i.id, i.created_at, i.major_at, i.commander, i.communications_lead)
                                   .where(majors))).all()
        updates: dict[str, list[float]] = defaultdict(list)
        if rows:
            for incident_id, at in await conn.execute(
                    sa.select(tl.incident_id, tl.at).where(
                        tl.type == "incident.status_update", tl.at >= window.since,
                        tl.incident_id.in_(sa.select(i.id).where(majors)))):
                updates[incident_id].append(float(at))
    return [MajorRow(r.id, float(r.created_at), float(r.major_at), r.commander, r.communications_lead,
                     tuple(sorted(updates.get(r.id, ())))) for r in rows]


def major_figures(rows: Sequence[MajorRow]) -> dict[str, Any]:
    """The section's figures (pure). Time to major: from the incident opening to its becoming major (0 when it was
    declared major). Time to first update: from its becoming major to the first update. Time between updates: the
    gaps between one incident's consecutive updates, over every major incident."""
    to_major: list[float] = []
    first: list[float] = []
    gaps: list[float] = []
    declared = updates = commanded = led = silent = 0
    for r in rows:
        to_major.append(max(r.major_at - r.created_at, 0.0))
        declared += r.major_at <= r.created_at
        commanded += bool(r.commander)
        led += bool(r.communications_lead)
        updates += len(r.updates)
        if r.updates:
            first.append(max(r.updates[0] - r.major_at, 0.0))
            gaps += [b - a for a, b in zip(r.updates, r.updates[1:], strict=False)]
        else:
            silent += 1
    to_major.sort()
    first.sort()
    gaps.sort()
    count = len(rows)
    return {
        "major_incidents": count, "declared_major": declared, "time_to_major_mean": mean(to_major),
        "time_to_major_p50": percentile(to_major, 0.5, ordered=True),
        "time_to_major_p90": percentile(to_major, 0.9, ordered=True),
        "with_commander": commanded, "with_communications_lead": led, "status_updates": updates,
        "updates_per_major": updates / count if count else None,
        "time_to_first_update_p50": percentile(first, 0.5, ordered=True),
        "time_to_first_update_p90": percentile(first, 0.9, ordered=True),
        "time_between_updates_mean": mean(gaps), "time_between_updates_p50": percentile(gaps, 0.5, ordered=True),
        "time_between_updates_p90": percentile(gaps, 0.9, ordered=True), "without_update": silent,
    }


def major_section(current: Sequence[MajorRow], previous: Sequence[MajorRow]) -> dict[str, Any]:
    """The report's ``major_incidents`` section: each figure with the previous window's value and the change, and
    the window's major incidents (id, times, roles, updates), oldest first."""
    now, before = major_figures(current), major_figures(previous)
    figures = {}
    for name in MAJOR_FIGURES:
        change = now[name] - before[name] if now[name] is not None and before[name] is not None else None
        relative = change / before[name] if change is not None and before[name] else None
        figures[name] = {"value": now[name], "previous": before[name], "change": change, "relative_change": relative}
    incidents = [{"id": r.id, "created_at": r.created_at, "major_at": r.major_at, "commander": r.commander,
                  "communications_lead": r.communications_lead, "status_updates": len(r.updates),
                  "last_update_at": r.updates[-1] if r.updates else None}
                 for r in sorted(current, key=lambda r: (r.created_at, r.id))]
    return {"figures": figures, "incidents": incidents}
