"""SLA checkpoints with the real Redis and RabbitMQ: once across workers, an ack racing a breach, a publisher that
died after the write (issue 18)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from correlation.core.service_levels import BREACHED, MET, ServiceLevels, calendars_by_name
from correlation.store.incident_commands import Command, IncidentCommands
from correlation.store.incident_queries import IncidentFilter, IncidentQueries
from correlation.store.sla import OUTBOX_GRACE, SlaStore
from events.amqp import AmqpEventPublisher
from events.models import IncidentSlaEvent
from rules.schema import RuleFile
from stormwatch.app import Worker
from stormwatch.sla_timers import SLA_KIND, SlaScheduling, SlaTimers
from tests.conftest import eventually
from tests.integration.api_helpers import EventTap
from tests.integration.helpers import body, publish, v2_alert

RULES = RuleFile.model_validate({
    "maintenance": [{"name": "db-patching", "match": ['service="orders-db"'], "start": "00:00", "end": "24:00",
                     "weekdays": ["saturday"]}],
    "service_levels": [{"name": "database", "match": ['service="orders-db"'],
                        "targets": {"P1": {"respond": "5m", "resolve": "4h"}}, "pause": {"maintenance": False}}],
})
LEVELS = ServiceLevels(RULES.service_levels, calendars_by_name(()), RULES.maintenance)


class Timers:
    """What the handler scheduled, in order (the due-time service's ``schedule`` seam, see the report)."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[str, str, float]] = []

    async def schedule(self, kind: str, timer: str, when: float) -> None:
        self.scheduled.append((kind, timer, when))


class Claimed:
    def __init__(self, key: str) -> None:
        self.key = key


async def database_incident(worker: Worker) -> tuple[str, float]:
    await publish(worker.settings, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
    assert worker.store is not None
    store = worker.store

    async def opened() -> Any:
        return next(iter(await store.list_incidents()), None)

    incident = await eventually(opened, what="the database incident")
    assert incident.priority == "P1"
    return incident.id, incident.created_at


@pytest.fixture
async def tap(worker: Worker) -> Any:
    events = await EventTap(worker.settings).start()
    yield events
    await events.close()


def handlers(worker: Worker, n: int) -> tuple[list[SlaTimers], list[Redis], Timers]:
    """``n`` workers' handlers, each with its own Redis connection, publishing to the real events exchange."""
    assert worker.topology is not None
    timers = Timers()
    clients = [Redis.from_url(worker.settings.redis_url) for _ in range(n)]
    built = [SlaTimers(SlaStore(c, worker.keyspace, timeline_max=100), timers,
                       AmqpEventPublisher(worker.topology.events), lambda: LEVELS, worker.metrics)
             for c in clients]
    return built, clients, timers


async def sla_events(tap: EventTap, count: int) -> list[dict[str, Any]]:
    async def arrived() -> bool:
        await tap.types()
        return len([e for e in tap.seen if e["type"].startswith("incident.sla_")]) >= count
    await eventually(arrived, what=f"{count} SLA event(s)")
    return [e for e in tap.seen if e["type"].startswith("incident.sla_")]


async def test_two_workers_fire_each_warning_and_breach_once(worker: Worker, tap: EventTap) -> None:
    incident_id, created = await database_incident(worker)
    (a, b), clients, timers = handlers(worker, 2)
    try:
        await asyncio.gather(a.fire([Claimed(incident_id)], created + 1), b.fire([Claimed(incident_id)], created + 1))
        assert timers.scheduled[-1] == (SLA_KIND, incident_id, created + 150.0)  # respond's 50 %
        for at in (created + 150.0, created + 225.0, created + 300.0, created + 7200.0, created + 10800.0,
                   created + 14400.0):
            await asyncio.gather(a.fire([Claimed(incident_id)], at), b.fire([Claimed(incident_id)], at))
        # and a third round of both, fired again at the end: nothing new
        await asyncio.gather(a.fire([Claimed(incident_id)], created + 14400.0),
                             b.fire([Claimed(incident_id)], created + 14400.0))
        events = await sla_events(tap, 6)
        seen = [(e["type"], e["sla"]["kind"], e["fraction"]) for e in events]
        assert sorted(seen) == sorted([
            ("incident.sla_warning", "respond", 0.5), ("incident.sla_warning", "respond", 0.75),
            ("incident.sla_breached", "respond", 1.0), ("incident.sla_warning", "resolve", 0.5),
            ("incident.sla_warning", "resolve", 0.75), ("incident.sla_breached", "resolve", 1.0)])
        assert len({e["event_id"] for e in events}) == 6
        for event in events:
            IncidentSlaEvent.model_validate(event)  # the contract's model, strict
        assert worker.store is not None
        timeline = [e["kind"] for e in await worker.store.timeline(incident_id)]
        assert timeline.count("sla_warning") == 4 and timeline.count("sla_breached") == 2
        assert worker.metrics.sla_breaches.labels("respond", "P1", "unassigned")._value.get() == 1
        assert await worker.redis.zscore(worker.keyspace.sla_breached, incident_id) is not None  # type: ignore[union-attr]
    finally:
        for c in clients:
            await c.aclose()


async def test_an_acknowledgement_racing_the_breach_has_one_outcome(worker: Worker, tap: EventTap) -> None:
    incident_id, created = await database_incident(worker)
    (timer,), clients, _ = handlers(worker, 1)
    assert worker.redis is not None
    commands = IncidentCommands(worker.redis, worker.keyspace, timeline_max=100)
    try:
        await timer.fire([Claimed(incident_id)], created + 1)
        due = created + 300.0
        await asyncio.gather(commands.execute(incident_id, Command("acknowledge", "ana"), due),
                             timer.fire([Claimed(incident_id)], due))
        await timer.fire([Claimed(incident_id)], due + 1)  # the ack reconciled, whichever came first
        respond = (await timer.store.records(incident_id))[0]
        breaches = [e for e in await sla_events(tap, 1) if e["type"] == "incident.sla_breached"]
        if respond.stage == MET:  # the acknowledgement was written first: met, no breach
            assert respond.met_at == due and respond.breached_at is None and breaches == []
        else:  # the breach was written first: breached, and met late
            assert respond.stage == BREACHED and respond.met_at == due and len(breaches) == 1
    finally:
        for c in clients:
            await c.aclose()


async def test_a_publisher_that_died_after_the_write_leaves_the_event_to_the_next(worker: Worker,
                                                                                  tap: EventTap) -> None:
    incident_id, created = await database_incident(worker)
    (timer,), clients, _ = handlers(worker, 1)
    try:
        dying = SlaStore(clients[0], worker.keyspace, timeline_max=100)
        written = await dying.update(incident_id, LEVELS, created + 160.0)  # wrote the warning, never published
        assert written is not None and len(written.events) == 1
        await timer.fire([Claimed(incident_id)], created + 170.0)  # its publisher may still be at it: left alone
        await tap.types()
        assert [e for e in tap.seen if e["type"].startswith("incident.sla_")] == []
        await timer.fire([Claimed(incident_id)], created + 160.0 + OUTBOX_GRACE)  # a lease later: published
        events = await sla_events(tap, 1)
        assert [(e["type"], e["fraction"]) for e in events] == [("incident.sla_warning", 0.5)]
        await timer.fire([Claimed(incident_id)], created + 300.0 + OUTBOX_GRACE)  # cleared: not again
        await tap.types()
        assert [e["event_id"] for e in tap.seen].count(events[0]["event_id"]) == 1
    finally:
        for c in clients:
            await c.aclose()


async def test_incident_events_schedule_the_sla_timer(worker: Worker) -> None:
    assert worker.topology is not None
    timers = Timers()
    publisher = SlaScheduling(AmqpEventPublisher(worker.topology.events), timers, lambda: 42.0)
    incident = {"id": "INC-0123456789ab-1"}
    await publisher.publish_events([{"event_id": "e1", "type": "incident.acknowledged", "schema_version": 1,
                                     "reason": "", "at": 1.0, "incident": incident}])
    assert timers.scheduled == [(SLA_KIND, "INC-0123456789ab-1", 42.0)]


async def test_on_hold_pauses_the_clock_and_is_on_the_timeline(worker: Worker, tap: EventTap) -> None:
    incident_id, created = await database_incident(worker)
    (timer,), clients, timers = handlers(worker, 1)
    assert worker.redis is not None and worker.store is not None
    commands = IncidentCommands(worker.redis, worker.keyspace, timeline_max=100)
    try:
        await timer.fire([Claimed(incident_id)], created + 1)
        held = await commands.execute(incident_id, Command("on_hold", "ana", "waiting for the vendor"), created + 100)
        assert held.changed and held.incident["on_hold"] == "waiting for the vendor"
        await timer.fire([Claimed(incident_id)], created + 100)
        respond = (await timer.store.records(incident_id))[0]
        assert respond.paused and respond.pause_reasons == ("on_hold",)
        assert timers.scheduled == [(SLA_KIND, incident_id, created + 150.0)]  # paused: nothing more scheduled
        await timer.fire([Claimed(incident_id)], created + 1000)  # past the unpaused due: nothing fires
        await tap.types()
        assert [e for e in tap.seen if e["type"].startswith("incident.sla_")] == []
        await commands.execute(incident_id, Command("on_hold", "ana", ""), created + 1100)
        await timer.fire([Claimed(incident_id)], created + 1100)
        respond = (await timer.store.records(incident_id))[0]
        assert not respond.paused and respond.pauses == ((created + 100, created + 1100),)
        assert respond.due(LEVELS.calendar("24x7")) == created + 300 + 1000
        assert timers.scheduled[-1] == (SLA_KIND, incident_id, created + 150 + 1000)
        kinds = [e["text"] for e in await worker.store.timeline(incident_id) if e["kind"] == "on_hold"]
        assert kinds == ["put on hold by ana: waiting for the vendor", "taken off hold by ana"]
    finally:
        for c in clients:
            await c.aclose()


async def test_incidents_carry_their_sla_and_filter_by_it(worker: Worker, tap: EventTap) -> None:
    incident_id, created = await database_incident(worker)
    (timer,), clients, _ = handlers(worker, 1)
    assert worker.redis is not None
    queries = IncidentQueries(worker.redis, worker.keyspace)
    try:
        await timer.fire([Claimed(incident_id)], created + 1)
        (doc,), _ = await queries.page(IncidentFilter(), limit=10, now=created + 100)
        respond = doc["sla"][0]
        assert (doc["sla_stage"], respond["kind"], respond["due"], respond["time_left"]) == (
            "ok", "respond", created + 300, 200.0)
        assert (await queries.page(IncidentFilter(sla=frozenset({"at_risk"})), limit=10))[0] == []
        await timer.fire([Claimed(incident_id)], created + 160)
        at_risk, _ = await queries.page(IncidentFilter(sla=frozenset({"at_risk"})), limit=10, now=created + 170)
        assert [d["id"] for d in at_risk] == [incident_id] and at_risk[0]["sla"][0]["time_left"] == 130.0
        await timer.fire([Claimed(incident_id)], created + 300)
        breached, _ = await queries.page(IncidentFilter(sla=frozenset({"breached"})), limit=10)
        assert [d["id"] for d in breached] == [incident_id] and breached[0]["sla"][0]["time_left"] is None
        detail = await queries.detail(incident_id)
        assert detail is not None and [r["stage"] for r in detail["sla"]] == ["breached", "running"]
    finally:
        for c in clients:
            await c.aclose()
