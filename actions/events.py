"""Incident events out to ``<ns>.events``: one persistent message per event, confirmed by the broker.

Delivery is at least once: a worker that dies after publishing but before acking its input publishes
the same events again when the input is redelivered. Every event carries a stable ``event_id`` (also
the AMQP message id) so subscribers can drop repeats.
"""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

import aio_pika
import orjson
from aio_pika.abc import AbstractExchange


PUBLISH_TIMEOUT = 30.0  # a confirm that never comes becomes an error the consumer retries, not a hang


class AmqpEventPublisher:
    def __init__(self, exchange: AbstractExchange) -> None:
        self.exchange = exchange

    async def publish_events(self, events: Sequence[dict[str, Any]]) -> None:
        await asyncio.gather(*(self._publish(e) for e in events))

    async def _publish(self, event: dict[str, Any]) -> None:
        await self.exchange.publish(
            aio_pika.Message(
                orjson.dumps(event),
                message_id=event["event_id"],
                type=event["type"],
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=event["type"],
            timeout=PUBLISH_TIMEOUT,
        )
