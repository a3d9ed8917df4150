"""Redis loses its data in the middle of a storm; the open incidents come back from the history (`stormwatch
history restore`, or the writer by itself), and the rest of the storm joins them. The account: every alert of the
first half is a member again with its count as the history last saw it (never more than was sent), every
notification after the restore is counted exactly once on top, one incident per group, each incident's action run
exactly once: nobody paged twice.

Counts are "as the history last saw them": a repeat notification that changes nothing but the counts publishes no
event, so the history learns the newest counts at the incident's next event (docs/history.md)."""

from __future__ import annotations

import sqlite3
from collections import Counter

import orjson

from tests.conftest import eventually
from tests.faults.harness import GROUPS, Scenario, Stream, make_stream
from tests.faults.servers import queue_counts
from tests.integration.helpers import run_cli
from tests.integration.test_event_contract import Capture

MESSAGES = 600
HALF = 300


def _env(scenario: Scenario, auto: bool) -> dict[str, str]:
    return {"STORMWATCH_HISTORY_ENABLED": "true", "STORMWATCH_HISTORY_PATH": str(scenario.directory / "history.db"),
            "STORMWATCH_HISTORY_AUTO_RESTORE": str(auto).lower(), "STORMWATCH_HISTORY_RESTORE_CHECK_SECONDS": "0.5"}


def _sent(stream: Stream, start: int, stop: int | None = None) -> Counter:
    out: Counter = Counter()
    for raw in stream.bodies[start:stop]:
        out.update((a["labels"]["service"], a["labels"]["instance"]) for a in orjson.loads(raw))
    return out


async def _idle(scenario: Scenario) -> bool:
    ns = scenario.settings.namespace
    queues = await queue_counts(ns)
    return all(queues.get(f"{ns}.{q}", (0, 0)) == (0, 0) for q in ("alerts", "actions", "history"))


async def _quiet(scenario: Scenario, capture: Capture, alerts: int) -> bool:
    """Everything sent so far is acked by the worker (so its events are confirmed: in the history's queue and in
    ``capture``), every one of those events is in the history, and every group's action has run. (The broker's
    queue counts lag behind: they cannot say that the history is complete.)"""
    if (await scenario.workers[0].metric("stormwatch_batch_alerts_sum") or 0) < alerts:
        return False
    if len(scenario.ledger_runs()) < GROUPS:
        return False
    await capture.types()
    published = {orjson.loads(m.body)["event_id"] for m in capture.messages}
    db = sqlite3.connect(scenario.directory / "history.db")
    try:
        applied = {row[0] for row in db.execute("select event_id from applied_events")}
    finally:
        db.close()
    return bool(published) and published <= applied


async def _forget(scenario: Scenario) -> int:
    """What a Redis restarted without persistence leaves of the namespace: nothing."""
    client = scenario.redis()
    try:
        keys = [k async for k in client.scan_iter(match=f"{scenario.settings.namespace}:*", count=1000)]
        return await client.delete(*keys) if keys else 0
    finally:
        await client.aclose()


async def _storm_with_a_loss(scenario: Scenario, stream: Stream, restore) -> None:
    first, second = _sent(stream, 0, HALF), _sent(stream, HALF)
    capture = await Capture(scenario.settings).start()
    try:
        await scenario.publish(stream, 0, HALF)
        await eventually(lambda: _quiet(scenario, capture, sum(first.values())), timeout=60,
                         what="the first half in Redis and the history")
    finally:
        await capture.close()
    assert await _forget(scenario) > 0
    await restore()
    restored = await scenario.counts()
    assert set(restored) == set(first)  # every alert of the first half a member again
    assert all(1 <= restored[fp] <= first[fp] for fp in first), "a count above what was sent"
    scenario.fault_over()
    await scenario.publish(stream, HALF)
    want = restored + second

    async def settled() -> bool:
        return await scenario.counts() == want and await _idle(scenario)
    await eventually(settled, timeout=90, what="the second half counted exactly once on top of the restored")
    account = await scenario.account(stream)
    assert len(account.incidents_per_group) == GROUPS and set(account.incidents_per_group.values()) == {1}, \
        account.incidents_per_group  # no second incident: no id issued twice
    assert len(account.incidents) == GROUPS
    assert set(account.action_runs.values()) == {1} and set(account.action_runs) == set(account.incidents), \
        account.action_runs  # each incident's action ran once: nobody paged twice


async def test_redis_flushed_mid_storm_then_restored_from_the_history(scenario):
    env = _env(scenario, auto=False)
    await scenario.ready(await scenario.start_worker(**env))

    async def restore() -> None:
        code, out, err = await run_cli(scenario.settings, "history", "restore", "--json", env=env)
        assert code == 0, err
        done = orjson.loads(out)
        assert done["incidents"] == GROUPS and done["counters_raised"] == GROUPS, done
    await _storm_with_a_loss(scenario, make_stream(scenario.settings.namespace, MESSAGES, seed=17), restore)


async def test_redis_flushed_mid_storm_and_the_writer_restores_by_itself(scenario):
    worker = await scenario.start_worker(**_env(scenario, auto=True))
    await scenario.ready(worker)

    async def restore() -> None:
        await eventually(lambda: "redis_data_lost_restored" in worker.events(), timeout=30,
                         what="the writer noticed and restored")
    await _storm_with_a_loss(scenario, make_stream(scenario.settings.namespace, MESSAGES, seed=18), restore)

