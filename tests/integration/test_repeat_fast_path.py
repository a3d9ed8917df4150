"""The repeat fast path against the real RabbitMQ and Redis: a repeat moves last-seen and count and nothing else,
a redelivery of it changes nothing, a change another worker writes meanwhile wins, and an alert whose incident was
resolved goes through the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from correlation.store.incident_commands import Command, IncidentCommands
from correlation.store.pipeline import Delivery
from rules.alert import Alert
from rules.fingerprint import fingerprint
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import body, publish, v2_alert

FAST = "stormwatch_alerts_repeat_fast_total"


def sample(worker: Worker, name: str) -> float:
    return worker.metrics.registry.get_sample_value(name) or 0.0


async def batches(worker: Worker, n: int) -> None:
    await eventually(lambda: sample(worker, "stormwatch_batch_messages_sum") >= n, what=f"{n} messages processed")


@pytest.fixture
async def clocked(clean) -> AsyncIterator[tuple[Worker, ManualClock]]:
    clock = ManualClock()
    worker = Worker(clean, clock=clock)
    await worker.start()
    try:
        yield worker, clock
    finally:
        await worker.stop()


async def stored(worker: Worker) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one incident and its one alert, as stored."""
    assert worker.store is not None
    (incident,) = await worker.store.list_incidents()
    (alert,) = await worker.store.incident_alerts(incident.id)
    return incident.public(), alert.public()


async def test_a_repeat_moves_last_seen_and_count_through_the_fast_path(clocked):
    worker, clock = clocked
    alert = body([v2_alert("DiskFull", "db", "db-1")])
    await publish(worker.settings, [alert], message_ids=["m-1"])
    await batches(worker, 1)
    first_incident, first_alert = await stored(worker)
    clock.now += 30
    await publish(worker.settings, [alert], message_ids=["m-2"])
    await batches(worker, 2)
    incident, state = await stored(worker)
    assert sample(worker, FAST) == 1 and sample(worker, "stormwatch_alerts_duplicate_total") == 1
    assert (state["count"], state["last_seen"], state["rev"]) == (2, clock.now, first_alert["rev"] + 1)
    assert {k: v for k, v in state.items() if k not in ("count", "last_seen", "rev")} == \
        {k: v for k, v in first_alert.items() if k not in ("count", "last_seen", "rev")}
    assert (incident["occurrences"], incident["updated_at"]) == (2, clock.now)
    assert {k: v for k, v in incident.items() if k not in ("occurrences", "updated_at")} == \
        {k: v for k, v in first_incident.items() if k not in ("occurrences", "updated_at")}


async def test_a_redelivered_repeat_changes_nothing(clocked):
    worker, clock = clocked
    alert = body([v2_alert("DiskFull", "db", "db-1")])
    await publish(worker.settings, [alert], message_ids=["m-1"])
    await batches(worker, 1)
    clock.now += 30
    await publish(worker.settings, [alert], message_ids=["m-2"])
    await batches(worker, 2)
    assert sample(worker, FAST) == 1
    before = await stored(worker)
    clock.now += 30
    await publish(worker.settings, [alert], message_ids=["m-2"])  # a publisher's retry, or a redelivery
    await batches(worker, 3)
    assert await stored(worker) == before
    assert sample(worker, "stormwatch_replays_total") == 1 and sample(worker, FAST) == 1


def notification(status: str = "firing") -> Alert:
    labels = {"alertname": "DiskFull", "service": "db", "instance": "db-1"}
    return Alert(labels=labels, status=status, starts_at=1_800_000_000.0,  # type: ignore[arg-type]
                 received_at=1_800_000_000.0, fingerprint=fingerprint(labels), source="test",
                 annotations={"summary": "disk full"}, ends_at=None if status == "firing" else 1_800_000_060.0)


async def test_a_repeat_racing_another_workers_change_loses_to_it(clean, monkeypatch):
    settings = clean.model_copy(update={"consume": False})  # both submit directly: the race is placed exactly
    ours, theirs = Worker(settings), Worker(settings)
    await ours.start()
    await theirs.start()
    try:
        assert ours.pipeline is not None and theirs.pipeline is not None and ours.store is not None
        await ours.pipeline.submit([Delivery("fire", [notification()])])
        read = ours.store.read_groups
        raced = []

        async def read_then_race(wanted: Any) -> Any:
            reads = await read(wanted)
            if not raced:  # between our read and our write, the other worker resolves the alert
                raced.append(await theirs.pipeline.submit([Delivery("resolve", [notification("resolved")])]))
            return reads

        monkeypatch.setattr(ours.store, "read_groups", read_then_race)
        report = await ours.pipeline.submit([Delivery("repeat", [notification()])])
        assert raced[0].changed == 1 and len(raced[0].resolved) == 1
        # our fast write found the group changed, read it again and saw a late copy of a resolved episode
        assert (report.conflicts, report.fast_repeats, report.duplicates, report.stale) == (1, 0, 0, 1)
        (incident,) = await ours.store.list_incidents()
        (alert,) = await ours.store.incident_alerts(incident.id)
        assert incident.status == "resolved" and incident.occurrences == 1
        assert (alert.status, alert.count) == ("resolved", 2)
    finally:
        await ours.stop()
        await theirs.stop()


async def test_a_repeat_after_its_incident_was_resolved_takes_the_engine(clocked):
    worker, clock = clocked
    alert = body([v2_alert("DiskFull", "db", "db-1")])
    await publish(worker.settings, [alert], message_ids=["m-1"])
    await batches(worker, 1)
    (incident, _) = await stored(worker)
    commands = IncidentCommands(worker.redis, worker.keyspace, timeline_max=100)
    await commands.execute(incident["id"], Command("resolve", "ana"), clock.now + 10)
    resolved, _ = await stored(worker)
    clock.now += 30
    await publish(worker.settings, [alert], message_ids=["m-2"])
    await batches(worker, 2)
    after, state = await stored(worker)
    assert sample(worker, FAST) == 0 and sample(worker, "stormwatch_alerts_duplicate_total") == 1
    assert state["count"] == 2 and state["last_seen"] == clock.now
    assert after == resolved, "the resolved incident is not counted into"
