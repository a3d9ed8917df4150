"""auto_resolve after_hold through the shared timer index, with an injected clock moved by the test."""

from __future__ import annotations

import asyncio

from correlation.core.model import parse_incident_id
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import (
    body, incident_status_is, publish, stored_alerts, timer_gone, v2_alert,
)

RULES = """
groups:
  - name: held
    match: ['alertname="DiskFull"']
    group_by: [service]
    auto_resolve: {mode: after_hold, hold: 5m}
"""


async def test_incident_resolves_after_the_hold_exactly_once_across_two_workers(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    clock = ManualClock()
    settings = clean.model_copy(update={"rules": str(tmp_path), "timer_poll_seconds": 0.02})
    workers = [Worker(settings, clock=clock) for _ in range(2)]  # two workers race for the same timers
    for w in workers:
        await w.start()
    store = workers[0].store
    try:
        await publish(clean, [body([v2_alert("DiskFull", "db", "db-1")])])
        await eventually(lambda: sum(stored_alerts(w) for w in workers) >= 1)
        await publish(clean, [body([v2_alert("DiskFull", "db", "db-1", resolved=True)])])
        await eventually(lambda: sum(stored_alerts(w) for w in workers) >= 2)
        (incident,) = await store.list_incidents()
        assert incident.status == "open" and incident.firing == 0
        assert incident.resolve_at is not None and abs(incident.resolve_at - (clock.now + 300)) < 5
        shard = store.keys.due("resolve", store.keys.timer_shard(parse_incident_id(incident.id)[0]))
        assert await store.redis.zscore(shard, incident.id) is not None

        clock.now += 299  # not yet due: both workers poll, nothing resolves
        polls = [w.timers.polls for w in workers]
        await eventually(lambda: all(w.timers.polls >= n + 2 for w, n in zip(workers, polls, strict=True)), what="timer polls")
        assert (await store.incident(incident.id)).status == "open"

        clock.now += 2
        await eventually(lambda: incident_status_is(store, incident.id, "resolved"), what="held resolution fired")
        resolved = await store.incident(incident.id)
        assert resolved.resolve_at is None
        timeline = await store.timeline(incident.id)
        assert [e["kind"] for e in timeline].count("resolved") == 1  # fired exactly once across two workers
        await eventually(lambda: timer_gone(store, shard, incident.id), what="timer completed")
        assert await store.count_incidents(open_only=True) == 0
    finally:
        for w in workers:
            await w.stop()


async def test_a_stopped_worker_s_timer_loops_have_ended_when_stop_returns(clean):
    """A loop left running after its worker stopped keeps claiming timers (redis-py reconnects on the next command)
    and fails to publish them on the closed channel, each then held for its lease: seen as a held resolution that
    never completed when two workers took over from a stopped one. Many start/stop rounds, polling constantly, so
    stop() lands in every phase of a poll."""
    settings = clean.model_copy(update={"timer_poll_seconds": 0.001})
    for _ in range(10):
        worker = Worker(settings)
        await worker.start()
        assert worker.timers is not None and worker.actions is not None and worker.actions.due is not None
        loops = [worker.timers, worker.actions.due]
        await eventually(lambda: worker.timers.completed >= 3, what="a few polls")
        await worker.stop()
        assert not any(loop.running for loop in loops)
        polls = [loop.polls for loop in loops]
        for _ in range(50):  # loop turns, in which a loop still alive would poll again
            await asyncio.sleep(0)
        assert [loop.polls for loop in loops] == polls
