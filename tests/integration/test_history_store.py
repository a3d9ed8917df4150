"""The history store against SQLite and the real PostgreSQL: migrations, idempotency on the event id, and
convergence whatever order the events arrive in."""

from __future__ import annotations

import random
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from events import builders
from events.models import event_adapter
from stormwatch.history import migrate, schema
from stormwatch.history.store import HistoryStore, IncidentDetail
from tests.integration.history_support import dump, history_engine

pytestmark = pytest.mark.parametrize("kind", ["sqlite", "postgresql"])

T0 = 1_796_560_000.25
INC = "INC-5f1c2a9be07d-1"
PRB = "PRB-0123456789ab-1"


@pytest.fixture
async def engine(kind: str, tmp_path: Any):
    async with history_engine(kind, tmp_path) as eng:
        yield eng


def incident(at: float, **changes: Any) -> dict[str, Any]:
    doc = {"id": INC, "title": "PostgresDown on orders-db", "status": "open", "severity": "critical",
           "group_key": '{}:{alertname="PostgresDown",service="orders-db"}',
           "group_labels": {"alertname": "PostgresDown", "service": "orders-db"}, "created_at": T0,
           "updated_at": at, "resolved_at": None, "alerts": 1, "firing": 1, "occurrences": 1, "rule": "database",
           "team": "dba", "priority": "P1", "why": {"rule": "database"}, "resolve_at": None, "flapping": 0,
           "symptoms": 0}
    doc.update(changes)
    return doc


def problem(at: float, incidents: list[str], status: str = "open") -> dict[str, Any]:
    return {"id": PRB, "rule": "recurring", "title": "orders-db keeps failing", "status": status, "created_at": T0 + 5,
            "updated_at": at, "team": "dba", "signature": {"service": "orders-db"}, "incidents": incidents,
            "why": {"rule": "recurring"}, "created_by": INC, "resolved_at": at if status == "resolved" else None}


def silence(ends_at: float) -> dict[str, Any]:
    return {"id": "sil-1", "matchers": ['service="orders-db"'], "starts_at": T0, "ends_at": ends_at,
            "created_by": "sre", "comment": "migration", "created_at": T0, "state": "active"}


def story() -> list[dict[str, Any]]:
    """One incident's life, a problem, a silence and an action decision, as the producers build them."""
    people = {"acknowledged_by": "sre", "acknowledged_at": T0 + 20, "assignee": None, "resolved_by": None,
              "reopened_by": None}
    return [
        builders.incident_event("m1:5f1c2a9be07d:0", "incident.created", "opened", T0, incident(T0)),
        builders.incident_event("m2:5f1c2a9be07d:0", "incident.updated", "alert added", T0 + 10,
                                incident(T0 + 10, alerts=2, firing=2, occurrences=3)),
        builders.incident_command(INC, 3, "acknowledge", "acknowledged by sre: looking", T0 + 20, "sre",
                                  incident(T0 + 20, status="acknowledged", alerts=2, firing=2, occurrences=3,
                                           **people)),
        builders.incident_event("m3:5f1c2a9be07d:0", "incident.updated", "alert resolved", T0 + 30,
                                incident(T0 + 30, status="acknowledged", alerts=2, firing=1, occurrences=4)),
        builders.incident_event("m4:5f1c2a9be07d:0", "incident.resolved", "all alerts resolved", T0 + 40,
                                incident(T0 + 40, status="resolved", alerts=2, firing=0, occurrences=5,
                                         resolved_at=T0 + 40)),
        builders.incident_command(INC, 6, "reopen", "reopened by ops", T0 + 50, "ops",
                                  incident(T0 + 50, status="open", alerts=2, firing=0, occurrences=5,
                                           **{**people, "reopened_by": "ops"})),
        builders.incident_command(INC, 7, "resolve", "resolved by ops", T0 + 60, "ops",
                                  incident(T0 + 60, status="resolved", alerts=2, firing=0, occurrences=5,
                                           resolved_at=T0 + 60, **{**people, "reopened_by": "ops",
                                                                   "resolved_by": "ops"})),
        builders.problem_correlated(problem(T0 + 5, [INC]), "created", INC, "recurring", T0 + 5),
        builders.problem_linked(problem(T0 + 15, [INC, "INC-5f1c2a9be07d-2"]), "INC-5f1c2a9be07d-2", "link", "sre",
                                T0 + 15),
        builders.problem_linked(problem(T0 + 25, [INC]), "INC-5f1c2a9be07d-2", "unlink", "sre", T0 + 25),
        builders.problem_status(problem(T0 + 35, [INC], "resolved"), "resolved", "sre", T0 + 35),
        builders.silence_created(silence(T0 + 3600), "sre", T0, "migration"),
        builders.silence_expired({**silence(T0 + 70), "state": "expired"}, "sre", T0 + 70),
        builders.action_decided("run-1", "approved", {"run_id": "run-1", "incident": INC, "action": "restart",
                                                      "type": "http", "rule": "database", "trigger": "created",
                                                      "event_id": "m1:5f1c2a9be07d:0", "state": "approved",
                                                      "created_at": repr(T0 + 1)}, "sre", T0 + 2),
        builders.rules_reloaded({"source": "rules", "kinds": {}, "actions_mode": {
            "mode": "none", "summary": "", "actions": 0, "dry_run": 0}, "files": [], "groups": [], "counts": {}},
            "sre", T0 + 80),
    ]


def member(fp: str, last_seen: float, count: int, status: str = "firing", rev: int = 1) -> dict[str, Any]:
    return {"fingerprint": fp, "labels": {"alertname": "PostgresDown", "service": "orders-db", "instance": fp},
            "annotations": {}, "status": status, "starts_at": T0, "ends_at": None, "first_seen": T0,
            "last_seen": last_seen, "count": count, "incident": INC, "source": "alertmanager", "rev": rev}


def detail_for(event: dict[str, Any]) -> IncidentDetail | None:
    """What Redis would have held when the writer took this event (members grow and change over time)."""
    if "incident" not in event:
        return None
    at = event["at"]
    members = [member("aaaa", at, int(at - T0) + 1, rev=int(at - T0) + 1)]
    if at >= T0 + 10:
        members.append(member("bbbb", min(at, T0 + 30), 2, "resolved" if at >= T0 + 30 else "firing",
                              rev=3 if at >= T0 + 30 else 2))
    symptoms = [{"incident": INC, "group": "0000000000ab", "fingerprint": "cccc", "labels": {"alertname": "Slow"},
                 "kind": "inhibit", "rule": "db", "path": "", "at": T0 + 12}] if at >= T0 + 12 else []
    return IncidentDetail(members=members, symptoms=symptoms)


def test_story_matches_the_contract(kind: str) -> None:
    adapter = event_adapter()
    for event in story():
        adapter.validate_python(event)


async def test_migrations_from_empty_and_twice_a_no_op(engine) -> None:
    assert await migrate.current_revision(engine) is None
    await migrate.upgrade(engine)
    assert await migrate.current_revision(engine) == migrate.head_revision()
    await migrate.upgrade(engine)  # at head: nothing to do, nothing fails
    assert await migrate.current_revision(engine) == migrate.head_revision()
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(
            c, opts={"include_name": lambda name, kind, _p: name != migrate.VERSION_TABLE}), schema.metadata))
    assert diff == []  # the migrated database is exactly the tables the code writes
    await migrate.downgrade(engine, "base")
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert set(names) <= {migrate.VERSION_TABLE}
    await migrate.upgrade(engine)  # and up again from the previous revision (base)
    assert await migrate.current_revision(engine) == migrate.head_revision()


async def test_redelivered_events_change_nothing(engine) -> None:
    await migrate.upgrade(engine)
    store = HistoryStore(engine)
    batch = [(e, detail_for(e)) for e in story()]
    first = await store.apply(batch)
    assert (first.applied, first.repeats) == (len(batch), 0)
    before = await dump(engine)
    again = await store.apply(batch)  # a redelivery: same ids
    assert (again.applied, again.repeats) == (0, len(batch))
    for event, detail in batch:  # one at a time, as a replay would
        assert (await store.apply([(event, detail)])).applied == 0
    assert await dump(engine) == before
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(schema.incidents).where(schema.incidents.c.id == INC))).one()
        timeline = (await conn.execute(sa.select(sa.func.count()).select_from(schema.timeline_entries))).scalar()
    assert row.status == "resolved" and row.resolved_by == "ops" and row.acknowledged_by == "sre"
    assert row.first_acknowledged_at == T0 + 20 and row.first_resolved_at == T0 + 40
    assert row.occurrences == 5 and row.service == "orders-db"
    assert timeline == 11  # 7 incident + 4 problem events; silences, runs and rules keep their own rows


async def test_out_of_order_events_converge(engine) -> None:
    await migrate.upgrade(engine)
    store = HistoryStore(engine)
    events = story()
    await store.apply([(e, detail_for(e)) for e in events])
    expected = await dump(engine)
    rng = random.Random(17)
    orders = [list(reversed(events))] + [rng.sample(events, len(events)) for _ in range(6)]
    for order in orders:
        async with engine.begin() as conn:
            for table in reversed(schema.metadata.sorted_tables):
                await conn.execute(sa.delete(table))
        # in arrival order, some in batches and some alone, the second half redelivered
        for chunk in (order[i:i + 3] for i in range(0, len(order), 3)):
            await store.apply([(e, detail_for(e)) for e in chunk])
        await store.apply([(e, detail_for(e)) for e in order[len(order) // 2:]])
        assert await dump(engine) == expected, [e["event_id"] for e in order]
    async with engine.connect() as conn:
        links = (await conn.execute(sa.select(schema.problem_incidents.c.incident_id, schema.problem_incidents.c.linked)
                                    .order_by(schema.problem_incidents.c.incident_id))).all()
        members = (await conn.execute(sa.select(schema.incident_alerts.c.fingerprint,
                                                schema.incident_alerts.c.status,
                                                schema.incident_alerts.c.notifications)
                                      .order_by(schema.incident_alerts.c.fingerprint))).all()
        sil = (await conn.execute(sa.select(schema.silences))).one()
        run = (await conn.execute(sa.select(schema.action_runs))).one()
    assert [tuple(r) for r in links] == [(INC, True), ("INC-5f1c2a9be07d-2", False)]
    assert [tuple(m) for m in members] == [("aaaa", "firing", 61), ("bbbb", "resolved", 2)]
    assert sil.expired_by == "sre" and sil.ends_at == T0 + 70
    assert run.state == "approved" and run.decided_by == "sre"
