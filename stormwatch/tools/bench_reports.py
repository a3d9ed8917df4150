"""How long a report takes over a large history: ``python -m stormwatch.tools.bench_reports --url URL
--incidents 1000000``. Fills an empty history database with generated rows (bulk inserts straight into the tables:
the writer's own speed is the history's benchmark, not this one), then times reports over several windows.

Each incident: 2 member alerts, 3 timeline entries (opened, acknowledged, resolved), one in ten reopened (one
more entry), one in five with an action run; spread evenly over ``--days`` days before ``--end``.

``--stale`` marks every roll-up stale first (what a migration to 0006 does; to alternate with another version of
the report code on one database); ``--roll-up`` then computes every ended day's roll-up as the history writer's
background rounds do (``rollup.roll_up_ended``, ``--rollup-days`` a round, no pause between rounds), timed, before
the reports: the first report then finds every day warm, as a month after the writer ran would.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import sqlalchemy as sa

from stormwatch.history import migrate
from stormwatch.history import schema as t
from stormwatch.history.database import open_engine, redacted
from stormwatch.reports.report import build_report
from stormwatch.reports.rollup import roll_up_ended
from stormwatch.reports.window import parse_business_hours, window

CHUNK = 5000
TEAMS = ("dba", "web", "net", "storage", "payments-sre")
SERVICES = tuple(f"svc-{i}" for i in range(40))
NAMES = tuple(f"Alert{i}" for i in range(200))


def _rows(n: int, end: float, days: float, rnd: random.Random) -> dict[str, list[dict[str, Any]]]:
    created = end - (n + rnd.random()) * days * 86400 / _rows.total  # type: ignore[attr-defined]
    iid = f"INC-{n:012x}-1"
    acked = created + rnd.uniform(5, 3600) if rnd.random() < 0.7 else None
    resolved = created + rnd.uniform(60, 40000) if rnd.random() < 0.9 else None
    team, service = rnd.choice(TEAMS), rnd.choice(SERVICES)
    incident = {"id": iid, "group_id": f"{n:012x}", "seq": 1, "title": "generated", "status":
                "resolved" if resolved else "open", "severity": "critical", "priority": rnd.choice(("P1", "P2", "P3")),
                "rule": "generated", "team": team, "service": service, "group_key": "{}", "group_labels":
                {"service": service}, "why": {}, "created_at": created, "updated_at": resolved or created,
                "resolved_at": resolved, "first_acknowledged_at": acked, "first_resolved_at": resolved,
                "alerts": 2, "firing": 0, "flapping": 0, "occurrences": rnd.randint(2, 20), "symptoms": 0,
                "version": "v"}
    members = [{"incident_id": iid, "fingerprint": f"{n:012x}{k}", "group_id": f"{n:012x}",
                "alertname": rnd.choice(NAMES), "status": "resolved", "labels": {}, "state": {},
                "first_seen": created, "last_seen": created, "notifications": rnd.randint(1, 10),
                "flapping": rnd.random() < 0.02, "version": "v"} for k in range(2)]
    timeline = [_entry(iid, kind, at) for kind, at in (("created", created), ("acknowledged", acked),
                                                       ("resolved", resolved)) if at is not None]
    if resolved and rnd.random() < 0.1:
        timeline.append(_entry(iid, "reopened", resolved + 60))
    runs = [{"run_id": f"run-{n}", "incident_id": iid, "action": "restart", "type": "http", "state":
             rnd.choice(("succeeded", "failed")), "created_at": created + 10, "finished_at": created + 30,
             "record": {"saves": "600"}, "version": "v"}] if rnd.random() < 0.2 else []
    return {"incidents": [incident], "incident_alerts": members, "timeline_entries": timeline, "action_runs": runs}


def _entry(incident_id: str, kind: str, at: float) -> dict[str, Any]:
    """A timeline_entries row (a table row, not an event: events are built by events.builders)."""
    return dict(event_id=f"{incident_id}:{kind}", type=f"incident.{kind}", incident_id=incident_id, at=at,
                reason=kind)


async def fill(url: str, incidents: int, end: float, days: float, seed: int = 1) -> float:
    engine = open_engine(url)
    await migrate.upgrade(engine)
    rnd = random.Random(seed)  # noqa: S311 - generated data, not secrets
    _rows.total = incidents  # type: ignore[attr-defined]
    tables = {name: t.metadata.tables[name] for name in ("incidents", "incident_alerts", "timeline_entries",
                                                         "action_runs")}
    started = time.perf_counter()
    for start in range(0, incidents, CHUNK):
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        for n in range(start, min(start + CHUNK, incidents)):
            for name, rows in _rows(n, end, days, rnd).items():
                batch[name] += rows
        async with engine.begin() as conn:
            for name, rows in batch.items():
                if rows:
                    await conn.execute(sa.insert(tables[name]), rows)
    async with engine.begin() as conn:  # planner statistics, as autovacuum would gather them
        await conn.execute(sa.text("ANALYZE"))
    await engine.dispose()
    return time.perf_counter() - started


async def measure(url: str, end: float) -> list[tuple[str, float, int]]:
    engine = open_engine(url)
    hours = parse_business_hours("Mon-Fri 09:00-17:00 UTC")
    out = []
    for label, params in (("7d", {"since": "7d"}), ("30d", {"since": "30d"}),
                          ("30d team", {"since": "30d", "team": "dba"}),
                          ("30d service", {"since": "30d", "service": "svc-7"}), ("90d", {"since": "90d"}),
                          ("365d", {"since": "365d"})):
        w = window(end, until=str(end), **params)
        started = time.perf_counter()
        report = await build_report(engine, w, hours)
        out.append((label, time.perf_counter() - started, report["figures"]["incidents"]["value"]))
    await engine.dispose()
    return out


async def mark_stale(url: str) -> None:
    engine = open_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.update(t.rollup_days).values(computed=None))
    await engine.dispose()


async def roll_up(url: str, per_round: int, horizon_days: int) -> tuple[float, int, float]:
    """Every stale ended day rolled up as the writer's background rounds do; (seconds, days, longest round)."""
    engine = open_engine(url)
    started, days, longest = time.perf_counter(), 0, 0.0
    idle = 0
    while idle < 2:  # a round finding nothing stale adds the days never written for; the next ones compute them
        began = time.perf_counter()
        done = await roll_up_ended(engine, time.time(), per_round, horizon_days=horizon_days)
        longest = max(longest, time.perf_counter() - began)
        days += done
        idle = 0 if done else idle + 1
    await engine.dispose()
    return time.perf_counter() - started, days, longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="an empty history database (postgresql://... or sqlite:///...)")
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=400.0)
    parser.add_argument("--end", type=float, default=1_796_083_200.0)
    parser.add_argument("--skip-fill", action="store_true", help="time the reports over what the database holds")
    parser.add_argument("--stale", action="store_true", help="mark every roll-up stale first")
    parser.add_argument("--roll-up", action="store_true",
                        help="roll up every ended day as the writer's background rounds do, before the reports")
    parser.add_argument("--rollup-days", type=int, default=4, help="days a background round computes")
    args = parser.parse_args()
    if not args.skip_fill:
        took = asyncio.run(fill(args.url, args.incidents, args.end, args.days))
        print(f"filled {redacted(args.url)}: {args.incidents:,} incidents in {took:.0f}s")
    if args.stale:
        asyncio.run(mark_stale(args.url))
    if args.roll_up:
        took, days, longest = asyncio.run(roll_up(args.url, args.rollup_days, horizon_days=int(2 * args.days)))
        print(f"rolled up {days} days in {took:.1f}s ({args.rollup_days} a round; longest round {longest:.2f}s)")
    for label, seconds, count in asyncio.run(measure(args.url, args.end)):
        print(f"report {label:12s} {seconds:7.2f}s  ({count:,} incidents in the window, both windows read)")


if __name__ == "__main__":
    main()
