"""The batch's two independent first reads (mutes, group state) run at once; a failure surfaces as itself."""

import asyncio
import gc
import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from correlation.store.pipeline import _both


async def test_both_results_in_order():
    async def value(v, delay_turns):
        for _ in range(delay_turns):
            await asyncio.sleep(0)
        return v

    assert await _both(value("mutes", 3), value("groups", 0)) == ("mutes", "groups")


async def test_a_store_outage_is_raised_as_it_is_and_the_other_read_cancelled():
    # the consumer retries a store outage by the error's type: it must not arrive wrapped in an ExceptionGroup
    other_started = asyncio.Event()
    never = asyncio.Event()

    async def slow():
        other_started.set()
        await never.wait()

    async def down():
        await other_started.wait()
        raise RedisConnectionError("connection refused")

    slow_task = asyncio.ensure_future(slow())
    with pytest.raises(RedisConnectionError):
        await _both(slow_task, down())
    await asyncio.sleep(0)
    assert slow_task.cancelled()


async def test_both_failing_raises_one_and_retrieves_the_other(caplog):
    async def fail(exc):
        raise exc

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        with pytest.raises((RedisConnectionError, KeyError)):
            await _both(fail(RedisConnectionError("down")), fail(KeyError("bug")))
        gc.collect()  # an unretrieved task exception is logged when the task is collected
        await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text
