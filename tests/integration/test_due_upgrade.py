"""Upgrading across the due-time index: timers the previous version left in its keys (``<ns>:timers:{t<n>}`` with
its ``:claims``, ``<ns>:act:due``) are moved when new workers start, and each fires exactly once. Two workers start
at once, on an injected clock; the real Redis and RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from actions.due_kinds import APPROVAL_EXPIRY
from correlation.core.decision import merge_timer, parse_timer
from correlation.core.model import parse_incident_id
from correlation.store.keyspace import Keyspace
from correlation.store.store import ClaimedTimer
from kv.due import DueIndex
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.actions_support import Hook, action_settings, alert, settled
from tests.integration.helpers import body, incident_status_is, publish, stored_alerts, v2_alert
from tests.integration.test_late_merge import RULES as LATE

HELD = """
groups:
  - name: held
    match: ['alertname="DiskFull"']
    group_by: [service]
    auto_resolve: {mode: after_hold, hold: 5m}
"""


def fired(workers: list[Worker], kind: str) -> float:
    return sum(w.metrics.registry.get_sample_value("stormwatch_due_fired_total", {"kind": kind}) or 0
               for w in workers)


async def gone(redis, *keys: str) -> bool:
    return not await redis.exists(*keys)


@pytest.fixture
async def redis(clean) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(clean.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_held_resolution_left_in_an_old_timer_shard_fires_once_after_the_upgrade(clean, tmp_path, redis):
    (tmp_path / "rules.yaml").write_text(HELD)
    clock = ManualClock()
    settings = clean.model_copy(update={"rules": str(tmp_path), "timer_poll_seconds": 0.02})
    old = Worker(settings, clock=clock)
    await old.start()
    try:
        await publish(clean, [body([v2_alert("DiskFull", "db", "db-1")])])
        await eventually(lambda: stored_alerts(old) >= 1)
        await publish(clean, [body([v2_alert("DiskFull", "db", "db-1", resolved=True)])])
        await eventually(lambda: stored_alerts(old) >= 2)
        (incident,) = await old.store.list_incidents()
    finally:
        await old.stop()
    keys = Keyspace(clean.namespace)
    index = DueIndex(redis, keys)
    gid = parse_incident_id(incident.id)[0]
    due = await index.due_at("resolve", incident.id, shard=keys.timer_shard(gid))
    assert due is not None and incident.status == "open"
    # the state as the previous version wrote it: the held resolution in its group's old timer shard
    old_shard = keys.legacy_timer_shards[int(gid[:2], 16) % 16]
    await redis.zadd(old_shard, {incident.id: due})
    await index.cancel("resolve", incident.id, shard=keys.timer_shard(gid))

    workers = [Worker(settings, clock=clock) for _ in range(2)]  # two new workers start at once
    for w in workers:
        await w.start()
    try:
        await eventually(lambda: gone(redis, old_shard), what="the old shard moved")
        assert await index.due_at("resolve", incident.id, shard=keys.timer_shard(gid)) == due
        clock.now = due + 1
        await eventually(lambda: incident_status_is(workers[0].store, incident.id, "resolved"),
                         what="the held resolution fired")
        await eventually(lambda: fired(workers, "resolve") >= 1, what="the timer completed")
        polls = [w.timers.polls for w in workers]
        clock.now += 120  # past any lease: a timer left claimed would fall due again now
        await eventually(lambda: all(w.timers.polls >= n + 2 for w, n in zip(workers, polls, strict=True)),
                         what="timer polls")
        timeline = await workers[0].store.timeline(incident.id)
        assert [e["kind"] for e in timeline].count("resolved") == 1
        assert fired(workers, "resolve") == 1  # once across both workers
        assert await index.count(["resolve"]) == 0
    finally:
        for w in workers:
            await w.stop()


@pytest.fixture
async def hook():
    h = await Hook().start()
    yield h
    await h.stop()


async def test_an_approval_expiry_left_in_the_old_action_due_set_fires_once_after_the_upgrade(clean, tmp_path,
                                                                                              hook, redis):
    (tmp_path / "rules.yaml").write_text(f"""
actions:
  - name: fix
    type: http
    config: {{url: "{hook.url('/fix')}"}}
    approval: required
    approval_expires: 30m
groups:
  - name: svc
    match: ['alertname=~"Down.*"']
    group_by: [alertname, service]
    actions: [fix]
""")
    clock = ManualClock()
    settings = action_settings(clean, tmp_path)
    old = Worker(settings, clock=clock)
    await old.start()
    try:
        await publish(clean, [body([alert("DownA", service="a")])])
        (run,) = await settled(old, 1)
    finally:
        await old.stop()
    keys = Keyspace(clean.namespace)
    index = DueIndex(redis, keys)
    run_id = run["run_id"]
    expires = await index.due_at(APPROVAL_EXPIRY, run_id)
    assert run["state"] == "pending_approval" and expires is not None
    # the state as the previous version wrote it: "expire:<run id>" in <ns>:act:due
    await redis.zadd(keys.legacy_action_due, {f"expire:{run_id}": expires})
    await index.cancel(APPROVAL_EXPIRY, run_id)

    workers = [Worker(settings, clock=clock) for _ in range(2)]
    for w in workers:
        await w.start()
    try:
        await eventually(lambda: gone(redis, keys.legacy_action_due), what="act:due moved")
        assert await index.due_at(APPROVAL_EXPIRY, run_id) == expires
        clock.now = expires + 1
        await eventually(lambda: fired(workers, APPROVAL_EXPIRY) >= 1, what="the expiry fired")
        polls = [w.actions.due.polls for w in workers]
        clock.now += 120
        await eventually(lambda: all(w.actions.due.polls >= n + 2 for w, n in zip(workers, polls, strict=True)),
                         what="due polls")
        state = workers[0].actions.state
        assert (await state.run(run_id))["state"] == "expired"
        assert fired(workers, APPROVAL_EXPIRY) == 1
        outcomes = [e["outcome"] for e in await state.audit() if e.get("run_id") == run_id]
        assert outcomes.count("expired") == 1 and hook.requests == []
    finally:
        for w in workers:
            await w.stop()


async def test_a_merge_an_old_worker_wrote_and_died_on_is_finished_after_the_upgrade(clean, tmp_path, redis):
    """A worker of the previous version claimed a late cause's merge timer (``timers:{t<n>}`` with its ``:claims``),
    wrote the merge and died before its follow-ups. The timer moves into the index with its attempt, so the new
    worker that claims it finds that write, replays what was left undone (the symptom attached to the cause's
    incident) and completes it, once."""
    (tmp_path / "rules.yaml").write_text(LATE)
    clock = ManualClock()
    settings = clean.model_copy(update={"rules": str(tmp_path), "timer_poll_seconds": 3600})  # polled by hand
    keys = Keyspace(clean.namespace)
    old = Worker(settings, clock=clock)
    await old.start()
    try:
        await publish(clean, [body([v2_alert("HighErrorRate", "checkout", "checkout-1")])])
        await eventually(lambda: stored_alerts(old) >= 1, what="checkout paged")
        await publish(clean, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
        await eventually(lambda: stored_alerts(old) >= 2, what="the database alert stored")
        (checkout,) = [i for i in await old.store.list_incidents() if i.title == "by-service: checkout"]
        member = merge_timer(checkout.id)
        n = keys.timer_shard(parse_timer(member)[1])
        await eventually(lambda: redis.zscore(keys.due("merge", n), member), what="the merge timer armed")
        # the old worker claims it, writes the merge and dies: no follow-ups, no completion
        (claim,) = (await old.store.due.claim(["merge"], clock.now)).timers
        assert old.timers is not None
        await old.timers.timers.handlers["merge"]._fire({parse_timer(member)[1]: [ClaimedTimer(claim)]}, clock.now)
    finally:
        await old.stop()
    (db,) = [i for i in await old.store.list_incidents() if i.title == "by-service: orders-db"]
    assert (await old.store.incident(checkout.id)).merged_into == db.id
    # the state as the previous version left it: the claimed timer in its old shard, its attempt in the shard's claims
    old_shard = keys.legacy_timer_shards[n]
    await redis.zadd(old_shard, {member: float(claim.claimed)})
    await redis.hset(keys.legacy_timer_claims(old_shard), member, claim.attempt)
    await redis.zrem(keys.due("merge", n), member)
    await redis.delete(keys.due_claims(n))

    new = Worker(settings, clock=clock)
    await new.start()
    try:
        await eventually(lambda: gone(redis, old_shard, keys.legacy_timer_claims(old_shard)),
                         what="the old shard and its claims moved")
        # the poll a loop makes when it starts is over: it fired what was due (the incidents' sla timers, scheduled
        # at the old worker's clock) and it does not race the poll below for the merge once the clock moves
        assert new.timers is not None
        await eventually(lambda: new.timers.completed >= 1, what="the loop's first poll over")
        assert await redis.hget(keys.due_claims(n), f"merge:{member}") == claim.attempt.encode()
        assert new.pipeline is not None and await new.pipeline.links.symptoms(db.id) == []  # left undone
        clock.now += 61  # the old claim's lease runs out
        assert new.timers is not None and (await new.timers.fire_due()).fired == {"merge": 1}
        attached = await new.pipeline.links.symptoms(db.id)
        assert [(s["labels"]["service"], s["merged_from"]) for s in attached] == [("checkout", checkout.id)]
        assert new.metrics.registry.get_sample_value("stormwatch_incidents_merged_total") == 1
        assert await redis.exists(keys.due("merge", n), keys.due_claims(n)) == 0  # completed, its attempt ended
    finally:
        await new.stop()
