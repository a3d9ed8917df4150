"""Muted notifications in a report (issue 17): how many firing notifications silences, maintenance windows and
change windows kept out of incidents, and which of them muted the most. Its own section of the report document
(``muted``), beside the figures: docs/reports.md.

From ``muted_days`` (one row per UTC day, reason, team and service, written from ``alert.muted`` events): a day
counts in the window when it starts in it (``since <= day < until``), so a window that does not start at midnight
UTC counts whole days. A report's ``team`` and ``service`` filters apply as to incidents (the team and service an
incident of the muted alerts would have); ``priority`` does not (a muted notification opens no incident to have
one): ``filtered`` says when it was set. ``read_muted`` is the SQL (the same on SQLite and PostgreSQL);
``muted_section`` is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from stormwatch.history import schema as t
from stormwatch.reports.window import Window

#: the section's figures, in the order tables and CSV list them
MUTED_FIGURES = ("muted_notifications", "muted_by_silences", "muted_by_maintenance", "muted_by_change_windows")
LABELS = {"muted_notifications": "Muted notifications", "muted_by_silences": "Muted by silences",
          "muted_by_maintenance": "Muted by maintenance windows",
          "muted_by_change_windows": "Muted by change windows"}
_BY_KIND = {"silence": "muted_by_silences", "maintenance": "muted_by_maintenance", "change": "muted_by_change_windows"}
#: the reasons listed, by notifications muted
TOP = 10


async def read_muted(engine: AsyncEngine, window: Window) -> dict[str, tuple[str, int]]:
    """reason -> (kind, notifications muted) over the days that start in the window, of the window's team and
    service when it names them (one query on the table's key: day first)."""
    m = t.muted_days.c
    where = [m.day >= window.since, m.day < window.until]
    if window.filters.team:
        where.append(m.team == window.filters.team)
    if window.filters.service:
        where.append(m.service == window.filters.service)
    async with engine.connect() as conn:
        rows = (await conn.execute(
            sa.select(m.reason, m.kind, sa.func.sum(m.notifications)).where(*where).group_by(m.reason, m.kind))).all()
    out: dict[str, tuple[str, int]] = {}
    for reason, kind, notifications in rows:
        _, before = out.get(reason, (kind, 0))
        out[reason] = (kind, before + int(notifications or 0))
    return out


def muted_figures(rows: Mapping[str, tuple[str, int]]) -> dict[str, int]:
    figures = dict.fromkeys(MUTED_FIGURES, 0)
    for kind, notifications in rows.values():
        figures["muted_notifications"] += notifications
        figures[_BY_KIND.get(kind, "muted_by_silences")] += notifications
    return figures


def muted_section(current: Mapping[str, tuple[str, int]], previous: Mapping[str, tuple[str, int]],
                  window: Window) -> dict[str, Any]:
    """The report's ``muted`` section: each figure with the previous window's value and the change, and the
    reasons that muted the most in the window (most first, then by name), each with its previous count."""
    now, before = muted_figures(current), muted_figures(previous)
    figures = {}
    for name in MUTED_FIGURES:
        change = now[name] - before[name]
        figures[name] = {"value": now[name], "previous": before[name], "change": change,
                         "relative_change": change / before[name] if before[name] else None}
    ranked = sorted(current.items(), key=lambda item: (-item[1][1], item[0]))[:TOP]
    top = []
    for reason, (kind, notifications) in ranked:
        was = previous.get(reason, (kind, 0))[1]
        top.append({"reason": reason, "kind": kind, "name": reason.partition(":")[2],
                    "notifications": notifications, "previous": was, "change": notifications - was})
    return {"figures": figures, "top": top, "filtered": bool(window.filters.priority)}
