"""Flapping (quiet-period timers fired by one of two workers) and recurrence problems, through the real worker."""

from __future__ import annotations


import aio_pika
import orjson

from ingest.topology import Names
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import body, publish, stored_alerts, v2_alert
from tests.integration.helpers import run_cli as _cli

FLAPPING_RULES = """
flapping:
  - name: disk-flapping
    match: ['alertname="DiskSpaceLow"']
    changes: 2
    within: 10m
    quiet: 5m
groups:
  - name: disk
    match: ['alertname="DiskSpaceLow"']
    group_by: [service]
"""

PROBLEM_RULES = """
groups:
  - name: batch
    match: ['alertname="BatchJobFailed"']
    group_by: [service]
problems:
  - name: recurring
    match: ['alertname="BatchJobFailed"']
    signature: [alertname, service]
    recurrence: {count: 2, within: 1h}
    team: billing
"""


def _disk(minute: int, *, resolved: bool = False) -> bytes:
    return body([v2_alert("DiskSpaceLow", "db", "db-1", resolved=resolved, starts_at=f"2026-11-21T10:0{minute}:00Z")])


async def test_a_flapping_alert_keeps_its_incident_open_until_quiet_and_two_workers_fire_the_quiet_once(
        clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(FLAPPING_RULES)
    clock = ManualClock()
    settings = clean.model_copy(update={"rules": str(tmp_path), "timer_poll_seconds": 0.02})
    workers = [Worker(settings, clock=clock) for _ in range(2)]
    for w in workers:
        await w.start()
    store = workers[0].store
    try:
        sent = 0
        # fire, resolve (change 1: the incident resolves), fire (change 2: a new incident), resolve (change 3:
        # more than 2 changes in 10m, flapping: the incident stays open), fire, resolve (still open)
        for minute, resolved in ((0, False), (0, True), (1, False), (1, True), (2, False), (2, True)):
            await publish(clean, [_disk(minute, resolved=resolved)])
            sent += 1
            await eventually(lambda: sum(stored_alerts(w) for w in workers) >= sent, what=f"notification {sent}")
            clock.now += 30
        first, second = sorted(await store.list_incidents(), key=lambda i: i.created_at)
        assert first.status == "resolved"
        assert (second.status, second.flapping, second.firing) == ("open", 1, 1)

        clock.now += 4 * 60  # 4m30s after the last change: not quiet long enough
        polls = [w.timers.polls for w in workers]
        await eventually(lambda: all(w.timers.polls >= n + 2 for w, n in zip(workers, polls, strict=True)), what="timer polls")
        assert (await store.incident(second.id)).status == "open"

        clock.now += 60  # quiet for 5m: no longer flapping; the alert is resolved, so the incident resolves
        await eventually(lambda: _status(store, second.id, "resolved"), what="the incident resolved after the quiet")
        timeline = await store.timeline(second.id)
        assert [e["kind"] for e in timeline].count("resolved") == 1
        assert sum("stopped flapping" in e["text"] for e in timeline) == 1
        assert sum("is flapping" in e["text"] for e in timeline) == 1
        assert len(await store.list_incidents()) == 2  # the flaps opened nothing more
    finally:
        for w in workers:
            await w.stop()


async def test_a_recurring_incident_opens_a_problem_and_publishes_problem_created(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(PROBLEM_RULES)
    connection = await aio_pika.connect(clean.amqp_url)
    worker = Worker(clean.model_copy(update={"rules": str(tmp_path)}))
    await worker.start()
    try:
        channel = await connection.channel()
        events = await channel.declare_queue(exclusive=True)
        await events.bind(Names(clean.namespace).events_exchange, routing_key="problem.#")

        def failed(hour: int, resolved: bool = False) -> bytes:
            return body([v2_alert("BatchJobFailed", "billing", "job-1", resolved=resolved,
                                  starts_at=f"2026-11-21T0{hour}:00:00Z")])

        await publish(clean, [failed(1)])
        await eventually(lambda: stored_alerts(worker) >= 1)
        await publish(clean, [failed(1, resolved=True)])
        await eventually(lambda: stored_alerts(worker) >= 2)
        assert await worker.pipeline.links.list_problems() == []
        await publish(clean, [failed(2)])  # the second incident within the hour: a problem
        await eventually(lambda: stored_alerts(worker) >= 3)

        (problem,) = await worker.pipeline.links.list_problems(open_only=True)
        incidents = await worker.store.list_incidents()
        assert len(incidents) == 2 and sorted(problem.incidents) == sorted(i.id for i in incidents)
        assert (problem.title, problem.team, problem.status) == ("recurring: BatchJobFailed / billing", "billing",
                                                                 "open")
        message = await eventually(lambda: events.get(no_ack=True, fail=False), what="problem.created event")
        event = orjson.loads(message.body)
        assert event["type"] == "problem.created" and event["problem"]["id"] == problem.id

        # people move it through its lifecycle with the CLI; each change is an event too
        code, out, _ = await _cli(clean, "problems", "list", "--json")
        assert code == 0 and [p["id"] for p in orjson.loads(out)] == [problem.id]
        code, out, _ = await _cli(clean, "problems", "show", problem.id)
        assert code == 0 and "recurring: BatchJobFailed / billing" in out and '"kind":"recurrence"' in out
        code, out, _ = await _cli(clean, "problems", "known-error", problem.id, "--by", "alice")
        assert code == 0 and "known_error" in out
        message = await eventually(lambda: events.get(no_ack=True, fail=False), what="problem.known_error event")
        assert orjson.loads(message.body)["type"] == "problem.known_error"
        code, out, _ = await _cli(clean, "problems", "resolve", problem.id, "--by", "alice")
        assert code == 0
        (resolved,) = await worker.pipeline.links.problems([problem.id])
        assert resolved.status == "resolved" and resolved.resolved_at is not None
        assert await worker.pipeline.links.list_problems(open_only=True) == []
        code, _, err = await _cli(clean, "problems", "resolve", "PRB-000000000000-9", "--by", "alice")
        assert code == 1 and "no problem" in err
        timeline = await worker.pipeline.links.problem_timeline(problem.id)
        assert [e["kind"] for e in timeline] == ["created", "known_error", "resolved"]
    finally:
        await worker.stop()
        await connection.close()


async def _status(store, incident_id: str, status: str) -> bool:
    incident = await store.incident(incident_id)
    return incident is not None and incident.status == status
