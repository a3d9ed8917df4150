"""Change events off RabbitMQ (``<ns>.changes``, ``docs/changes.md``): the second kind of input besides alerts.

Declared beside the alerts (a direct exchange and a quorum queue with a delivery limit, dead-lettering to
``<ns>.alerts.dead``). The consumer takes one message at a time (changes are few: deploys, not a storm), validates
it with ``ingest.formats.change`` (the ``format`` header says ``change`` or ``pagerduty_change``), hands the change
to its handler and acks. An invalid message is published to ``<ns>.alerts.dead`` with the reason and the field in
its headers (after a broker confirm), then acked; a handler failure (Redis down) rejects it back to the queue, and
after the delivery limit RabbitMQ dead-letters it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol
from collections.abc import Callable

import aio_pika
import orjson
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue

from events.changes import Change
from events.names import CHANGES_ROUTE, BrokerNames
from ingest.formats import ItemError
from ingest.formats.change import FORMATS, parse
from events.dead_letter import FIELD_HEADER, PUBLISH_TIMEOUT, dead_letter
from ingest.topology import FORMAT_HEADER

log = structlog.get_logger("stormwatch.ingest.changes")



class ChangeHandler(Protocol):
    """Stores a valid change and links it (the shell wires the store); raises when it could not (redelivered)."""

    async def __call__(self, change: Change) -> None: ...


@dataclass(frozen=True, slots=True)
class ChangeTopology:
    exchange: AbstractExchange
    queue: AbstractQueue
    dead: AbstractExchange


async def declare_changes(channel: AbstractChannel, names: BrokerNames, *, delivery_limit: int) -> ChangeTopology:
    exchange = await channel.declare_exchange(names.changes_exchange, aio_pika.ExchangeType.DIRECT, durable=True)
    dead = await channel.declare_exchange(names.dead_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    queue = await channel.declare_queue(names.changes_queue, durable=True, arguments={
        "x-queue-type": "quorum", "x-delivery-limit": delivery_limit, "x-dead-letter-exchange": names.dead_exchange})
    await queue.bind(exchange, routing_key=CHANGES_ROUTE)
    return ChangeTopology(exchange, queue, dead)


async def delete_changes(channel: AbstractChannel, names: BrokerNames) -> None:
    await channel.queue_delete(names.changes_queue)
    await channel.exchange_delete(names.changes_exchange)


def change_message(body: bytes, fmt: str, message_id: str) -> aio_pika.Message:
    return aio_pika.Message(body, headers={FORMAT_HEADER: fmt}, message_id=message_id,
                            content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT)


def read_change(body: bytes, fmt: str, now: float, max_bytes: int) -> Change:
    """A change from a message or request body; ItemError naming the field (reason ``too_large``, ``invalid_json``,
    ``unknown_format``, ``schema``, ``too_long``, ``time``) when it is not one."""
    if len(body) > max_bytes:
        raise ItemError("too_large", "", f"body is {len(body)} bytes, more than the limit of {max_bytes}")
    if fmt not in FORMATS:
        raise ItemError("unknown_format", "format", f"{fmt[:64]!r} is not a change format: {', '.join(FORMATS)}")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ItemError("invalid_json", "", f"not valid JSON: {exc}") from None
    return parse(data, fmt, now)


class ChangeConsumer:
    def __init__(self, topology: ChangeTopology, handler: ChangeHandler, clock: Callable[[], float], *,
                 max_bytes: int, on_rejected: Callable[[str], None] | None = None) -> None:
        self.topology = topology
        self.handler = handler
        self.clock = clock
        self.max_bytes = max_bytes
        self.on_rejected = on_rejected
        self._tag: str | None = None

    async def start(self) -> None:
        self._tag = await self.topology.queue.consume(self._on_message, no_ack=False)

    async def stop(self) -> None:
        if self._tag is not None:
            try:
                await asyncio.wait_for(self.topology.queue.cancel(self._tag), timeout=5)
            except Exception as exc:  # noqa: BLE001 - the channel may already be gone
                log.warning("change_consumer_cancel_failed", error=repr(exc))
            self._tag = None

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        raw_fmt: Any = (message.headers or {}).get(FORMAT_HEADER) or "change"
        fmt = raw_fmt.decode() if isinstance(raw_fmt, bytes) else str(raw_fmt)
        try:
            change = read_change(message.body, fmt, self.clock(), self.max_bytes)
        except ItemError as exc:
            await self._dead_letter(message, exc)
            await message.ack()
            return
        try:
            await self.handler(change)
        except Exception as exc:  # noqa: BLE001 - back to the queue; the delivery limit dead-letters a poison one
            log.warning("change_not_stored", change=change.id, service=change.service, error=repr(exc))
            await message.reject(requeue=True)
            return
        await message.ack()

    async def _dead_letter(self, message: AbstractIncomingMessage, error: ItemError) -> None:
        detail = f"{error.path}: {error.message}" if error.path else error.message
        log.info("change_dead_lettered", message_id=message.message_id, reason=error.reason, detail=detail[:300])
        if self.on_rejected is not None:
            self.on_rejected(error.reason)
        await self.topology.dead.publish(
            dead_letter(message.body, reason=error.reason, detail=detail, routing_key=CHANGES_ROUTE,
                        message_id=message.message_id, headers={FIELD_HEADER: error.path}),
            routing_key=CHANGES_ROUTE, timeout=PUBLISH_TIMEOUT)
