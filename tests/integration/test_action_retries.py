"""Retries on the due-time service: a retryable failure leaves the run ``retrying`` with its next attempt a ``retry``
timer at now + backoff; whichever worker's due loop claims the timer runs that attempt, exactly once. Real workers,
RabbitMQ and Redis, a real HTTP server (and the example runbook executor); time moves on an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from actions.due_kinds import APPROVED, RETRY
from actions.example_executor import ExampleExecutor
from actions.model import run_id
from actions.run_record import ActionRun
from actions.topology import ActionNames
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.actions_support import Hook, action_settings, alert, publish_event
from tests.integration.helpers import body, metric, publish


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    h = await Hook().start()
    yield h
    await h.stop()


def http_rules(hook: Hook, attempts: int = 3) -> str:
    return f"""
actions:
  - name: fix
    type: http
    config: {{url: "{hook.url('/fix/')}{{{{ labels.service }}}}", timeout: 5s}}
    retry: {{attempts: {attempts}, backoff: 10s, max_backoff: 15s}}
groups:
  - name: svc
    match: ['alertname=~"Down.*"']
    group_by: [alertname, service]
    actions: [fix]
"""


async def workers(clean, tmp_path, rules: str, clock: ManualClock, count: int = 1) -> list[Worker]:
    (tmp_path / "rules.yaml").write_text(rules)
    started = []
    for _ in range(count):
        w = Worker(action_settings(clean, tmp_path), clock=clock)
        await w.start()
        started.append(w)
    return started


async def run_in(w: Worker, state: str, attempt: int, rid: str | None = None) -> ActionRun | None:
    """The run (the one run, or ``rid``) once it is in ``state`` after ``attempt``, its audit entry written (a
    running run has none)."""
    runs = await w.actions.state.load_many() if rid is None else [await w.actions.state.load(rid)]
    run = runs[0] if len(runs) == 1 else None
    if run is None or run.state != state or (run.attempt or 0) != attempt:
        return None
    if state == "running":
        return run
    audited = [e for e in await w.actions.state.audit() if e.get("run_id") == run.run_id]
    return run if any(e["outcome"] == state and e.get("attempt") == attempt for e in audited) else None


def fired(ws: list[Worker], kind: str = RETRY) -> float:
    return sum(w.metrics.registry.get_sample_value("stormwatch_due_fired_total", {"kind": kind}) or 0 for w in ws)


async def outcomes(w: Worker, rid: str) -> list[tuple[str, int | None]]:
    return [(e["outcome"], e.get("attempt")) for e in await w.actions.state.audit() if e.get("run_id") == rid]


async def test_a_flaky_runbook_goes_running_retrying_running_succeeded_through_the_due_service(clean, tmp_path):
    rules = """
actions:
  - name: flaky
    type: runbook
    config: {runbook: flaky, timeout: 20s}
    retry: {attempts: 3, backoff: 30s}
groups:
  - {name: db, match: ['alertname="DbDown"'], group_by: [cluster], actions: [flaky]}
"""
    clock = ManualClock()
    (w,) = await workers(clean, tmp_path, rules, clock)
    channel = await w.connection.channel(publisher_confirms=True)
    executor = ExampleExecutor(channel, ActionNames(clean.namespace))
    await executor.start()
    try:
        await publish(clean, [body([alert("DbDown", cluster="pg-main")])])
        run = await eventually(lambda: run_in(w, "retrying", 1), what="attempt 1 failed, retrying")
        assert run.retryable and run.retry_at == clock.now + 30  # backoff 30 s after the attempt
        assert await w.actions.state.due.due_at(RETRY, run.run_id) == run.retry_at  # the timer, in the due index
        assert metric(w, "stormwatch_action_retries_total", {"action": "flaky"}) == 1
        polls = w.actions.due.polls
        await eventually(lambda: w.actions.due.polls >= polls + 2, what="due polls")
        assert (await w.actions.state.load(run.run_id)).state == "retrying"  # not due yet: nothing ran
        await executor.stop()  # attempt 2 will wait for its reply: the run is seen running
        clock.now = run.retry_at + 1
        await eventually(lambda: run_in(w, "running", 1, run.run_id), what="attempt 2 running")
        await executor.start()
        done = await eventually(lambda: run_in(w, "succeeded", 2, run.run_id), what="attempt 2 succeeded")
        assert orjson.loads(done.stored()["output"])["output"] == "worked on a later attempt"
        assert await outcomes(w, run.run_id) == [("retrying", 1), ("succeeded", 2)]
        assert await w.actions.state.due.due_at(RETRY, run.run_id) is None
        assert fired([w]) == 1 and executor.handled == 2
        timeline = [e["text"] for e in await w.store.timeline(run.incident) if e["kind"] == "action"]
        assert "retrying after 1 attempt" in timeline[0] and "attempt 2 in 30s" in timeline[0]
        assert "succeeded after 2 attempts" in timeline[1]
    finally:
        await executor.stop()
        await w.stop()


async def test_with_two_workers_each_retry_attempt_runs_exactly_once(clean, tmp_path, hook):
    services = [f"s{n}" for n in range(4)]
    hook.script = {f"/fix/{s}": [503, 200] for s in services}
    clock = ManualClock()
    ws = await workers(clean, tmp_path, http_rules(hook), clock, count=2)
    try:
        await publish(clean, [body([alert("DownA", service=s) for s in services])])

        async def all_retrying() -> list[ActionRun] | None:
            runs = await ws[0].actions.state.load_many()
            return runs if len(runs) == 4 and all(r.state == "retrying" for r in runs) else None

        runs = await eventually(all_retrying, what="every run retrying")
        clock.now = max(r.retry_at or 0 for r in runs) + 1  # both workers' due loops race for the timers

        async def all_succeeded() -> bool:
            return all([await run_in(ws[0], "succeeded", 2, r.run_id) for r in runs])

        await eventually(all_succeeded, what="every run succeeded")
        polls = [w.actions.due.polls for w in ws]
        clock.now += 120  # past any lease: a timer left claimed would fall due again now
        await eventually(lambda: all(w.actions.due.polls >= n + 2 for w, n in zip(ws, polls, strict=True)),
                         what="due polls")
        assert {s: len(hook.to(f"/fix/{s}")) for s in services} == {s: 2 for s in services}
        assert fired(ws) == 4
        assert [await outcomes(ws[0], r.run_id) for r in runs] == [[("retrying", 1), ("succeeded", 2)]] * 4
    finally:
        for w in ws:
            await w.stop()


async def test_a_retry_outlives_the_worker_that_scheduled_it(clean, tmp_path, hook):
    hook.script = {"/fix/api": [500, 200]}
    clock = ManualClock()
    (first,) = await workers(clean, tmp_path, http_rules(hook), clock)
    try:
        await publish(clean, [body([alert("DownA", service="api")])])
        run = await eventually(lambda: run_in(first, "retrying", 1), what="retrying")
    finally:
        await first.stop()
    (second,) = await workers(clean, tmp_path, http_rules(hook), clock)
    try:
        assert await second.actions.state.due.due_at(RETRY, run.run_id) == run.retry_at
        clock.now = run.retry_at + 1
        await eventually(lambda: run_in(second, "succeeded", 2, run.run_id), what="the other worker retried")
        assert len(hook.to("/fix/api")) == 2 and fired([second]) == 1
    finally:
        await second.stop()


async def test_an_attempt_cut_off_by_a_stop_is_made_again_by_another_worker(clean, tmp_path):
    """A worker stopped in the middle of a retry attempt (the runbook's reply never came): the timer stays claimed
    and the run ``running`` under the stopped worker's claim. Once both leases run out, another worker makes the same
    attempt again, under the same correlation id (at least once)."""
    rules = """
actions:
  - name: flaky
    type: runbook
    config: {runbook: flaky, timeout: 20s}
    retry: {attempts: 2, backoff: 30s}
groups:
  - {name: db, match: ['alertname="DbDown"'], group_by: [cluster], actions: [flaky]}
"""
    clock = ManualClock()
    (first,) = await workers(clean, tmp_path, rules, clock)
    channel = await first.connection.channel(publisher_confirms=True)
    executor = ExampleExecutor(channel, ActionNames(clean.namespace))
    await executor.start()
    try:
        await publish(clean, [body([alert("DbDown", cluster="pg-main")])])
        run = await eventually(lambda: run_in(first, "retrying", 1), what="retrying")
        await executor.stop()
        clock.now = run.retry_at + 1
        await eventually(lambda: run_in(first, "running", 1, run.run_id), what="attempt 2 running")
        await first.actions.due_work.stop(drain_seconds=0)  # cut off: the attempt's task is cancelled
    finally:
        await first.stop()
    state = first.actions.state
    claim = state.keys.action_claim(run.run_id)
    assert await state.redis.pttl(claim) > 0  # the stopped worker's claim, leased in Redis's own time
    await state.redis.pexpire(claim, 1)  # its lease runs out (Redis's clock cannot be moved: it is cut short)
    (second,) = await workers(clean, tmp_path, rules, clock)
    channel = await second.connection.channel(publisher_confirms=True)
    executor = ExampleExecutor(channel, ActionNames(clean.namespace))
    try:
        clock.now += 61  # the timer's lease (60 s) on the due-time service runs out
        await executor.start()
        done = await eventually(lambda: run_in(second, "succeeded", 2, run.run_id), what="attempt 2 made again")
        assert orjson.loads(done.stored()["output"])["status"] == "succeeded"
        # attempt 2's request from each worker (one correlation id): the first one's waited in the queue
        assert executor.handled == 2
        assert await outcomes(second, run.run_id) == [("retrying", 1), ("succeeded", 2)]
    finally:
        await executor.stop()
        await second.stop()


async def test_exhausted_retries_fail_the_run_with_every_attempt_recorded(clean, tmp_path, hook):
    hook.script = {"/fix/api": [500]}
    clock = ManualClock()
    (w,) = await workers(clean, tmp_path, http_rules(hook, attempts=3), clock)
    try:
        await publish(clean, [body([alert("DownA", service="api")])])
        first = await eventually(lambda: run_in(w, "retrying", 1), what="attempt 1 failed")
        index = w.actions.state.due
        assert first.retry_at == await index.due_at(RETRY, first.run_id)
        clock.now = first.retry_at + 1
        second = await eventually(lambda: run_in(w, "retrying", 2, first.run_id), what="attempt 2 failed")
        assert second.retry_at == clock.now + 15  # backoff 10 s doubled, at most max_backoff 15 s
        assert await index.due_at(RETRY, first.run_id) == second.retry_at
        clock.now = second.retry_at + 1
        failed = await eventually(lambda: run_in(w, "failed", 3, first.run_id), what="attempt 3 failed: final")
        assert failed.detail == "HTTP 500" and failed.retryable and failed.finished_at == clock.now
        assert await outcomes(w, first.run_id) == [("retrying", 1), ("retrying", 2), ("failed", 3)]
        assert len(hook.to("/fix/api")) == 3
        assert await index.due_at(RETRY, first.run_id) is None
        assert metric(w, "stormwatch_action_retries_total", {"action": "fix"}) == 2
        assert metric(w, "stormwatch_actions_failed_total", {"type": "http"}) == 1
        assert metric(w, "stormwatch_actions_started_total", {"type": "http"}) == 1  # one run, three attempts
    finally:
        await w.stop()


async def test_runs_the_previous_version_left_mid_retry_still_complete(clean, tmp_path, hook):
    """The previous version retried in-process: a run it left mid-retry is ``running`` (no attempt recorded) under a
    claim that lapses when its worker stops. Its event was not acked, so it is delivered again and the run is taken
    over from the start; an approved run is taken over by its ``approved`` timer, which was not completed."""
    hook.script = {"/fix/old": [500, 200], "/fix/approved": [500, 200]}
    clock = ManualClock()
    (w,) = await workers(clean, tmp_path, http_rules(hook), clock)
    state = w.actions.state
    now = clock()
    try:
        incident = {"id": "INC-0123456789ab-1", "rule": "svc", "priority": "P3", "status": "open", "title": "x",
                    "group_labels": {"alertname": "DownA", "service": "old"}}
        event = {"event_id": "ev-old", "type": "incident.created", "at": now, "incident": incident}
        saved = event | {"incident": incident | {"group_labels": {"service": "approved"}}}
        rid = run_id(incident["id"], "fix", "created")
        old = ActionRun.new(run_id=rid, incident=incident["id"], action="fix", type="http", rule="svc",
                            trigger="created", event_id="ev-old", event_at=now, created_at=now)
        assert await state.claim(rid, "old-worker", 0.001, old) == ("claimed", "")  # its lease lapses at once
        approved = ActionRun.new(run_id="R-approved", incident=incident["id"], action="fix", type="http", rule="svc",
                                 trigger="created", event_id="ev-old", event_at=now, created_at=now,
                                 saved=saved, decided_by="alice", decided_at=now)
        assert await state.claim("R-approved", "old-worker", 0.001, approved) == ("claimed", "")
        await state.schedule(APPROVED, "R-approved", now)  # its claimed timer fell due again
        await publish_event(clean, orjson.dumps(event), message_id="ev-old")  # the redelivery
        for r in (rid, "R-approved"):
            retrying = await eventually(lambda r=r: run_in(w, "retrying", 1, r), what=f"{r} retrying")
            clock.now = max(clock.now, retrying.retry_at + 1)
        for r in (rid, "R-approved"):
            await eventually(lambda r=r: run_in(w, "succeeded", 2, r), what=f"{r} succeeded")
        assert len(hook.to("/fix/old")) == 2 and len(hook.to("/fix/approved")) == 2
    finally:
        await w.stop()



async def test_a_timer_waits_for_a_run_still_claimed_and_leaves_a_first_attempt_to_its_event(clean, tmp_path, hook):
    """A worker stopped after scheduling the retry timer and before writing ``retrying`` leaves the run ``running``
    under its claim. The timer waits while the claim is held; once it lapsed, a first attempt (no saved event context)
    is left to its event, which was not acked: delivered again, it takes the run over."""
    hook.script = {"/fix/old": [500, 200]}
    clock = ManualClock()
    (w,) = await workers(clean, tmp_path, http_rules(hook), clock)
    state, now = w.actions.state, clock()
    try:
        incident = {"id": "INC-0123456789ab-1", "rule": "svc", "group_labels": {"service": "old"}}
        event = {"event_id": "ev-1", "type": "incident.created", "at": now, "incident": incident}
        rid = run_id(incident["id"], "fix", "created")
        run = ActionRun.new(run_id=rid, incident=incident["id"], action="fix", type="http", rule="svc",
                            trigger="created", event_id="ev-1", event_at=now, created_at=now)
        assert await state.claim(rid, "stopped-worker", 300.0, run) == ("claimed", "")
        await state.schedule(RETRY, rid, now)  # the timer of its attempt 1, due
        polls = w.actions.due.polls
        await eventually(lambda: w.actions.due.polls >= polls + 2, what="due polls")
        # claimed (due again when its 60 s lease runs out) and left claimed: the run's claim is held
        assert now + 59 < await state.due.due_at(RETRY, rid) < now + 61
        assert (await state.load(rid)).state == "running" and fired([w]) == 0
        await state.redis.pexpire(state.keys.action_claim(rid), 1)  # the stopped worker's claim lapses
        clock.now += 61  # and the timer's lease runs out
        await eventually(lambda: fired([w]) == 1, what="the timer done")
        assert await state.due.due_at(RETRY, rid) is None and hook.requests == []
        assert (await state.load(rid)).state == "running" and not await state.redis.exists(state.keys.action_claim(rid))
        await publish_event(clean, orjson.dumps(event), message_id="ev-1")  # the event, delivered again
        await eventually(lambda: run_in(w, "retrying", 1, rid), what="taken over from the event")
    finally:
        await w.stop()
