"""Reading the history: incident search (the API's ``GET /api/v1/history/incidents`` and ``stormwatch history
search``), including incidents Redis no longer holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from stormwatch.history import schema as t
from stormwatch.moments import parse_moment

MAX_LIMIT = 1000
#: the incident fields a search answers with (the row's own, as the API shows an incident, plus first times)
FIELDS = ("id", "title", "status", "severity", "priority", "rule", "team", "service", "group_key", "group_labels",
          "created_at", "updated_at", "resolved_at", "first_acknowledged_at", "first_resolved_at", "alerts",
          "occurrences", "symptoms", "assignee", "acknowledged_by", "resolved_by")


class BadQuery(ValueError):
    """A search parameter that cannot be used; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def parse_when(value: str, now: float, field_name: str) -> float:
    """A moment (:func:`stormwatch.moments.parse_moment`); BadQuery naming ``field_name``."""
    try:
        return parse_moment(value, now)
    except ValueError as exc:
        raise BadQuery(field_name, str(exc)) from None


def parse_label(value: str) -> tuple[str, str]:
    name, eq, label_value = value.partition("=")
    if not eq or not name.strip():
        raise BadQuery("label", f"{value!r} is not name=value")
    return name.strip(), label_value


@dataclass(frozen=True, slots=True)
class SearchFilter:
    text: str = ""  # in the title or the id (case-insensitive)
    labels: tuple[tuple[str, str], ...] = ()  # every pair: a group label or a member's label
    team: str = ""
    service: str = ""
    status: str = ""  # open | acknowledged | resolved
    since: float | None = None  # created at or after
    until: float | None = None  # created before
    limit: int = 100
    offset: int = 0


async def search(engine: AsyncEngine, f: SearchFilter) -> dict[str, Any]:
    """Incidents matching every given filter, newest first: ``{"incidents": [...], "more": bool}``."""
    i = t.incidents.c
    where: list[Any] = []
    if f.text:
        pattern = "%" + f.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(sa.or_(sa.func.lower(i.title).like(pattern, escape="\\"),
                            sa.func.lower(i.id).like(pattern, escape="\\")))
    if f.team:
        where.append(i.team == f.team)
    if f.service:
        where.append(i.service == f.service)
    if f.status:
        where.append(i.status == f.status)
    if f.since is not None:
        where.append(i.created_at >= f.since)
    if f.until is not None:
        where.append(i.created_at < f.until)
    for name, value in f.labels:
        lab = t.incident_labels.c
        where.append(sa.exists().where(lab.incident_id == i.id, lab.name == name, lab.value == value))
    limit = max(1, min(f.limit, MAX_LIMIT))
    query = (sa.select(*(t.incidents.c[name] for name in FIELDS)).where(*where)
             .order_by(i.created_at.desc(), i.id.desc()).limit(limit + 1).offset(max(0, f.offset)))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return {"incidents": [_plain(r) for r in rows[:limit]], "more": len(rows) > limit}


async def incident(engine: AsyncEngine, incident_id: str) -> dict[str, Any] | None:
    """One incident with its members, symptoms, timeline, runs and problems, as the history holds it."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(t.incidents).where(t.incidents.c.id == incident_id))).mappings().first()
        if row is None:
            return None
        doc = {k: v for k, v in _plain(row).items() if k not in ("version", "people_version")}
        doc["members"] = [_plain(r) for r in (await conn.execute(
            sa.select(t.incident_alerts.c.fingerprint, t.incident_alerts.c.status, t.incident_alerts.c.labels,
                      t.incident_alerts.c.first_seen, t.incident_alerts.c.last_seen,
                      t.incident_alerts.c.notifications, t.incident_alerts.c.flapping)
            .where(t.incident_alerts.c.incident_id == incident_id)
            .order_by(t.incident_alerts.c.first_seen))).mappings()]
        doc["symptom_alerts"] = [_plain(r) for r in (await conn.execute(
            sa.select(t.incident_symptoms.c.fingerprint, t.incident_symptoms.c.labels, t.incident_symptoms.c.at)
            .where(t.incident_symptoms.c.incident_id == incident_id)
            .order_by(t.incident_symptoms.c.at))).mappings()]
        doc["timeline"] = [_plain(r) for r in (await conn.execute(
            sa.select(t.timeline_entries.c.at, t.timeline_entries.c.type, t.timeline_entries.c.by,
                      t.timeline_entries.c.reason, t.timeline_entries.c.event_id)
            .where(t.timeline_entries.c.incident_id == incident_id)
            .order_by(t.timeline_entries.c.at, t.timeline_entries.c.event_id))).mappings()]
        doc["runs"] = [_plain(r) for r in (await conn.execute(
            sa.select(t.action_runs.c.run_id, t.action_runs.c.action, t.action_runs.c.state,
                      t.action_runs.c.created_at, t.action_runs.c.finished_at)
            .where(t.action_runs.c.incident_id == incident_id)
            .order_by(t.action_runs.c.created_at))).mappings()]
        doc["problems"] = [r[0] for r in await conn.execute(
            sa.select(t.problem_incidents.c.problem_id).where(
                t.problem_incidents.c.incident_id == incident_id, t.problem_incidents.c.linked))]
    return doc


class HistoryQueries:
    """The reads the API serves, over one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def search(self, f: SearchFilter) -> dict[str, Any]:
        return await search(self.engine, f)

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        return await incident(self.engine, incident_id)


def _plain(row: Any) -> dict[str, Any]:
    """A row as a dict with plain ``str`` keys (SQLAlchemy's are a str subclass that orjson refuses)."""
    return {str(k): v for k, v in row.items()}
