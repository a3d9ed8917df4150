"""The rows a report reads from the history (SQLAlchemy Core, the same SQL on SQLite and PostgreSQL).

Every query is bounded by the window on an indexed time column and the filters on indexed columns
(``ix_incidents_team_created_at`` and its siblings); aggregation that the dialects would do differently
(percentiles) is left to ``figures`` in Python, over the durations fetched here. docs/reports.md defines each figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stormwatch.history import schema as t
from stormwatch.reports.window import Window


class IncidentRow(NamedTuple):
    id: str
    created_at: float
    first_acknowledged_at: float | None
    first_resolved_at: float | None
    occurrences: int
    alerts: int
    symptoms: int
    team: str
    service: str
    priority: str


class AlertNameRow(NamedTuple):
    """One alert name over the member alerts of the window's incidents."""

    alertname: str
    notifications: int  # sum of its members' notifications
    incidents: int  # incidents it was a member of
    flapping_incidents: int  # of those, incidents it was recorded flapping in (docs/reports.md)


class RunRow(NamedTuple):
    run_id: str
    incident_id: str
    action: str
    state: str
    created_at: float
    finished_at: float | None
    saves: float | None  # seconds a successful run saves, as the action states it (rules: `saves`)


class ProblemCount(NamedTuple):
    id: str
    title: str
    status: str
    incidents: int


class SlaRow(NamedTuple):
    """An SLA record of an incident of the window, as the history holds it (its latest SLA event)."""

    incident_id: str
    kind: str  # respond | resolve
    stage: str  # running | warning | met | breached
    met_at: float | None
    breached_at: float | None


class DayRow(NamedTuple):
    """A roll-up row (``rollup_figures``): the figures of the incidents opened on one UTC day, all of them
    (``dim`` "all") or one team's, service's or priority's."""

    day: float
    dim: str
    value: str
    incidents: int
    notifications: int
    alerts: int
    symptoms: int
    duplicates: int
    reopened: int
    acknowledged: int
    tta_sum: float
    resolved: int
    ttr_sum: float
    sla: dict[str, int]
    tta_hist: dict[str, int]
    ttr_hist: dict[str, int]
    minutes: dict[str, int]
    alert_names: dict[str, list[int]]  # "all" only: alertname -> [notifications, incidents, flapping incidents]


class RunDayRow(NamedTuple):
    """A run roll-up row (``rollup_runs``): the action runs created on one UTC day in one state."""

    day: float
    state: str
    runs: int
    saves: float  # the seconds they save, as their actions state it


class SilenceRow(NamedTuple):
    id: str
    starts_at: float
    ends_at: float
    expired_at: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Rows:
    """Everything one window's figures are computed from."""

    incidents: Sequence[IncidentRow]
    reopened: frozenset[str]  # incidents with an incident.reopened entry
    runs: Sequence[RunRow]
    silences: Sequence[SilenceRow]
    alert_names: Sequence[AlertNameRow] = ()  # the lists: read for the report's own window only
    problems: Sequence[ProblemCount] = ()
    sla: Mapping[str, Sequence[SlaRow]] = field(default_factory=dict)  # incident id -> its SLA records
    #: roll-up rows of the days they serve (``rollup.py``); ``incidents`` then holds only the other days' incidents
    days: Sequence[DayRow] = ()
    #: run roll-up rows of the days they serve; ``runs`` then holds only the runs created on the other days
    run_days: Sequence[RunDayRow] = ()
    #: with roll-ups: the incidents resolved after an action, counted by the database (roll-ups keep no runs)
    resolved_after_action: int | None = None


#: the reason of the incident.updated event the engine publishes when a member starts flapping
FLAPPING_REASON = "alert flapping"
TOP = 10


def opened_in(window: Window) -> sa.ColumnElement[bool]:
    """Incidents opened in the window under its filters (the rows every incident figure counts)."""
    return _opened(window)


def _opened(window: Window, served: tuple[float, float] | None = None) -> sa.ColumnElement[bool]:
    """Incidents opened in the window, filtered; ``served``: less the days [first, last) roll-ups serve."""
    c = t.incidents.c
    clauses = [c.created_at >= window.since, c.created_at < window.until]
    if served is not None:
        clauses.append(sa.or_(c.created_at < served[0], c.created_at >= served[1]))
    f = window.filters
    if f.team:
        clauses.append(c.team == f.team)
    if f.service:
        clauses.append(c.service == f.service)
    if f.priority:
        clauses.append(c.priority == f.priority)
    return sa.and_(*clauses)


async def read_rows(engine: AsyncEngine, window: Window, *, lists: bool = True,
                    days: Sequence[DayRow] = (), served: tuple[float, float] | None = None,
                    run_days: Sequence[RunDayRow] = ()) -> Rows:
    """The window's rows; ``lists``: also the alert names and problems (the previous window needs none).
    ``days``, ``run_days``: roll-up rows serving the days [first, last) of ``served``: their incidents and runs
    are not read."""
    async with engine.connect() as conn:
        return await _read(conn, window, lists, days, served, run_days)


async def incident_rows(conn: AsyncConnection, window: Window) -> Rows:
    """The incidents opened in the window with their reopens and SLA records (what a roll-up is computed from)."""
    return await _incidents(conn, window, None)


async def _incidents(conn: AsyncConnection, window: Window, served: tuple[float, float] | None) -> Rows:
    i = t.incidents.c
    opened = _opened(window, served)
    incidents = [IncidentRow._make(row) for row in await conn.execute(
        sa.select(i.id, i.created_at, i.first_acknowledged_at, i.first_resolved_at, i.occurrences, i.alerts,
                  i.symptoms, i.team, i.service, i.priority).where(opened))]
    tl = t.timeline_entries.c
    # an incident's entries come after its opening: `at >= since` lets ix_timeline_type_at bound the scan
    reopened = frozenset(r[0] for r in await conn.execute(
        sa.select(tl.incident_id).distinct().where(tl.type == "incident.reopened", tl.at >= window.since,
                                                   tl.incident_id.in_(sa.select(i.id).where(opened)))))
    return Rows(incidents, reopened, (), (), sla=await _sla(conn, opened))


async def _read(conn: AsyncConnection, window: Window, lists: bool, days: Sequence[DayRow],
                served: tuple[float, float] | None, run_days: Sequence[RunDayRow]) -> Rows:
    i = t.incidents.c
    base = await _incidents(conn, window, served)
    after_action = await resolved_after_action(conn, window) if served is not None else None
    rows = Rows(base.incidents, base.reopened, await _runs(conn, window, served), await _silences(conn, window),
                sla=base.sla, days=days, run_days=run_days, resolved_after_action=after_action)
    if not lists:
        return rows
    # the alert names of the incidents read raw, plus the roll-ups' (an incident is in one day: the sums are exact)
    names = await _alert_names(conn, window, sa.select(i.id).where(_opened(window, served)))
    if days:
        names = merge_alert_names([names, *(day_alert_names(d) for d in days if d.dim == "all")])
    return Rows(rows.incidents, rows.reopened, rows.runs, rows.silences, names,
                await _problems(conn, window), rows.sla, days, run_days, after_action)


async def alert_names(conn: AsyncConnection, window: Window) -> list[AlertNameRow]:
    """Per alert name over the incidents opened in the window (what a roll-up keeps of them)."""
    return await _alert_names(conn, window, sa.select(t.incidents.c.id).where(_opened(window)))


def day_alert_names(day: DayRow) -> list[AlertNameRow]:
    return [AlertNameRow(name, int(v[0]), int(v[1]), int(v[2])) for name, v in day.alert_names.items()]


def merge_alert_names(parts: Sequence[Sequence[AlertNameRow]]) -> list[AlertNameRow]:
    totals: dict[str, list[int]] = {}
    for part in parts:
        for row in part:
            total = totals.setdefault(row.alertname, [0, 0, 0])
            total[0] += row.notifications
            total[1] += row.incidents
            total[2] += row.flapping_incidents
    return [AlertNameRow(name, *v) for name, v in totals.items()]


async def resolved_after_action(conn: AsyncConnection, window: Window) -> int:
    """The incidents opened in the window first resolved at or after a successful run of the window finished
    (``figures.automation``'s ``resolved_after_action``, counted by the database: one row back)."""
    i, r = t.incidents.c, t.action_runs.c
    # driven by the window's runs (ix_action_runs_created_at), each joined to its incident by its key
    query = (sa.select(sa.func.count(sa.distinct(i.id)))
             .select_from(t.action_runs.join(t.incidents, i.id == r.incident_id))
             .where(r.state == "succeeded", r.incident_id != "", r.finished_at.is_not(None),
                    r.created_at >= window.since, r.created_at < window.until, _opened(window),
                    i.first_resolved_at.is_not(None), r.finished_at <= i.first_resolved_at))
    return int((await conn.execute(query)).scalar() or 0)


async def _sla(conn: AsyncConnection, opened: sa.ColumnElement[bool]) -> dict[str, list[SlaRow]]:
    """The SLA records of the window's incidents (a join on the record's key: the incident id leads it)."""
    s, i = t.sla_records.c, t.incidents.c
    query = (sa.select(s.incident_id, s.kind, s.stage, s.met_at, s.breached_at)
             .select_from(t.sla_records.join(t.incidents, i.id == s.incident_id)).where(opened))
    out: dict[str, list[SlaRow]] = {}
    for row in await conn.execute(query):
        out.setdefault(row.incident_id, []).append(SlaRow._make(row))
    return out


async def _alert_names(conn: AsyncConnection, window: Window, in_window: sa.Select[Any]) -> list[AlertNameRow]:
    """Per alert name: notifications, incidents, incidents flapped in (aggregated in SQL: one row per name)."""
    m, tl = t.incident_alerts.c, t.timeline_entries.c
    noted = sa.select(tl.incident_id).where(tl.type == "incident.updated", tl.at >= window.since,
                                            tl.reason == FLAPPING_REASON, tl.incident_id.in_(in_window))
    flapped = sa.case((sa.or_(m.flapping.is_(True), m.incident_id.in_(noted)), m.incident_id))
    query = (sa.select(m.alertname, sa.func.sum(m.notifications), sa.func.count(sa.distinct(m.incident_id)),
                       sa.func.count(sa.distinct(flapped)))
             .where(m.incident_id.in_(in_window)).group_by(m.alertname))
    return [AlertNameRow(name, int(n or 0), int(k), int(f)) for name, n, k, f in await conn.execute(query)]


async def run_day_rows(conn: AsyncConnection, day: float) -> list[dict[str, Any]]:
    """The run roll-up of one UTC day (``rollup_runs`` rows): runs created that day per state, with the seconds
    they save (the same ``saves`` the raw path extracts, added up in Python: the same sums either way)."""
    runs = await _runs(conn, Window(day, day + 86_400.0))
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        row = out.setdefault(run.state, {"day": day, "state": run.state, "runs": 0, "saves": 0.0})
        row["runs"] += 1
        if run.saves is not None:
            row["saves"] += run.saves
    return [out[state] for state in sorted(out)]


async def _runs(conn: AsyncConnection, window: Window,
                served: tuple[float, float] | None = None) -> list[RunRow]:
    r = t.action_runs.c
    # the record's `saves` only, extracted by the database (decoding every run's whole record cost more than the
    # rest of a month's report)
    saves = r.record["saves"].as_string().label("saves")
    query = sa.select(r.run_id, r.incident_id, r.action, r.state, r.created_at, r.finished_at, saves)
    if window.filters.any:  # only runs of the incidents counted (a problem's run has no team, service or priority)
        query = query.where(r.incident_id.in_(sa.select(t.incidents.c.id).where(_opened(window))))
    else:
        query = query.where(r.created_at >= window.since, r.created_at < window.until)
        if served is not None:  # the runs the roll-ups do not serve: created on the window's ragged ends
            query = query.where(sa.or_(r.created_at < served[0], r.created_at >= served[1]))
    return [RunRow(row.run_id, row.incident_id, row.action, row.state, float(row.created_at or 0),
                   row.finished_at, _seconds(row.saves)) for row in await conn.execute(query)]


def _seconds(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


async def _problems(conn: AsyncConnection, window: Window) -> list[ProblemCount]:
    """The problems with the most incidents opened in the window (linked ones only)."""
    pi, p = t.problem_incidents.c, t.problems.c
    count = sa.func.count(pi.incident_id).label("n")
    query = (sa.select(p.id, p.title, p.status, count)
             .select_from(t.problem_incidents.join(t.problems, p.id == pi.problem_id))
             .where(pi.linked.is_(True), pi.incident_id.in_(sa.select(t.incidents.c.id).where(_opened(window))))
             .group_by(p.id, p.title, p.status).order_by(count.desc(), p.id).limit(TOP))
    return [ProblemCount(row.id, row.title, row.status, int(row.n)) for row in await conn.execute(query)]


async def _silences(conn: AsyncConnection, window: Window) -> list[SilenceRow]:
    """Silences in effect at some moment of the window (silences carry no team or service: never filtered)."""
    s = t.silences.c
    query = sa.select(s.id, s.starts_at, s.ends_at, s.expired_at, s.created_at).where(
        s.starts_at < window.until, sa.func.coalesce(s.expired_at, s.ends_at) > window.since)
    return [SilenceRow._make(row) for row in await conn.execute(query)]
