"""Accepted ingest bodies onto ``<ns>.alerts``, answered only after RabbitMQ confirmed them.

One channel in confirm mode; concurrent requests publish on it concurrently, so the broker confirms them in
batches (``multiple`` acks) and a confirm round trip is shared by every request in flight. Alert *lists* (the
Prometheus format) arriving together are coalesced (``publish_list``): the requests handled in one turn of the
event loop become one message holding all their alerts (at most ``max_bytes``, the consumer's body limit), and
each request is answered when that message is confirmed. A message costs ~150 µs of Python CPU to publish and
the broker work per message, so under concurrency this is most of the ingest throughput; alone, a request is
still published at once (no added wait). Publishes are
``mandatory`` with returns raised: an alert nobody would receive is an error, never a silent drop. While
RabbitMQ is unreachable every publish fails fast with :class:`IngestUnavailable` (HTTP 503 + Retry-After);
connection attempts are spaced so a storm of requests does not become a storm of connects.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from collections.abc import Callable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from ingest.topology import Names, declare
from stormwatch.publisher import alert_message


class IngestUnavailable(Exception):
    """RabbitMQ did not take the body; nothing was accepted. ``retry_after`` seconds is a fair wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AlertPublisher:
    def __init__(
        self,
        amqp_url: str,
        names: Names,
        *,
        delivery_limit: int,
        connection: AbstractConnection | None = None,
        confirm_timeout: float = 10.0,
        connect_timeout: float = 3.0,
        retry_after: int = 5,
        max_bytes: int = 1 << 20,
        on_published: Callable[[], None] | None = None,
    ) -> None:
        self.amqp_url = amqp_url
        self.names = names
        self.delivery_limit = delivery_limit
        self._shared = connection is not None  # the worker's connection: not ours to close
        self._connection = connection
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self.confirm_timeout = confirm_timeout
        self.connect_timeout = connect_timeout
        self.retry_after = retry_after
        self._lock = asyncio.Lock()
        self._failed_at = 0.0
        self.max_bytes = max_bytes
        self._open: dict[tuple[str, str], _ListBatch] = {}
        self.on_published = on_published  # called once per confirmed message (a metric)

    @property
    def available(self) -> bool:
        return self._exchange is not None and self._channel is not None and not self._channel.is_closed

    async def _ensure(self) -> AbstractExchange:
        if self.available:
            assert self._exchange is not None
            return self._exchange
        async with self._lock:
            if self.available:
                assert self._exchange is not None
                return self._exchange
            if time.monotonic() - self._failed_at < 1.0:
                raise IngestUnavailable("RabbitMQ is unavailable", self.retry_after)
            try:
                if self._connection is None or (self._connection.is_closed and not self._shared):
                    self._connection = await asyncio.wait_for(
                        aio_pika.connect_robust(self.amqp_url), timeout=self.connect_timeout)
                channel = await asyncio.wait_for(
                    self._connection.channel(publisher_confirms=True, on_return_raises=True),
                    timeout=self.connect_timeout)
                topology = await declare(channel, self.names, delivery_limit=self.delivery_limit)
            except Exception as exc:  # noqa: BLE001 - any failure to reach the broker is a 503
                self._failed_at = time.monotonic()
                raise IngestUnavailable(f"RabbitMQ is unavailable ({type(exc).__name__})", self.retry_after) from None
            self._channel, self._exchange = channel, topology.alerts
            return topology.alerts

    async def publish(self, body: bytes, fmt: str, *, routing_key: str, message_id: str | None = None) -> None:
        """Returns once RabbitMQ confirmed the message; IngestUnavailable otherwise."""
        exchange = await self._ensure()
        try:
            await exchange.publish(alert_message(body, fmt=fmt, message_id=message_id), routing_key=routing_key,
                                   timeout=self.confirm_timeout)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            raise IngestUnavailable("RabbitMQ connection lost", self.retry_after) from None
        except Exception as exc:  # noqa: BLE001 - nack, return, timeout, closed channel: not accepted
            raise IngestUnavailable(f"RabbitMQ did not confirm ({type(exc).__name__})", self.retry_after) from None
        if self.on_published is not None:
            self.on_published()

    async def publish_list(self, body: bytes, fmt: str, *, routing_key: str) -> None:
        """Publish a JSON array body, coalesced with the other arrays of this loop turn (same format and key)."""
        inner = body.strip()[1:-1].strip()
        if not inner:
            return
        key = (fmt, routing_key)
        batch = self._open.get(key)
        if batch is None or batch.size + len(inner) + 1 > self.max_bytes:
            batch = _ListBatch(asyncio.get_running_loop().create_future())
            self._open[key] = batch
            asyncio.get_running_loop().call_soon(self._flush, key, batch)
        batch.parts.append(inner)
        batch.size += len(inner) + 1
        await asyncio.shield(batch.done)  # one request giving up must not cancel the others' publish

    def _flush(self, key: tuple[str, str], batch: _ListBatch) -> None:
        if self._open.get(key) is batch:
            del self._open[key]
        task = asyncio.ensure_future(self.publish(b"[" + b",".join(batch.parts) + b"]", key[0], routing_key=key[1]))
        task.add_done_callback(batch.settle)

    async def close(self) -> None:
        channel, self._channel, self._exchange = self._channel, None, None
        try:
            if channel is not None and not channel.is_closed:
                await channel.close()
            if self._connection is not None and not self._shared and not self._connection.is_closed:
                await self._connection.close()
        except Exception:  # noqa: BLE001, S110 - closing a broken connection
            pass

    def state(self) -> dict[str, Any]:
        return {"available": self.available}


class _ListBatch:
    __slots__ = ("done", "parts", "size")

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done
        self.parts: list[bytes] = []
        self.size = 2

    def settle(self, task: asyncio.Future[None]) -> None:
        if self.done.done():
            return
        if task.cancelled():
            self.done.set_exception(IngestUnavailable("publish cancelled", 5))
        elif task.exception() is not None:
            self.done.set_exception(task.exception())  # type: ignore[arg-type]
        else:
            self.done.set_result(None)
        if self.done.exception() is not None:
            self.done.exception()  # retrieved: no "never retrieved" warning when no request waits any more
