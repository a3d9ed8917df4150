"""Publishing alert bodies onto the alerts exchange (CLI, demo, bench), with broker confirms."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable

import aio_pika
from aio_pika.abc import AbstractExchange, HeadersType

from events.amqp import AmqpEventPublisher
from ingest.topology import FORMAT_HEADER, PUBLISHED_AT_HEADER, Names, declare
from stormwatch.config import Settings


def alert_message(body: bytes, *, fmt: str | None = None, message_id: str | None = None) -> aio_pika.Message:
    headers: HeadersType = {PUBLISHED_AT_HEADER: time.time_ns() // 1000}  # int µs: AMQP floats may be 32-bit
    if fmt:
        headers[FORMAT_HEADER] = fmt
    return aio_pika.Message(
        body,
        headers=headers,
        message_id=message_id or uuid.uuid4().hex,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )


async def publish_many(
    exchange: AbstractExchange, bodies: Iterable[bytes], *, routing_key: str = "alerts", fmt: str | None = None,
    window: int = 500,
) -> int:
    """Publish with at most ``window`` unconfirmed messages outstanding; returns how many were confirmed.

    A semaphore bounds the window (O(1) per message; ``asyncio.wait`` over the whole window was O(window))."""
    slots = asyncio.Semaphore(window)
    tasks: list[asyncio.Future] = []
    failed: list[BaseException] = []

    def release(task: asyncio.Future) -> None:
        slots.release()
        if not task.cancelled() and task.exception() is not None:
            failed.append(task.exception())  # type: ignore[arg-type]

    for body in bodies:
        if failed:
            break
        await slots.acquire()
        task = asyncio.ensure_future(exchange.publish(alert_message(body, fmt=fmt), routing_key=routing_key))
        task.add_done_callback(release)
        tasks.append(task)
    await asyncio.gather(*tasks)  # every publish confirmed, or the first failure raised
    return len(tasks)


async def publish_bodies(settings: Settings, bodies: list[bytes], *, routing_key: str, fmt: str | None) -> int:
    connection = await aio_pika.connect_robust(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = await declare(channel, Names(settings.namespace), delivery_limit=settings.delivery_limit)
        return await publish_many(topology.alerts, bodies, routing_key=routing_key, fmt=fmt)
    finally:
        await connection.close()


async def publish_events(settings: Settings, events: list[dict]) -> None:
    """Publish events (problem lifecycle changes made from the CLI) to ``<ns>.events`` with confirms."""
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = await declare(channel, Names(settings.namespace), delivery_limit=settings.delivery_limit)
        await AmqpEventPublisher(topology.events).publish_events(events)
    finally:
        await connection.close()


async def publish_change(settings: Settings, body: bytes, message_id: str) -> None:
    """Publish one validated change (Stormwatch's change JSON) to ``<ns>.changes`` with a broker confirm."""
    from events.names import CHANGES_ROUTE
    from ingest.changes import change_message, declare_changes

    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = await declare_changes(channel, Names(settings.namespace), delivery_limit=settings.delivery_limit)
        await topology.exchange.publish(change_message(body, "change", message_id), routing_key=CHANGES_ROUTE,
                                        mandatory=True)
    finally:
        await connection.close()
