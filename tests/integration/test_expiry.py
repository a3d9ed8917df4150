"""resolve_timeout through the shared timer index: two workers, the real Redis and RabbitMQ, an injected clock."""

from __future__ import annotations

import uuid

import orjson

from correlation.core.decision import expiry_timer
from correlation.core.model import parse_incident_id
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import (
    body, incident_status_is, publish, run_cli, stored_alerts, timer_gone, v2_alert,
)

RULES = """
groups:
  - name: expiring
    match: ['alertname="HighLatency"']
    group_by: [service]
    resolve_timeout: 5m
"""


async def _send(settings, *instances: str) -> None:
    bodies = [body([v2_alert("HighLatency", "api", i)]) for i in instances]
    await publish(settings, bodies, message_ids=[uuid.uuid4().hex for _ in bodies])  # each a new notification


async def test_alerts_not_notified_again_expire_once_and_a_later_copy_fires_again(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    clock = ManualClock()
    t0 = clock.now
    settings = clean.model_copy(update={"rules": str(tmp_path), "timer_poll_seconds": 0.02})
    workers = [Worker(settings, clock=clock) for _ in range(2)]  # two workers race for the same timers
    for w in workers:
        await w.start()
    store = workers[0].store

    async def stored(n: int) -> None:
        await eventually(lambda: sum(stored_alerts(w) for w in workers) >= n, what=f"{n} alerts stored")

    try:
        await _send(clean, "api-1", "api-2")
        await stored(2)
        (incident,) = await store.list_incidents()
        gid = parse_incident_id(incident.id)[0]
        shard = store.keys.due("expire", store.keys.timer_shard(gid))
        alerts = {a.labels["instance"]: a for a in await store.incident_alerts(incident.id)}
        armed = {i: expiry_timer(gid, a.fingerprint) for i, a in alerts.items()}
        for member in armed.values():
            assert await store.redis.zscore(shard, member) == t0 + 300

        clock.now = t0 + 200
        await _send(clean, "api-1")  # api-1 is still being sent; api-2 stopped without a resolve
        await stored(3)
        assert await store.redis.zscore(shard, armed["api-1"]) == t0 + 300, "a repeat writes no timer"

        clock.now = t0 + 301
        await eventually(lambda: _firing(store, incident.id, 1), what="api-2 expired")
        await eventually(lambda: _score(store, shard, armed["api-1"], t0 + 500), what="api-1's timer armed again")
        clock.now = t0 + 501
        await eventually(lambda: incident_status_is(store, incident.id, "resolved"),
                         what="api-1 expired, incident resolved")

        texts = [e["text"] for e in await store.timeline(incident.id)]
        expired = [t for t in texts if "expired (not notified for 300s)" in t]
        assert len(expired) == 2, texts  # each alert once, across two workers
        assert [e["kind"] for e in await store.timeline(incident.id)].count("resolved") == 1
        await eventually(lambda: timer_gone(store, shard, armed["api-1"]), what="timers completed")
        assert await store.redis.zscore(shard, armed["api-2"]) is None
        code, out, err = await run_cli(clean, "incidents", "show", incident.id, "--json")
        assert code == 0, err
        members = orjson.loads(out)["members"]
        assert {(m["status"], m["expired"], m["ends_at"]) for m in members} == {
            ("resolved", True, t0 + 500), ("resolved", True, t0 + 300)}
        code, out, err = await run_cli(clean, "incidents", "show", incident.id)
        assert code == 0 and out.count("resolved (expired)") == 2, out

        await _send(clean, "api-1")  # the sender is back and still sees the same episode firing
        await stored(4)
        await eventually(lambda: _open_count(store, 1), what="the expired episode fired again")
        (reopened,) = [i for i in await store.list_incidents() if i.status == "open"]
        assert reopened.id != incident.id and reopened.firing == 1
    finally:
        for w in workers:
            await w.stop()


async def _firing(store, incident_id: str, n: int) -> bool:
    return (await store.incident(incident_id)).firing == n


async def _score(store, shard: str, member: str, due: float) -> bool:
    return await store.redis.zscore(shard, member) == due


async def _open_count(store, n: int) -> bool:
    return await store.count_incidents(open_only=True) == n


async def test_a_backlog_of_due_timers_is_claimed_a_full_share_at_a_time_until_none_is_left(clean, tmp_path):
    """250 alerts of one group (so one timer shard) expire at once: polls take 100, 100, then 50, and say so."""
    (tmp_path / "rules.yaml").write_text(RULES)
    clock = ManualClock()
    settings = clean.model_copy(update={"rules": str(tmp_path), "timer_poll_seconds": 3600})  # polled by hand
    worker = Worker(settings, clock=clock)
    await worker.start()
    try:
        await publish(clean, [body([v2_alert("HighLatency", "api", f"api-{i}") for i in range(250)])])
        await eventually(lambda: stored_alerts(worker) >= 250, what="250 alerts stored")
        clock.now += 301
        backlog = []
        for _ in range(3):
            await worker.timers.fire_due()
            backlog.append(worker.timers.backlog)
        assert backlog == [True, True, False]
        (incident,) = await worker.store.list_incidents()
        assert incident.status == "resolved" and incident.firing == 0
    finally:
        await worker.stop()
