"""SLA records in the history (issue 18 -> 17), against SQLite and the real PostgreSQL: written from the SLA events,
idempotent on the event id, converging whatever order the events arrive in; and the migration from revision 0001
holding data to the head."""

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
from stormwatch.history.store import HistoryStore, InvalidEvent, validate
from tests.integration.history_support import dump, existing_columns, history_engine
from tests.integration.test_history_store import INC, T0, detail_for, incident, story

pytestmark = pytest.mark.parametrize("kind", ["sqlite", "postgresql"])

INC2 = "INC-5f1c2a9be07d-2"


@pytest.fixture
async def engine(kind: str, tmp_path: Any):
    async with history_engine(kind, tmp_path) as eng:
        yield eng


def record(kind: str, **changes: Any) -> dict[str, Any]:
    doc = {"kind": kind, "policy": "database", "priority": "P1", "target": 300.0 if kind == "respond" else 14400.0,
           "calendar": "24x7", "started": T0, "pauses": [], "pause_reasons": [], "warnings": [0.5, 0.75],
           "warned": 0, "stage": "running", "met_at": None, "breached_at": None,
           "due": T0 + (300.0 if kind == "respond" else 14400.0)}
    doc.update(changes)
    return doc


def sla_story() -> list[dict[str, Any]]:
    """INC: respond warns, breaches, is met late; resolve warns, is met. INC2: respond met in time after a pause
    (on hold), resolve met without ever warning."""
    inc = incident(T0)
    inc2 = incident(T0, id=INC2)
    hold = [[T0 + 10, T0 + 70]]
    return [
        builders.incident_sla(inc, record("respond", warned=1, stage="warning"), "warning", 0.5, T0 + 150, T0 + 151),
        builders.incident_sla(inc, record("respond", warned=3, stage="breached", breached_at=T0 + 301), "breached",
                              1.0, T0 + 300, T0 + 301),
        builders.incident_sla_met(inc, record("respond", warned=3, stage="breached", breached_at=T0 + 301,
                                              met_at=T0 + 400), T0 + 402),
        builders.incident_sla(inc, record("resolve", warned=1, stage="warning"), "warning", 0.5, T0 + 7200,
                              T0 + 7200),
        builders.incident_sla_met(inc, record("resolve", warned=1, stage="met", met_at=T0 + 8000), T0 + 8001),
        builders.incident_sla_met(inc2, record("respond", stage="met", met_at=T0 + 200, pauses=hold,
                                               pause_reasons=["on_hold"], due=T0 + 360), T0 + 200),
        builders.incident_sla_met(inc2, record("resolve", stage="met", met_at=T0 + 900, pauses=hold,
                                               pause_reasons=["on_hold"], due=T0 + 14460), T0 + 900),
    ]


def test_sla_story_matches_the_contract(kind: str) -> None:
    adapter = event_adapter()
    for event in sla_story():
        adapter.validate_python(event)


def test_an_sla_event_without_its_record_is_refused(kind: str) -> None:
    event = sla_story()[0]
    with pytest.raises(InvalidEvent, match="sla.kind"):
        validate({**event, "sla": None})
    with pytest.raises(InvalidEvent, match="sla.started"):
        validate({**event, "sla": {k: v for k, v in event["sla"].items() if k != "started"}})


async def rows(engine: Any) -> dict[tuple[str, str], Any]:
    async with engine.connect() as conn:
        return {(r.incident_id, r.kind): r for r in await conn.execute(sa.select(schema.sla_records))}


async def test_sla_records_are_idempotent_and_converge(engine: Any) -> None:
    await migrate.upgrade(engine)
    store = HistoryStore(engine)
    events = sla_story()
    assert (await store.apply([(e, None) for e in events])).applied == len(events)
    expected = await dump(engine)
    assert (await store.apply([(e, None) for e in events])).repeats == len(events)  # a redelivery
    assert await dump(engine) == expected
    rng = random.Random(18)
    for order in [list(reversed(events))] + [rng.sample(events, len(events)) for _ in range(4)]:
        async with engine.begin() as conn:
            for table in reversed(schema.metadata.sorted_tables):
                await conn.execute(sa.delete(table))
        for chunk in (order[i:i + 2] for i in range(0, len(order), 2)):
            await store.apply([(e, None) for e in chunk])
        await store.apply([(e, None) for e in order[: len(order) // 2]])
        assert await dump(engine) == expected, [e["event_id"] for e in order]
    got = await rows(engine)
    respond, resolve = got[(INC, "respond")], got[(INC, "resolve")]
    assert (respond.stage, respond.met_at, respond.breached_at, respond.warned) == ("breached", T0 + 400, T0 + 301, 3)
    assert (resolve.stage, resolve.met_at, resolve.breached_at) == ("met", T0 + 8000, None)
    held = got[(INC2, "respond")]
    assert (held.stage, held.paused_seconds, held.due, held.pause_reasons) == ("met", 60.0, T0 + 360, ["on_hold"])
    assert held.target == 300.0 and held.policy == "database" and held.started == T0
    async with engine.connect() as conn:  # SLA events are on the incident's timeline too
        kinds = sorted(r[0] for r in await conn.execute(sa.select(schema.timeline_entries.c.type)))
    assert kinds.count("incident.sla_met") == 4 and kinds.count("incident.sla_breached") == 1


async def test_migration_from_0001_with_data_to_head(engine: Any) -> None:
    store = HistoryStore(engine)
    await migrate.upgrade(engine)
    await store.apply([(e, detail_for(e)) for e in story()])
    await migrate.downgrade(engine, "0001")  # what the previous release holds: its tables, with their rows
    assert await migrate.current_revision(engine) == "0001"
    at_0001 = await existing_columns(engine)
    before = await dump(engine, columns=at_0001)
    assert before["incidents"] and "sla_records" not in before
    await migrate.upgrade(engine)
    assert await migrate.current_revision(engine) == migrate.head_revision()
    assert await dump(engine, columns=at_0001) == before  # nothing lost or changed
    after = await dump(engine)
    assert after["sla_records"] == []
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(
            c, opts={"include_name": lambda name, kind, _p: name != migrate.VERSION_TABLE}), schema.metadata))
    assert diff == []
    await store.apply([(e, None) for e in sla_story()])  # the new events land
    assert len(await rows(engine)) == 4
    await migrate.downgrade(engine, "0001")  # and back: the earlier tables keep their rows
    assert await migrate.current_revision(engine) == "0001"
    async with engine.connect() as conn:
        names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        incidents = (await conn.execute(sa.select(sa.func.count()).select_from(schema.incidents))).scalar()
    assert "sla_records" not in names and set(before) <= names and incidents == 2
