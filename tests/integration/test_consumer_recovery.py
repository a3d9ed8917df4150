"""The alerts queue is consumed with aiormq's raw deliveries (ingest/amqp.py); aio-pika's recovery still works.

When the broker cancels the consumer on a live channel (here: the queue is deleted under it), aio-pika re-declares
the queue and re-subscribes through its own ``Queue.consume``, which hands the callback ``IncomingMessage`` objects;
alerts published afterwards are still processed and acked. The other way back, a reconnect after the broker closed
the connection (``AlertQueue.consume`` again, raw), is the fault suite's
``test_broker_closes_the_workers_connections``.
"""

from __future__ import annotations

import uuid

import aio_pika

from ingest.amqp import AlertQueue
from ingest.topology import Names
from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.helpers import alerts_queue_state, body, publish, v2_alert


async def _publish(settings, alertname: str) -> None:
    await publish(settings, [body([v2_alert(alertname, "svc", "pod-1")])], message_ids=[uuid.uuid4().hex])


async def _titles(worker: Worker) -> set[str]:
    return {i.title for i in await worker.store.list_incidents(limit=100)}


async def test_the_alerts_queue_is_consumed_raw(worker: Worker, clean):
    assert isinstance(worker.topology.alerts_queue, AlertQueue)
    await _publish(clean, "Before")
    await eventually(lambda: _titles(worker), what="the first incident")
    assert any("Before" in t for t in await _titles(worker))


async def test_a_consumer_cancelled_by_the_broker_is_restored_and_keeps_processing(worker: Worker, clean):
    await _publish(clean, "Before")
    await eventually(lambda: _titles(worker), what="the first incident")

    # deleting the queue makes RabbitMQ send basic.cancel on the worker's live channel
    connection = await aio_pika.connect(clean.amqp_url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(Names(clean.namespace).alerts_queue, if_unused=False, if_empty=False)
    finally:
        await connection.close()

    async def restored() -> bool:
        try:
            return (await alerts_queue_state(clean))[1] == 1
        except aio_pika.exceptions.ChannelClosed:  # not re-declared yet
            return False

    await eventually(restored, what="aio-pika to re-declare the queue and consume again")
    await _publish(clean, "After")

    async def processed() -> bool:
        return any("After" in t for t in await _titles(worker))

    await eventually(processed, what="an alert published after the recovery to be processed")
    await eventually(lambda: worker.consumer.idle.is_set(), what="the batch to be acked")

