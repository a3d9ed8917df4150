"""A generated history and the time of representative queries on it (docs/performance.md, "The history").

``generate`` fills a history database with ``incidents`` incidents spread over a year (members, labels, timeline
entries, a few problems and runs), as fast as the driver allows (PostgreSQL: COPY; SQLite: executemany in large
transactions). ``measure`` runs the report and search queries people wait for and gives the median of a few runs.
Outside the production path: only ``stormwatch history generate`` and ``stormwatch history bench`` call it.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from stormwatch.history import schema as t
from stormwatch.history.queries import SearchFilter, incident, search

DAY = 86400.0
TEAMS = 20
SERVICES = 200
ALERTNAMES = ("DiskFull", "HighLatency", "PodCrashLooping", "TargetDown", "ErrorRate", "CertExpiry", "OOMKilled",
              "ReplicationLag", "QueueBacklog", "NodeNotReady")
CHUNK = 20_000


def _rows(n: int, end: float, seed: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(table, rows) chunks of a generated history: ``n`` incidents over the year before ``end``."""
    rng = random.Random(seed)  # noqa: S311 - generated test data, not secrets
    start = end - 365 * DAY
    groups: dict[str, tuple[int, float]] = {}
    buf: dict[str, list[dict[str, Any]]] = {name: [] for name in (
        "incidents", "incident_groups", "incident_alerts", "incident_labels", "timeline_entries")}
    for k in range(n):
        service = f"svc-{rng.randrange(SERVICES)}"
        alertname = ALERTNAMES[rng.randrange(len(ALERTNAMES))]
        gid = hashlib.blake2b(f"{service}|{alertname}".encode(), digest_size=6).hexdigest()
        created = start + (end - start) * k / n + rng.random()
        resolved = created + rng.expovariate(1 / 1800) if rng.random() < 0.95 else None
        acked = created + rng.expovariate(1 / 300) if rng.random() < 0.8 else None
        iid = f"INC-{gid}-{k + 1}"
        members = rng.randint(1, 4)
        labels = {"alertname": alertname, "service": service}
        version = f"{created:020.6f}"
        buf["incidents"].append({
            "id": iid, "group_id": gid, "seq": k + 1, "title": f"{alertname} on {service}",
            "status": "resolved" if resolved else ("acknowledged" if acked else "open"),
            "severity": rng.choice(("critical", "warning")), "priority": f"P{rng.randint(1, 5)}",
            "rule": "default", "team": f"team-{rng.randrange(TEAMS)}", "service": service,
            "group_key": f"{{}}:{{alertname=\"{alertname}\",service=\"{service}\"}}", "group_labels": labels,
            "why": {}, "created_at": created, "updated_at": resolved or created, "resolved_at": resolved,
            "resolve_at": None, "first_acknowledged_at": acked, "first_resolved_at": resolved, "alerts": members,
            "firing": 0 if resolved else members, "flapping": 0, "occurrences": members * rng.randint(1, 5),
            "symptoms": 0, "assignee": None, "acknowledged_by": "sre" if acked else None, "acknowledged_at": acked,
            "resolved_by": None, "reopened_by": None, "people_version": "", "version": version})
        groups[gid] = (k + 1, created)
        for name, value in labels.items():
            buf["incident_labels"].append({"incident_id": iid, "name": name, "value": value})
        for m in range(members):
            fp = f"{rng.getrandbits(64):016x}"
            member_labels = {**labels, "instance": f"host-{m}"}
            buf["incident_alerts"].append({
                "incident_id": iid, "fingerprint": fp, "group_id": gid, "alertname": alertname,
                "status": "resolved" if resolved else "firing", "labels": member_labels,
                "state": {"fingerprint": fp, "labels": member_labels}, "first_seen": created,
                "last_seen": resolved or created, "notifications": rng.randint(1, 20), "flapping": False,
                "version": version})
        buf["timeline_entries"].append(_entry(f"e{k}:c", "incident.created", iid, created, None, "open"))
        if acked:
            buf["timeline_entries"].append(_entry(f"e{k}:a", "incident.acknowledged", iid, acked, "sre",
                                                  "acknowledged"))
        if resolved:
            buf["timeline_entries"].append(_entry(f"e{k}:r", "incident.resolved", iid, resolved, None, "resolved"))
        if len(buf["incident_alerts"]) >= CHUNK:
            for name, rows in buf.items():
                if rows:
                    yield name, rows
            buf = {name: [] for name in buf}
    buf["incident_groups"] = [{"group_id": g, "last_seq": seq, "last_created_at": at}
                              for g, (seq, at) in groups.items()]
    for name, rows in buf.items():
        if rows:
            yield name, rows


def _entry(event_id: str, kind: str, incident_id: str, at: float, by: str | None, status: str) -> dict[str, Any]:
    """A timeline row (a table row, not an event: the history's rows of the event's kind)."""
    values = (event_id, kind, incident_id, None, at, by, kind.removeprefix("incident."), status, "")
    return dict(zip(("event_id", "type", "incident_id", "problem_id", "at", "by", "reason", "status", "priority"),
                    values, strict=True))


async def generate(engine: AsyncEngine, incidents: int, *, end: float | None = None, seed: int = 17,
                   progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Fill the (migrated, empty) history; returns rows written per table."""
    written: dict[str, int] = {}
    async with engine.begin() as conn:
        for table, rows in _rows(incidents, end if end is not None else time.time(), seed):
            await _write(conn, t.metadata.tables[table], rows)
            written[table] = written.get(table, 0) + len(rows)
            if progress is not None and table == "incidents":
                progress(written[table])
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("ANALYZE"))
    else:
        async with engine.begin() as conn:
            await conn.execute(sa.text("ANALYZE"))
    return written


async def _write(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        if not rows:
            return
        names = [c.name for c in table.columns if c.name in rows[0]]  # the rest: their defaults (null)
        json_columns = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
        records = [tuple(orjson.dumps(r[n]).decode() if n in json_columns else r[n] for n in names) for r in rows]
        await driver.copy_records_to_table(table.name, records=records, columns=names)
        return
    await conn.execute(sa.insert(table), rows)


#: the queries measured: name -> (what it answers, how it is run)
Query = Callable[[AsyncEngine, float], Awaitable[Any]]


async def _mtt_by_team(engine: AsyncEngine, now: float) -> Any:
    i = t.incidents.c
    q = (sa.select(i.team, sa.func.count(), sa.func.avg(i.first_acknowledged_at - i.created_at),
                   sa.func.avg(i.first_resolved_at - i.created_at))
         .where(i.created_at >= now - 30 * DAY).group_by(i.team))
    async with engine.connect() as conn:
        return (await conn.execute(q)).all()


async def _daily_for_service(engine: AsyncEngine, now: float) -> Any:
    i = t.incidents.c
    day = sa.cast(sa.func.floor(i.created_at / DAY), sa.BigInteger)
    q = (sa.select(day, sa.func.count()).where(i.service == "svc-17", i.created_at >= now - 90 * DAY)
         .group_by(day).order_by(day))
    async with engine.connect() as conn:
        return (await conn.execute(q)).all()


async def _noisiest(engine: AsyncEngine, now: float) -> Any:
    a = t.incident_alerts.c
    total = sa.func.sum(a.notifications)
    q = (sa.select(a.alertname, total, sa.func.count(sa.distinct(a.incident_id)))
         .where(a.first_seen >= now - 7 * DAY)
         .group_by(a.alertname).order_by(total.desc()).limit(10))
    async with engine.connect() as conn:
        return (await conn.execute(q)).all()


async def _acks_in_month(engine: AsyncEngine, now: float) -> Any:
    e = t.timeline_entries.c
    q = sa.select(sa.func.count()).where(e.type == "incident.acknowledged", e.at >= now - 30 * DAY)
    async with engine.connect() as conn:
        return (await conn.execute(q)).scalar()


async def _search_label(engine: AsyncEngine, now: float) -> Any:
    return await search(engine, SearchFilter(labels=(("service", "svc-17"),), since=now - 30 * DAY, limit=50))


async def _search_text(engine: AsyncEngine, now: float) -> Any:
    return await search(engine, SearchFilter(text="latency on svc-42", limit=50))


async def _search_team_resolved(engine: AsyncEngine, now: float) -> Any:
    return await search(engine, SearchFilter(team="team-3", status="resolved", since=now - 7 * DAY, limit=50))


async def _detail(engine: AsyncEngine, now: float) -> Any:
    async with engine.connect() as conn:
        iid = (await conn.execute(sa.select(t.incidents.c.id).order_by(t.incidents.c.created_at.desc()).limit(1)
                                  .offset(5000))).scalar()
    return await incident(engine, str(iid))


QUERIES: dict[str, tuple[str, Query]] = {
    "mtta_mttr_by_team_30d": ("MTTA and MTTR per team, last 30 days", _mtt_by_team),
    "daily_incidents_one_service_90d": ("incidents per day of one service, last 90 days", _daily_for_service),
    "noisiest_alertnames_7d": ("top alertnames by notifications, last 7 days", _noisiest),
    "acknowledgements_30d": ("acknowledgements in the last 30 days (timeline)", _acks_in_month),
    "search_label_30d": ("search: label service=svc-17, last 30 days, 50 newest", _search_label),
    "search_text_all_time": ("search: text 'latency on svc-42', all time, 50 newest", _search_text),
    "search_team_resolved_7d": ("search: team-3, resolved, last 7 days", _search_team_resolved),
    "incident_detail": ("one incident with members, timeline, runs", _detail),
}


async def measure(engine: AsyncEngine, now: float, runs: int = 5) -> dict[str, float]:
    """Median milliseconds per query (the first run warms the cache and is not counted)."""
    out = {}
    for name, (_, query) in QUERIES.items():
        await query(engine, now)
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            await query(engine, now)
            times.append((time.perf_counter() - began) * 1000)
        out[name] = statistics.median(times)
    return out
