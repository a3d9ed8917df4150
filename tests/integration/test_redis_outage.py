"""Redis goes away under load and comes back: the worker holds its messages, then loses and repeats nothing.

Each test runs its own redis-server (tests.integration.redis_server) so that stopping it cannot disturb
anything else using the shared Redis; RabbitMQ is the shared broker, in the test's own namespace.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from correlation.core.routing import Router
from stormwatch.app import Worker
from stormwatch.config import Settings
from tests.conftest import eventually
from tests.integration.helpers import alerts_queue_state, body, metric, publish, stored_alerts, v2_alert
from tests.integration.redis_server import RedisServer

GROUPS = 20
INSTANCES = 6
PREFETCH = 32  # small, so that during the outage most of the stream visibly waits in the queue


def alert_stream(namespace: str, messages: int, seed: int) -> tuple[list[bytes], list[str], list[list[tuple[int, int]]]]:
    """``messages`` bodies of 1-5 distinct alerts over GROUPS groups x INSTANCES instances, with repeats.

    Returns the bodies, their unique message ids and, per message, the (group, instance) pairs it holds.
    Every group appears (the first GROUPS messages open them in order).
    """
    rng = random.Random(seed)
    every = [(g, i) for g in range(GROUPS) for i in range(INSTANCES)]
    picks = []
    for n in range(messages):
        chosen = rng.sample(every, rng.randint(1, 5))
        if n < GROUPS and all(g != n for g, _ in chosen):
            chosen[0] = (n, rng.randrange(INSTANCES))
            chosen = list(dict.fromkeys(chosen))
        picks.append(chosen)
    bodies = [body(alert_of(g, i) for g, i in chosen) for chosen in picks]
    ids = [f"{namespace}-m{n}" for n in range(messages)]
    return bodies, ids, picks


def alert_of(g: int, i: int) -> dict:
    return v2_alert(f"Outage{g % 5}", f"svc-{g}", f"pod-{i}", severity="critical" if g % 3 == 0 else "warning")


async def assert_state_matches(worker: Worker, picks: list[list[tuple[int, int]]]) -> None:
    """Exactly one incident per group; every count equals what was published, nothing doubled or lost."""
    per_fp = Counter(pair for chosen in picks for pair in chosen)
    store = worker.store
    assert store is not None
    incidents = await store.list_incidents(limit=1000)
    assert len(incidents) == GROUPS == await store.count_incidents() == await store.count_incidents(open_only=True)
    by_title = {inc.title: inc for inc in incidents}
    assert len(by_title) == GROUPS
    for g in range(GROUPS):
        incident = by_title[f"Outage{g % 5} / svc-{g}"]
        expected = {f"pod-{i}": n for (gg, i), n in per_fp.items() if gg == g}
        assert incident.status == "open"
        assert (incident.alerts, incident.firing) == (len(expected), len(expected)), incident
        assert incident.occurrences == sum(expected.values()), incident
        members = await store.incident_alerts(incident.id)
        assert {a.labels["instance"]: a.count for a in members} == expected, incident.title
        assert all(a.status == "firing" and a.incident == incident.id for a in members)


async def idempotency_markers(server: RedisServer, namespace: str) -> int:
    client = server.client()
    try:
        return len([k async for k in client.scan_iter(match=f"{namespace}:*:m:*", count=1000)])
    finally:
        await client.aclose()


@pytest.fixture
async def outage_worker(clean: Settings, own_redis: RedisServer) -> AsyncIterator[Worker]:
    # `clean` removes the RabbitMQ side afterwards; the Redis side dies with own_redis
    worker = Worker(clean.model_copy(update={"redis_url": own_redis.url, "prefetch": PREFETCH}))
    await worker.start()
    try:
        yield worker
    finally:
        if own_redis.process is None or own_redis.process.returncode is not None:
            await own_redis.start()  # a test that failed mid-outage: let stop() finish the held batch
        await asyncio.wait_for(worker.stop(), timeout=30)


async def test_redis_stopped_and_restarted_mid_stream_loses_and_doubles_nothing(outage_worker, own_redis):
    worker, settings = outage_worker, outage_worker.settings
    total = 300
    bodies, ids, picks = alert_stream(settings.namespace, total, seed=7)
    alerts_total = sum(len(chosen) for chosen in picks)
    first = 150
    redis_down = asyncio.Event()

    async def publish_stream() -> None:
        await publish(settings, bodies[:first], message_ids=ids[:first])
        await redis_down.wait()
        await publish(settings, bodies[first:], message_ids=ids[first:])

    publisher = asyncio.create_task(publish_stream())
    try:
        await eventually(lambda: stored_alerts(worker) > 0, what="first alerts stored")
        await own_redis.shutdown_save()  # while the stream is still arriving and being processed
        redis_down.set()

        await eventually(lambda: metric(worker, "stormwatch_redis_errors_total") > 0, what="a Redis error")
        readiness = await eventually(
            lambda: _not_ready(worker), what="consumer not ready while Redis is down"
        )
        assert readiness == {"redis": False, "rabbitmq": True, "consumer": False}
        assert metric(worker, "stormwatch_ready") == 0
        await asyncio.wait_for(publisher, timeout=30)  # the rest went out while Redis was down

        # nothing is acked while Redis is down: the worker holds exactly its prefetch, the rest stays queued
        acked = metric(worker, "stormwatch_batch_messages_sum")
        assert 0 < acked < total
        await eventually(
            lambda: _ready_is(settings, total - acked - PREFETCH), what="queue depth = published - acked - held"
        )
        errors = metric(worker, "stormwatch_redis_errors_total")
        await eventually(lambda: metric(worker, "stormwatch_redis_errors_total") >= errors + 3,
                         what="three more failed attempts")
        assert metric(worker, "stormwatch_batch_messages_sum") == acked
        assert (await alerts_queue_state(settings))[0] == total - acked - PREFETCH
        assert not (await worker.readiness())["consumer"]

        await own_redis.start()  # same port, loads the RDB written on shutdown; its script cache is empty
        await eventually(lambda: stored_alerts(worker) >= alerts_total, timeout=30, what="everything stored")
        await eventually(lambda: _all_ready(worker), what="ready again")
    finally:
        publisher.cancel()

    assert metric(worker, "stormwatch_batch_messages_sum") == total
    assert stored_alerts(worker) == alerts_total
    assert (await alerts_queue_state(settings))[0] == 0
    assert metric(worker, "stormwatch_processing_crashes_total") == 0
    await assert_state_matches(worker, picks)
    markers = sum(len({Router(None, settings.group_by)(alert_labels(g, i)).id for g, i in chosen}) for chosen in picks)
    assert await idempotency_markers(own_redis, settings.namespace) == markers
    # processing after the restart succeeded, so the worker loaded its scripts again (NOSCRIPT handled)
    client = own_redis.client()
    try:
        assert await client.script_exists(worker.store.scripts.sha("read_group"), worker.store.scripts.sha("apply_group")) == [True, True]
    finally:
        await client.aclose()


async def test_script_flush_mid_stream_is_recovered(outage_worker, own_redis):
    worker, settings = outage_worker, outage_worker.settings
    total = 200
    bodies, ids, picks = alert_stream(settings.namespace, total, seed=11)
    alerts_total = sum(len(chosen) for chosen in picks)

    await publish(settings, bodies[:100], message_ids=ids[:100])
    await eventually(lambda: stored_alerts(worker) > 0, what="first alerts stored")
    client = own_redis.client()
    try:
        await client.script_flush()
        shas = (worker.store.scripts.sha("read_group"), worker.store.scripts.sha("apply_group"))
        await publish(settings, bodies[100:], message_ids=ids[100:])
        await eventually(lambda: stored_alerts(worker) >= alerts_total, what="everything stored")
        assert await client.script_exists(*shas) == [True, True]  # only the worker can have loaded them again
    finally:
        await client.aclose()
    assert metric(worker, "stormwatch_redis_errors_total") == 0  # handled inside the store, not by retrying
    assert metric(worker, "stormwatch_processing_crashes_total") == 0
    assert (await worker.readiness())["consumer"]
    await assert_state_matches(worker, picks)


async def test_retry_after_a_write_that_reached_redis_still_counts_the_opened_incident(worker):
    """Redis drops the connection after the group write landed but before the index write: retried in place."""
    store = worker.store
    real_index = store.index
    injected: list[int] = []

    async def index_failing_once(follow_ups):
        if not injected:
            injected.append(1)
            raise RedisConnectionError("connection lost after the group write (injected)")
        return await real_index(follow_ups)

    store.index = index_failing_once
    await publish(worker.settings, [body([v2_alert("PartialWrite", "orders-api", "pod-1")])])
    await eventually(lambda: stored_alerts(worker) >= 1, what="alert stored after the retry")
    assert injected and metric(worker, "stormwatch_redis_errors_total") == 1
    assert metric(worker, "stormwatch_replays_total") == 1  # the retry found its own earlier write
    incidents = await store.list_incidents()
    assert len(incidents) == 1 and incidents[0].occurrences == 1  # the state is right ...
    assert metric(worker, "stormwatch_incidents_opened_total") == 1  # ... the count is not (0)


def alert_labels(g: int, i: int) -> dict[str, str]:
    return alert_of(g, i)["labels"]


async def _not_ready(worker: Worker) -> dict[str, bool] | None:
    readiness = await worker.readiness()
    return None if readiness["consumer"] else readiness


async def _all_ready(worker: Worker) -> bool:
    return all((await worker.readiness()).values())


async def _ready_is(settings: Settings, expected: float) -> bool:
    return (await alerts_queue_state(settings))[0] == expected
