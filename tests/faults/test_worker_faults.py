"""Workers die, are stopped, lose their broker connections, or meet a poison message, mid-stream.

Two real ``stormwatch serve`` processes share the namespace's queue; every scenario ends with the exact account
of ``harness.finish`` (no alert lost or doubled, one incident per group, each incident's action run once).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from urllib.parse import urlsplit

from ingest.topology import Names
from tests.conftest import eventually
from tests.faults.harness import PREFETCH, Scenario, finish, make_stream, note, with_poison
from tests.faults.servers import ChaosProxy, close_connection, consuming_on, worker_connections
from tests.integration.helpers import drain_queue

MESSAGES = 2000


async def _stored_at_least(scenario: Scenario, n: float) -> bool:
    return (await scenario.stored() or 0) >= n


async def _metric_sum(workers, name: str) -> float:
    return sum([(await w.metric(name)) or 0.0 for w in workers])


async def test_exit_between_state_write_and_ack(scenario):
    """The test-only hook exits a worker right after its Nth batch was written and before it was acked, twice;
    the other worker receives the written batch again and recognises it (a replay), counting nothing twice."""
    stream = make_stream(scenario.settings.namespace, MESSAGES, seed=1)
    doomed = await scenario.start_worker(STORMWATCH_TEST_EXIT_AFTER_WRITE="5")
    survivor = await scenario.start_worker()
    await scenario.ready(doomed, survivor)
    # the stream goes out in thirds, each only once the doomed worker is up again, so that it always gets enough
    # batches to reach its exit (the survivor alone could otherwise drain the rest while it restarts)
    third = len(stream.bodies) // 3
    publisher = asyncio.create_task(scenario.publish(stream, 0, third))
    for nth, (start, stop) in zip(("9", ""), ((third, 2 * third), (2 * third, None)), strict=True):
        # exits after its 5th write; the restart exits after its 9th; the last one stays
        assert await asyncio.wait_for(doomed.process.wait(), timeout=60) == 137
        await publisher
        doomed = await scenario.start_worker(**({"STORMWATCH_TEST_EXIT_AFTER_WRITE": nth} if nth else {}))
        await scenario.ready(doomed)
        publisher = asyncio.create_task(scenario.publish(stream, start, stop))
    scenario.fault_over()
    await publisher
    await finish(scenario, stream)
    replays = await _metric_sum([survivor, doomed], "stormwatch_replays_total")
    note(f"2 exits after write, {replays:.0f} replays")
    assert replays >= 1, "the written but unacked batches came back and were recognised as applied"


async def test_sigkill_at_random_points(scenario):
    """SIGKILL one of two workers three times at random points of the stream, restarting it each time."""
    rng = random.Random(42)
    stream = make_stream(scenario.settings.namespace, MESSAGES, seed=2)
    victim = await scenario.start_worker()
    survivor = await scenario.start_worker()
    await scenario.ready(victim, survivor)
    publisher = asyncio.create_task(scenario.publish(stream))
    points = sorted(rng.uniform(0.05, 0.8) * stream.alerts for _ in range(3))
    for point in points:
        await eventually(lambda: _stored_at_least(scenario, point), timeout=60, what=f"{point:.0f} alerts stored")
        await asyncio.sleep(rng.uniform(0, 0.05))  # anywhere in a batch: reading, writing, publishing, acking
        await victim.kill()
        victim = await scenario.start_worker()
        await scenario.ready(victim)
    scenario.fault_over()
    await publisher
    await finish(scenario, stream, worker_killed=True)
    note(f"3 SIGKILLs at {', '.join(f'{p / stream.alerts:.0%}' for p in points)} of the stream")


async def test_sigterm_under_load_drains_and_exits_zero(scenario):
    stream = make_stream(scenario.settings.namespace, MESSAGES, seed=3)
    leaving = await scenario.start_worker()
    staying = await scenario.start_worker()
    await scenario.ready(leaving, staying)
    publisher = asyncio.create_task(scenario.publish(stream))
    await eventually(lambda: _stored_at_least(scenario, stream.alerts * 0.3), timeout=60, what="30% stored")
    code = await leaving.terminate(timeout=30)
    scenario.fault_over()
    assert code == 0, leaving.output()
    events = leaving.events()
    assert "worker_stopped" in events and "processing_crashed" not in events, leaving.output()
    await publisher
    await finish(scenario, stream)
    redelivered = await staying.metric("stormwatch_redeliveries_total")
    replays = await staying.metric("stormwatch_replays_total")
    note(f"{redelivered:.0f} redelivered (prefetch {PREFETCH}), {replays:.0f} replays")
    # what the leaving worker held and had not started is handed back once, at most its prefetch; what it wrote
    # it acked, so nothing it wrote comes back
    assert redelivered <= PREFETCH
    assert replays == 0


async def test_broker_closes_the_workers_connections(scenario):
    """``rabbitmqctl close_connection`` on one worker's own connection (found by its connection name) while it
    holds messages, 3 times, once the victim has reconnected from the previous close (``connect_robust`` retries
    every second here: ``reconnect_interval=1`` in its AMQP URL).

    The victim reaches Redis through a proxy that is held shut around each close: its batch waits on Redis with its
    deliveries unacked, and the close is made only once the broker counts them on the victim's connection. The proxy
    is released once the connection is gone, so the victim's held commands then reach Redis after the broker has
    handed its deliveries to the other worker: both may apply the same batch, and the account must still be exact."""
    messages = 1500
    ns = scenario.settings.namespace
    queue = Names(ns).alerts_queue
    stream = make_stream(ns, messages, seed=4)
    parts = urlsplit(scenario.settings.redis_url)
    proxy = await ChaosProxy(parts.hostname or "127.0.0.1", parts.port or 6379).start()
    try:
        # reconnecting after 1 s instead of aio-pika's 5 (the URL's reconnect_interval): the same path, less waiting
        victim = await scenario.start_worker(STORMWATCH_REDIS_URL=f"redis://127.0.0.1:{proxy.port}{parts.path or '/0'}",
                                             STORMWATCH_AMQP_URL=_with_query(scenario.settings.amqp_url,
                                                                             "reconnect_interval=1"))
        other = await scenario.start_worker()
        await scenario.ready(victim, other)
        pid = victim.process.pid
        cuts = [0, messages // 3, 2 * messages // 3, messages]
        held = []
        for start, stop in itertools.pairwise(cuts):
            (connection,) = await eventually(lambda: worker_connections(ns, pid), timeout=30,
                                             what="the victim connected (again)")
            await eventually(lambda: _consuming(connection, queue), timeout=30, what="the victim consuming (again)")
            proxy.hold()
            publisher = asyncio.create_task(scenario.publish(stream, start, stop))
            unacked = await eventually(lambda: _holding(connection, queue), timeout=30,
                                       what="the victim holding unacked alert deliveries")
            await close_connection(connection)
            await eventually(lambda: _gone(ns, pid, connection), timeout=30, what="the victim's connection closed")
            proxy.release()
            await publisher
            held.append(unacked)
        scenario.fault_over()
        await finish(scenario, stream)
        await eventually(victim.ready, timeout=30, what="the victim reconnected and is ready")
    finally:
        await proxy.stop()
    redelivered = await _metric_sum([victim, other], "stormwatch_redeliveries_total")
    replays = await _metric_sum([victim, other], "stormwatch_replays_total")
    note(f"{len(held)} connections closed holding {'/'.join(map(str, held))} unacked; {redelivered:.0f} redelivered, "
         f"{replays:.0f} replays")
    # every delivery the broker counted unacked on a closed connection went back to the queue and came again marked
    # redelivered (the victim could not ack them: its batch was waiting on Redis)
    assert redelivered >= sum(held), "what the victim held when its connection closed came back to the queue"


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


async def _consuming(connection: str, queue: str) -> bool:
    return (await consuming_on(connection, queue))[0]


async def _holding(connection: str, queue: str) -> int:
    return (await consuming_on(connection, queue))[1]


async def _gone(namespace: str, pid: int, connection: str) -> bool:
    return connection not in await worker_connections(namespace, pid)


async def test_poison_message_is_dead_lettered_and_the_queue_keeps_moving(scenario):
    ns = scenario.settings.namespace
    stream, poison_ids = with_poison(make_stream(ns, MESSAGES, seed=5), [300, 1000, 1700], ns, "poison-pill")
    env = {"STORMWATCH_TEST_POISON": "poison-pill", "STORMWATCH_DELIVERY_LIMIT": "3"}
    workers = [await scenario.start_worker(**env), await scenario.start_worker(**env)]
    await scenario.ready(*workers)
    await scenario.publish(stream)
    scenario.fault_over()
    await finish(scenario, stream)
    dead: list = []

    async def all_dead() -> bool:
        dead.extend(await drain_queue(scenario.settings, Names(ns).dead_queue))
        return len(dead) >= len(poison_ids)

    await eventually(all_dead, timeout=30, what="the poison messages dead-lettered")
    assert sorted(m.message_id for m in dead) == sorted(poison_ids)  # only the poison, never a good neighbour
    for message in dead:
        (death,) = message.headers["x-death"]
        assert death["reason"] == "delivery_limit" and death["queue"] == Names(ns).alerts_queue, death
    crashes = await _metric_sum(workers, "stormwatch_processing_crashes_total")
    note(f"{len(dead)} poison dead-lettered (x-death delivery_limit), {crashes:.0f} crashes")
