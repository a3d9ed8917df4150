"""Escalation policies with the real Redis and RabbitMQ and a real HTTP target: a step fires once across two workers,
its repeats are honoured, an acknowledgement stops it, an ack racing a step has one outcome (issue 18)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from correlation.store.escalation_steps import EscalationStore, escalation_of
from correlation.store.incident_commands import Command, IncidentCommands, read_incident
from correlation.core.model import parse_incident_id
from stormwatch.app import Worker
from stormwatch.config import Settings
from stormwatch.escalation_timers import ESCALATE_KIND
from tests.conftest import ManualClock, eventually
from tests.integration.actions_support import Hook, action_settings
from tests.integration.api_helpers import RESPOND, TOKENS, Api, EventTap
from tests.integration.helpers import body, metric, publish, started_workers, v2_alert
from tests.integration.test_sla import WritesAfterEachRead

RULES = """
actions:
  - name: page-secondary
    type: http
    config: {{url: "{url}", body: '{{{{ event.escalation.step }}}}:{{{{ event.escalation.run }}}}', timeout: 5s}}
escalation_policies:
  - name: dba
    steps:
      - {{after: 5m, action: page-secondary, repeat: {{count: 2, interval: 10m}}}}
groups:
  - name: database
    match: ['service="orders-db"']
    group_by: [service]
    escalation: dba
"""


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    server = await Hook().start()
    yield server
    await server.stop()


@pytest.fixture
async def workers(clean: Settings, tmp_path: Path, hook: Hook) -> AsyncIterator[tuple[list[Worker], ManualClock]]:
    """Two workers of one namespace (each with its action runner), their due-time loops on one injected clock."""
    (tmp_path / "rules.yaml").write_text(RULES.format(url=hook.url("/page")))
    async with started_workers(action_settings(clean, tmp_path, timer_poll_seconds=0.02, api_tokens=TOKENS)) as pair:
        yield pair


@pytest.fixture
async def tap(workers: tuple[list[Worker], ManualClock]) -> AsyncIterator[EventTap]:
    events = await EventTap(workers[0][0].settings).start()
    yield events
    await events.close()


async def database_incident(worker: Worker, scheduled: bool = True) -> tuple[str, float]:
    """The database incident, once its escalation is open and its first step scheduled (when the loops run)."""
    await publish(worker.settings, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
    assert worker.store is not None
    store = worker.store
    incident = await eventually(lambda: _first(store), what="the database incident")
    due = store.due

    async def first_step() -> bool:
        return await due.due_at(ESCALATE_KIND, incident.id) == incident.created_at + 300.0
    if scheduled:
        await eventually(first_step, what="the escalate timer at the first step")
    return incident.id, incident.created_at


async def _first(store: Any) -> Any:
    return next(iter(await store.list_incidents()), None)


async def polls_pass(workers: list[Worker], n: int = 3) -> None:
    marks = [w.timers.polls if w.timers else 0 for w in workers]
    await eventually(lambda: all(w.timers is not None and w.timers.polls >= m + n
                                 for w, m in zip(workers, marks, strict=True)), what="more polls")


async def step_events(tap: EventTap) -> list[dict[str, Any]]:
    await tap.types()
    return [e for e in tap.seen if e["type"] == "incident.escalation_step"]


async def timeline(worker: Worker, incident_id: str) -> list[str]:
    assert worker.redis is not None
    raw = await worker.redis.lrange(worker.keyspace.incident_timeline(incident_id), 0, -1)
    return [orjson.loads(r)["text"] for r in raw if orjson.loads(r).get("kind") == "escalation"]


async def test_two_workers_fire_each_step_once_and_honour_the_repeat_count(
        workers: tuple[list[Worker], ManualClock], hook: Hook, tap: EventTap) -> None:
    pair, clock = workers
    for w in pair:  # each configured step has its series at 0 before it ever runs: increase() counts the first run
        assert w.metrics.registry.get_sample_value("stormwatch_escalations_total", {"policy": "dba", "step": "1"}) == 0
    incident_id, created = await database_incident(pair[0])
    for n, at in enumerate((300.0, 900.0, 1500.0), start=1):  # the first run, then 2 repeats every 10 minutes
        clock.now = created + at
        await eventually(lambda n=n: len(hook.to("/page")) >= n, what=f"page {n}")
        await polls_pass(pair)
    clock.now = created + 100_000.0  # long after: no fourth run
    await polls_pass(pair)
    await asyncio.sleep(0)
    assert [r["body"] for r in hook.to("/page")] == ["1:0", "1:1", "1:2"]
    events = await step_events(tap)
    assert sorted({e["event_id"] for e in events}) == [f"{incident_id}:escalation:dba:1:{n}" for n in range(3)]
    assert all(e["escalation"]["action"] == "page-secondary" and e["escalation"]["runs"] == 3 for e in events)
    assert sum(metric(w, "stormwatch_escalations_total", {"policy": "dba", "step": "1"}) for w in pair) == 3
    assert [t.split(" (")[0] for t in await timeline(pair[0], incident_id)] == \
        ["escalation step 1: started action page-secondary"] * 3
    assert await pair[0].store.due.due_at(ESCALATE_KIND, incident_id) is None  # type: ignore[union-attr]
    runs = await pair[0].actions.state.runs(incident_id)  # type: ignore[union-attr]
    assert sorted(r["state"] for r in runs) == ["succeeded"] * 3 and {r["trigger"] for r in runs} == {
        "escalation_step"}


async def test_acknowledged_before_the_step_runs_no_action(workers: tuple[list[Worker], ManualClock], hook: Hook,
                                                           tap: EventTap) -> None:
    pair, clock = workers
    incident_id, created = await database_incident(pair[0])
    clock.now = created + 120.0
    api = Api(pair[0])
    try:
        answer = await api.post(f"/api/v1/incidents/{incident_id}/acknowledge", {}, token=RESPOND)
        assert answer.status_code == 200, answer.text
    finally:
        await api.close()
    # the acknowledgement brought the pending timer forward: the stop is recorded at once, the timer is gone
    await eventually(lambda: _stopped(pair[0], incident_id), what="the escalation stopped")
    due = pair[0].store.due  # type: ignore[union-attr]

    async def timer_gone() -> bool:  # completed by the poll that fired it, just after the handler's write
        return await due.due_at(ESCALATE_KIND, incident_id) is None
    await eventually(timer_gone, what="the escalate timer completed")
    for at in (300.0, 900.0, 1500.0, 100_000.0):
        clock.now = created + at
        await polls_pass(pair)
    assert hook.to("/page") == [] and await step_events(tap) == []
    assert await timeline(pair[0], incident_id) == [
        "escalation stopped: acknowledged (policy dba; step 1)"]
    assert sum(metric(w, "stormwatch_escalations_total", {"policy": "dba", "step": "1"}) for w in pair) == 0


async def _stopped(worker: Worker, incident_id: str) -> bool:
    assert worker.redis is not None
    _, _, stored = await read_incident(worker.redis, worker.keyspace, incident_id)
    escalation = escalation_of(stored)
    return escalation is not None and escalation.steps[0].stopped == "acknowledged"


async def test_an_acknowledgement_racing_a_step_has_one_outcome(workers: tuple[list[Worker], ManualClock],
                                                                hook: Hook) -> None:
    pair, clock = workers
    worker = pair[0]
    for w in pair:  # the race is between this test's two writers only
        assert w.timers is not None
        await w.timers.stop()
    incident_id, created = await database_incident(worker, scheduled=False)
    assert worker.redis is not None
    store = EscalationStore(worker.redis, worker.keyspace, timeline_max=100)
    commands = IncidentCommands(worker.redis, worker.keyspace, timeline_max=100)
    due = created + 300.0
    _, update = await asyncio.gather(commands.execute(incident_id, Command("acknowledge", "ana"), due),
                                     store.update(incident_id, worker.policies, due))
    assert update is not None
    after = await store.update(incident_id, worker.policies, due + 1)  # the ack seen, whichever came first
    assert after is not None and after.escalation is not None
    step = after.escalation.steps[0]
    if update.fired:  # the step was written first: started (its event in the outbox), then stopped by the ack
        assert step.fired == 1 and step.stopped == "acknowledged" and len(update.events) == 1
        assert await timeline(worker, incident_id) == [
            "escalation step 1: started action page-secondary (policy dba, not acknowledged)",
            "escalation stopped: acknowledged (policy dba; step 1)"]
    else:  # the acknowledgement was written first: nothing started
        assert step.fired == 0 and step.stopped == "acknowledged" and update.events == ()
        assert await timeline(worker, incident_id) == ["escalation stopped: acknowledged (policy dba; step 1)"]


async def test_a_step_is_written_while_the_worker_keeps_repeating_the_group(
        workers: tuple[list[Worker], ManualClock]) -> None:
    """The worker repeats the incident's alert after every read the escalation update makes (the group's version
    raised each time): the step is still written, at the first attempt. Its compare-and-set used to be on the
    version, so under steady repeats every retry lost ("kept conflicting")."""
    pair, _clock = workers
    worker = pair[0]
    for w in pair:  # this test's update is the only escalation writer
        assert w.timers is not None
        await w.timers.stop()
    incident_id, created = await database_incident(worker, scheduled=False)
    assert worker.redis is not None and worker.store is not None
    store, redis = worker.store, worker.redis
    group = worker.keyspace.group(parse_incident_id(incident_id)[0])
    versions: list[int] = []

    async def occurrences_above(n: int) -> bool:
        return (await store.incident(incident_id)).occurrences > n

    async def repeat() -> None:
        before = (await store.incident(incident_id)).occurrences
        versions.append(int(await redis.hget(group, "v")))
        await publish(worker.settings, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
        await eventually(lambda: occurrences_above(before), what="the repeat written")
        versions.append(int(await redis.hget(group, "v")))

    client = WritesAfterEachRead(redis, repeat)
    steps = EscalationStore(client, worker.keyspace, timeline_max=100, max_attempts=5)  # type: ignore[arg-type]
    update = await steps.update(incident_id, worker.policies, created + 300.0)
    assert update is not None and client.reads == 1  # written at the first attempt, the repeat notwithstanding
    assert versions[1] > versions[0]  # the repeat wrote the group between the update's read and its write
    assert [f.step for f in update.fired] == [1] and len(update.events) == 1
    assert await timeline(worker, incident_id) == [
        "escalation step 1: started action page-secondary (policy dba, not acknowledged)"]
