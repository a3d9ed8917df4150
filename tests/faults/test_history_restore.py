"""Redis loses its data in the middle of a storm; `stormwatch history restore` puts the open incidents back from
the history, and the rest of the storm joins them: the exact account of ``harness.finish`` (every notification
counted once, one incident per group, each incident's action run exactly once: nobody paged twice)."""

from __future__ import annotations

import orjson

from tests.conftest import eventually
from tests.faults.harness import GROUPS, Scenario, finish, make_stream
from tests.faults.servers import queue_counts
from tests.integration.helpers import run_cli

MESSAGES = 600
HALF = 300


async def _quiet(scenario: Scenario, alerts: int) -> bool:
    """The first part of the storm is in Redis and in the history, and every group's action has run."""
    if (await scenario.stored() or 0) < alerts or len(scenario.ledger_runs()) < GROUPS:
        return False
    ns = scenario.settings.namespace
    queues = await queue_counts(ns)
    return all(queues.get(f"{ns}.{q}", (0, 0)) == (0, 0) for q in ("alerts", "actions", "history"))


async def _forget(scenario: Scenario) -> int:
    """What a Redis restarted without persistence leaves of the namespace: nothing."""
    client = scenario.redis()
    try:
        keys = [k async for k in client.scan_iter(match=f"{scenario.settings.namespace}:*", count=1000)]
        return await client.delete(*keys) if keys else 0
    finally:
        await client.aclose()


async def test_redis_flushed_mid_storm_then_restored_from_the_history(scenario):
    env = {"STORMWATCH_HISTORY_ENABLED": "true", "STORMWATCH_HISTORY_PATH": str(scenario.directory / "history.db")}
    stream = make_stream(scenario.settings.namespace, MESSAGES, seed=17)
    await scenario.ready(await scenario.start_worker(**env))
    await scenario.publish(stream, 0, HALF)
    first = sum(len(orjson.loads(b)) for b in stream.bodies[:HALF])
    await eventually(lambda: _quiet(scenario, first), timeout=60, what="the first half in Redis and the history")
    assert await _forget(scenario) > 0
    assert await scenario.stored() == 0
    code, out, err = await run_cli(scenario.settings, "history", "restore", "--json", env=env)
    assert code == 0, err
    restored = orjson.loads(out)
    assert restored["incidents"] == GROUPS and restored["counters_raised"] == GROUPS, restored
    assert await scenario.stored() == first  # every member's count as the history last saw it
    scenario.fault_over()
    await scenario.publish(stream, HALF)
    account = await finish(scenario, stream, notes="Redis lost the namespace mid-storm; `history restore`")
    assert sorted(account.incidents_per_group.values()) == [1] * GROUPS  # no id issued twice, no second incident
