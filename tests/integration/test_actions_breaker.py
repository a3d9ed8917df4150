"""The circuit breaker on the real Redis, time moved by hand: closed, open, half-open with one trial, closed again."""

from __future__ import annotations

import redis.asyncio as aioredis

from actions.state import ActionState
from correlation.store.keyspace import Keyspace

T0 = 1_800_000_000.0


async def test_open_then_one_trial_after_the_cooldown_decides(clean):
    redis = aioredis.from_url(clean.redis_url)
    state = ActionState(redis, Keyspace(clean.namespace))
    try:
        record = state.breaker_record
        assert await state.breaker_allows("fix", T0)
        assert await record("fix", False, 2, 600, T0) == 0
        assert await record("fix", True, 2, 600, T0 + 1) == 0  # a success resets the count
        assert await record("fix", False, 2, 600, T0 + 2) == 0
        assert await record("fix", False, 2, 600, T0 + 3) == 1  # two in a row: open for 600 s
        assert not await state.breaker_allows("fix", T0 + 4)
        assert await record("fix", False, 2, 600, T0 + 5) == 0  # a run that began before: nothing changes
        assert not await state.breaker_allows("fix", T0 + 602)
        assert await state.breaker_allows("other", T0 + 4)  # per action

        # cooldown over: half-open, one trial at a time (leased for 30 s)
        assert await state.breaker_allows("fix", T0 + 603, 30)
        assert not await state.breaker_allows("fix", T0 + 604, 30)
        assert await record("fix", False, 2, 600, T0 + 610) == 2  # the trial failed: open again at once
        assert not await state.breaker_allows("fix", T0 + 611)
        assert not await state.breaker_allows("fix", T0 + 1209)

        # the next trial's worker dies: after its lease another run may try
        assert await state.breaker_allows("fix", T0 + 1211, 30)
        assert not await state.breaker_allows("fix", T0 + 1240, 30)
        assert await state.breaker_allows("fix", T0 + 1242, 30)
        assert await record("fix", True, 2, 600, T0 + 1243) == 0  # the trial succeeded: closed
        assert await state.breaker_allows("fix", T0 + 1244) and await state.breaker_allows("fix", T0 + 1245)
        assert await record("fix", False, 2, 600, T0 + 1246) == 0  # counting from zero again
    finally:
        await redis.aclose()
