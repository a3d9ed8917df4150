"""Redis and the network fail under two real workers: Redis SIGKILLed and restarted (AOF, fsync always), Redis
frozen (SIGSTOP) past the client timeouts, and a TCP proxy that delays, resets and cuts the worker's links to
Redis and to RabbitMQ. Every scenario ends with the exact account of ``harness.finish``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import eventually
from tests.faults.harness import Scenario, finish, make_stream, note
from tests.faults.servers import ChaosProxy, DurableRedis

MESSAGES = 2000


@pytest.fixture
async def durable_redis(tmp_path: Path) -> AsyncIterator[DurableRedis]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = DurableRedis(directory)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _stored_at_least(scenario: Scenario, n: float, url: str | None = None) -> bool:
    return (await scenario.stored(url) or 0) >= n


async def _noticed(scenario: Scenario, *events: str) -> bool:
    return any(e in w.events() for w in scenario.workers for e in events)


async def _two_workers(scenario: Scenario, **env: str) -> None:
    workers = [await scenario.start_worker(**env), await scenario.start_worker(**env)]
    await scenario.ready(*workers)


async def test_redis_sigkilled_and_restarted(scenario, durable_redis):
    url = durable_redis.url
    stream = make_stream(scenario.settings.namespace, MESSAGES, seed=11)
    await _two_workers(scenario, STORMWATCH_REDIS_URL=url)
    publisher = asyncio.create_task(scenario.publish(stream))
    await eventually(lambda: _stored_at_least(scenario, stream.alerts * 0.3, url), timeout=60, what="30% stored")
    await durable_redis.kill()
    await eventually(lambda: _noticed(scenario, "store_unavailable"), timeout=30, what="a worker saw Redis go")
    await durable_redis.start()  # same port and directory: the AOF brings back every write it acknowledged
    scenario.fault_over()
    await publisher
    await finish(scenario, stream, redis_url=url)
    note("SIGKILL at 30%, restarted from the AOF")


async def test_redis_frozen_past_the_client_timeouts(scenario, durable_redis):
    """SIGSTOP: connections stay open and nothing answers; the workers' commands time out (5 s) and are retried.
    A write sent just before the freeze still runs when Redis continues, after the worker gave up on it: the
    idempotency markers turn its retry into a replay (how many depends on what was in flight at the freeze)."""
    url = durable_redis.url
    stream = make_stream(scenario.settings.namespace, MESSAGES, seed=12)
    await _two_workers(scenario, STORMWATCH_REDIS_URL=url)
    publisher = asyncio.create_task(scenario.publish(stream))
    await eventually(lambda: _stored_at_least(scenario, stream.alerts * 0.3, url), timeout=60, what="30% stored")
    durable_redis.freeze()
    try:
        await eventually(lambda: _noticed(scenario, "store_unavailable"), timeout=30,
                         what="a worker's Redis command timed out")
    finally:
        durable_redis.thaw()
    scenario.fault_over()
    await publisher
    await finish(scenario, stream, redis_url=url)
    replays = sum([(await w.metric("stormwatch_replays_total")) or 0 for w in scenario.workers])
    note(f"SIGSTOP until a 5 s timeout, then SIGCONT; {replays:.0f} replays")


async def _delay_then_reset(scenario: Scenario, proxy: ChaosProxy, alerts: int) -> int:
    """The first two thirds of a proxied stream: 50 ms per chunk each way from 1/6 to 1/3 of the alerts stored,
    then every connection reset (TCP RST, mid-command); returns once 2/3 are stored (the cut comes next)."""
    third = alerts / 3
    await eventually(lambda: _stored_at_least(scenario, third * 0.5), timeout=60, what="1/6 stored")
    proxy.delay = 0.05
    await eventually(lambda: _stored_at_least(scenario, third), timeout=60, what="1/3 stored")
    proxy.delay = 0.0
    reset = proxy.reset()
    await eventually(lambda: _stored_at_least(scenario, 2 * third), timeout=90, what="2/3 stored")
    return reset


async def test_redis_link_delayed_reset_and_cut(scenario):
    parts = urlsplit(scenario.settings.redis_url)
    proxy = await ChaosProxy(parts.hostname or "127.0.0.1", parts.port or 6379).start()
    url = f"redis://127.0.0.1:{proxy.port}{parts.path or '/0'}"
    try:
        stream = make_stream(scenario.settings.namespace, MESSAGES, seed=13)
        await _two_workers(scenario, STORMWATCH_REDIS_URL=url)
        publisher = asyncio.create_task(scenario.publish(stream))
        reset = await _delay_then_reset(scenario, proxy, stream.alerts)
        await proxy.cut()  # refused until restored
        await eventually(lambda: _noticed(scenario, "store_unavailable"), timeout=30, what="Redis unreachable")
        await proxy.restore()
        scenario.fault_over()
        await publisher
        await finish(scenario, stream)
    finally:
        await proxy.stop()
    note(f"50 ms delay, {reset} connections reset, cut until noticed")


async def test_rabbitmq_link_delayed_reset_and_cut(scenario):
    parts = urlsplit(scenario.settings.amqp_url)
    proxy = await ChaosProxy(parts.hostname or "127.0.0.1", parts.port or 5672).start()
    url = scenario.settings.amqp_url.replace(f":{parts.port or 5672}/", f":{proxy.port}/", 1)
    try:
        stream = make_stream(scenario.settings.namespace, MESSAGES, seed=14)
        await _two_workers(scenario, STORMWATCH_AMQP_URL=url)
        publisher = asyncio.create_task(scenario.publish(stream))  # straight to the broker, not proxied
        reset = await _delay_then_reset(scenario, proxy, stream.alerts)
        await proxy.cut()
        await asyncio.sleep(1.0)  # the fault's duration (not an assertion): 1 s without a broker
        await proxy.restore()
        scenario.fault_over()
        await publisher
        await finish(scenario, stream)
    finally:
        await proxy.stop()
    note(f"50 ms delay, {reset} connections reset, 1 s cut")
