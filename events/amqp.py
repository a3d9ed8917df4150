"""The confirmed AMQP publisher of ``<ns>.events``: one persistent message per event, under its type, confirmed by
the broker before ``publish_events`` returns.

Delivery is at least once: a worker that dies after publishing but before acking its input publishes the same
events again when the input is redelivered. Every event carries a stable ``event_id`` (also the AMQP message id)
so subscribers can drop repeats.
"""

from __future__ import annotations

import asyncio
from typing import Any
from collections.abc import Callable, Mapping, Sequence

import aio_pika
import orjson
from aio_pika.abc import AbstractExchange

from events.names import RUNNER_ROUTE
from events.publisher import EventPublishFailed
from events.types import SCHEMA_VERSION, may_start_action

PUBLISH_TIMEOUT = 30.0  # a confirm that never comes becomes an error the consumer retries, not a hang


def action_event_type(event: Mapping[str, Any]) -> bool:
    """The default for publishers that do not know the rules (the API, the CLI): every event of a kind that can
    start an action goes to the runner, which judges it against its own rules."""
    return may_start_action(str(event.get("type", "")))


class AmqpEventPublisher:
    """Publishes events to ``<ns>.events`` under their type. Events ``to_runner`` says may start an action are also
    routed to the action runner's queue, by RabbitMQ's sender-selected distribution: a ``BCC`` header naming
    ``RUNNER_ROUTE``, which the broker removes before delivery. Subscribers see every event unchanged; the runner
    sees only the ones that concern it (a storm's ``incident.updated`` events for rules without actions do not)."""

    def __init__(self, exchange: AbstractExchange,
                 to_runner: Callable[[Mapping[str, Any]], bool] = action_event_type) -> None:
        self.exchange = exchange
        self.to_runner = to_runner

    async def publish_events(self, events: Sequence[dict[str, Any]]) -> None:
        await asyncio.gather(*(self._publish(e) for e in events))

    async def _publish(self, event: dict[str, Any]) -> None:
        if "schema_version" not in event:  # follow-ups stored by a version before the contract, replayed
            event = {**event, "schema_version": SCHEMA_VERSION}
        message = aio_pika.Message(  # built outside the try: a bad event is a bug, not a broker failure
            orjson.dumps(event),
            message_id=event["event_id"],
            type=event["type"],
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={"BCC": [RUNNER_ROUTE]} if self.to_runner(event) else None,
        )
        try:
            await self.exchange.publish(message, routing_key=event["type"], timeout=PUBLISH_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # aiormq raises RuntimeError subclasses for a closed channel
            raise EventPublishFailed(exc) from exc
