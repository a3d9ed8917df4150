"""The RabbitMQ objects Stormwatch declares, all named under the namespace.

    <ns>.alerts        topic exchange   where every source publishes alerts (any routing key)
    <ns>.alerts        quorum queue     bound with '#'; x-delivery-limit; dead-letters to <ns>.alerts.dead
    <ns>.alerts.dead   fanout exchange  and a quorum queue of the same name: poison and invalid messages
    <ns>.events        topic exchange   incident events (incident.created, incident.updated, ...)

Invalid input is dead-lettered explicitly (published to <ns>.alerts.dead with reason headers, then the
original is acked); messages that crash processing on every delivery are dead-lettered by RabbitMQ
itself once they exceed the delivery limit (an ``x-death`` header says so).

The names are the event contract's (``events/names.py``: ``Names`` is ``BrokerNames``); this module declares them.
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from events.names import ALERTS_BINDING, BrokerNames
from ingest.amqp import AlertQueue

FORMAT_HEADER = "format"
PUBLISHED_AT_HEADER = "x-stormwatch-published-at"


Names = BrokerNames


@dataclass(frozen=True, slots=True)
class Topology:
    alerts: AbstractExchange
    alerts_queue: AbstractQueue
    dead: AbstractExchange
    dead_queue: AbstractQueue
    events: AbstractExchange


async def declare(channel: AbstractChannel, names: Names, *, delivery_limit: int) -> Topology:
    alerts = await channel.declare_exchange(names.alerts_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    dead = await channel.declare_exchange(names.dead_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    events = await channel.declare_exchange(names.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    dead_queue = await channel.declare_queue(
        names.dead_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_queue.bind(dead, routing_key="")
    robust = isinstance(channel, aio_pika.RobustChannel)
    if robust:  # declare_queue builds channel.QUEUE_CLASS; AlertQueue lets the consumer skip aio-pika's wrapper
        channel.QUEUE_CLASS = AlertQueue
    try:
        queue = await channel.declare_queue(
            names.alerts_queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": delivery_limit,
                "x-dead-letter-exchange": names.dead_exchange,
            },
        )
    finally:
        if robust:
            del channel.QUEUE_CLASS
    await queue.bind(alerts, routing_key=ALERTS_BINDING)
    return Topology(alerts, queue, dead, dead_queue, events)


async def delete(channel: AbstractChannel, names: Names) -> None:
    """Remove every object of the namespace (tests and demo clean-up)."""
    for queue in (names.alerts_queue, names.dead_queue):
        await channel.queue_delete(queue)
    for exchange in (names.alerts_exchange, names.dead_exchange, names.events_exchange):
        await channel.exchange_delete(exchange)
