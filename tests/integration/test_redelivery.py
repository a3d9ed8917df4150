"""Four workers on one queue, with redelivered and re-published messages: exact counts, one incident per group."""

from __future__ import annotations

import uuid

import aio_pika
import orjson

from correlation.store.keyspace import Keyspace
from ingest.topology import Names
from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.helpers import alerts_queue_state, v2_alert

GROUPS = 12
PODS = 5
ROUNDS = 6


async def _totals(worker: Worker) -> tuple[int, dict[str, int], dict[str, int]]:
    incidents = await worker.store.list_incidents(limit=1000)
    counts: dict[str, int] = {}
    for incident in incidents:
        for alert in await worker.store.incident_alerts(incident.id):
            counts[alert.fingerprint] = alert.count
    return len(incidents), counts, {i.title: i.occurrences for i in incidents}


async def _queue_idle(settings, workers: list[Worker]) -> bool:
    ready, _ = await alerts_queue_state(settings)
    return ready == 0 and all(w.consumer.idle.is_set() for w in workers if w.consumer)


async def test_four_workers_with_redeliveries_count_exactly_once(clean):
    settings = clean.model_copy(update={"batch_size": 16, "prefetch": 32})
    workers = [Worker(settings) for _ in range(4)]
    for w in workers:
        await w.start()
    try:
        messages = []
        for _round in range(ROUNDS):
            for g in range(GROUPS):
                alerts = [v2_alert(f"Alert{g}", f"svc-{g % 3}", f"pod-{p}") for p in range(PODS)]
                messages.append((uuid.uuid4().hex, orjson.dumps(alerts)))
        connection = await aio_pika.connect(settings.amqp_url)
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(settings.namespace).alerts_exchange)
        half = len(messages) // 2
        for mid, body in messages[:half]:
            await exchange.publish(aio_pika.Message(body, message_id=mid), routing_key="a")
        # one worker's connection drops mid-stream: whatever it held unacked is redelivered to the others,
        # including batches whose state it had already written
        await eventually(lambda: workers[0].metrics.registry.get_sample_value("stormwatch_batch_messages_count"),
                         what="worker 0 processed a batch")
        await workers[0].connection.close()
        for mid, body in messages[half:]:
            await exchange.publish(aio_pika.Message(body, message_id=mid), routing_key="a")
        # publishers retry too: every fifth message is published a second time with the same message id
        for mid, body in messages[::5]:
            await exchange.publish(aio_pika.Message(body, message_id=mid), routing_key="a")
        await connection.close()

        expected_alerts = GROUPS * PODS
        reader = workers[1]

        async def all_counted():
            n, counts, _ = await _totals(reader)
            return len(counts) == expected_alerts and sum(counts.values()) >= expected_alerts * ROUNDS

        await eventually(all_counted, timeout=60, what="every notification counted")
        await eventually(lambda: _queue_idle(settings, workers[1:]), timeout=30, what="queue drained")
        n_incidents, counts, occurrences = await _totals(reader)
        assert n_incidents == GROUPS
        assert set(counts.values()) == {ROUNDS}, "every alert counted exactly once per notification"
        assert set(occurrences.values()) == {PODS * ROUNDS}
        replays = sum(w.metrics.registry.get_sample_value("stormwatch_replays_total") or 0 for w in workers)
        assert replays > 0, "the re-published messages were recognised as already applied"
        keys = Keyspace(settings.namespace)
        assert await reader.redis.zcard(keys.open_incidents) == GROUPS
    finally:
        for w in workers:
            try:
                await w.stop()
            except Exception:  # noqa: BLE001, S110 - worker 0's connection is already closed
                pass


async def test_same_message_twice_changes_nothing(worker):
    settings = worker.settings
    body = orjson.dumps([v2_alert("DiskFull", "db", "db-1")])
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(Names(settings.namespace).alerts_exchange)
    await exchange.publish(aio_pika.Message(body, message_id="m-1"), routing_key="a")
    await eventually(lambda: (worker.metrics.registry.get_sample_value("stormwatch_batch_messages_sum") or 0) >= 1)
    before = await worker.store.list_incidents()
    timeline_before = await worker.store.timeline(before[0].id)
    await exchange.publish(aio_pika.Message(body, message_id="m-1"), routing_key="a")
    await eventually(lambda: (worker.metrics.registry.get_sample_value("stormwatch_batch_messages_sum") or 0) >= 2)
    await connection.close()
    after = await worker.store.list_incidents()
    assert [i.public() for i in after] == [i.public() for i in before]
    assert await worker.store.timeline(after[0].id) == timeline_before
    (alert,) = await worker.store.incident_alerts(after[0].id)
    assert alert.count == 1
    assert worker.metrics.registry.get_sample_value("stormwatch_replays_total") == 1


async def test_same_message_twice_in_one_batch_counts_once(clean):
    """Both copies are queued before the worker consumes, so they arrive together (one batch, same markers)."""
    worker = Worker(clean)
    await worker.connect()
    try:
        body = orjson.dumps([v2_alert("DiskFull", "db", "db-1"), v2_alert("DiskFull", "db", "db-2")])
        for _ in range(2):
            await worker.topology.alerts.publish(aio_pika.Message(body, message_id="same-id"), routing_key="a")
        await worker.start()
        await eventually(lambda: (worker.metrics.registry.get_sample_value("stormwatch_batch_messages_sum") or 0) >= 2)
        (incident,) = await worker.store.list_incidents()
        assert (incident.alerts, incident.occurrences) == (2, 2)
        assert sorted(a.count for a in await worker.store.incident_alerts(incident.id)) == [1, 1]
        assert worker.metrics.registry.get_sample_value("stormwatch_replays_total") == 1
    finally:
        await worker.stop()


async def test_a_replay_of_the_opening_message_after_the_resolution_leaves_the_incident_out_of_the_open_index(
        worker):
    """The opening message redelivered after its incident resolved replays its follow-ups (events, indexes): the
    open index must not take the resolved incident back (it showed as open in every open-only query)."""
    settings = worker.settings
    keys = Keyspace(settings.namespace)
    opening = orjson.dumps([v2_alert("DiskFull", "db", "db-1")])
    resolving = orjson.dumps([v2_alert("DiskFull", "db", "db-1", resolved=True)])
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(settings.namespace).alerts_exchange)

        def messages() -> float:
            return worker.metrics.registry.get_sample_value("stormwatch_batch_messages_sum") or 0

        await exchange.publish(aio_pika.Message(opening, message_id="m-open"), routing_key="a")
        await eventually(lambda: messages() >= 1, what="the opening message")
        (incident,) = await worker.store.list_incidents()
        assert await worker.redis.zscore(keys.open_incidents, incident.id) is not None
        await exchange.publish(aio_pika.Message(resolving, message_id="m-resolve"), routing_key="a")
        await eventually(lambda: messages() >= 2, what="the resolving message")
        assert (await worker.store.incident(incident.id)).status == "resolved"
        assert await worker.redis.zscore(keys.open_incidents, incident.id) is None

        await exchange.publish(aio_pika.Message(opening, message_id="m-open"), routing_key="a")  # the replay
        await eventually(lambda: messages() >= 3, what="the replayed message")
        assert worker.metrics.registry.get_sample_value("stormwatch_replays_total") == 1
        assert (await worker.store.incident(incident.id)).status == "resolved"
        assert await worker.redis.zscore(keys.open_incidents, incident.id) is None
        assert await worker.redis.zscore(keys.incidents, incident.id) is not None  # still in the index of all
        assert await worker.store.list_incidents(open_only=True) == []
        assert worker.metrics.registry.get_sample_value("stormwatch_incidents_open") == 0
    finally:
        await connection.close()
