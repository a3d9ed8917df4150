"""Live events for the web console: ``GET /api/v1/stream`` (Server-Sent Events) fed by ``<ns>.events``.

One consumer per server process reads ``<ns>.events`` through its own exclusive, auto-delete queue (gone when
the process is) and hands every event to each connected browser's bounded queue. A browser that falls
behind by more than ``BACKLOG`` events gets an ``overflow`` event and is disconnected (it reloads its view);
nothing waits on a slow client. Events are what ``<ns>.events`` carries (incident and problem documents).
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from events.names import ALL_EVENTS
from stormwatch.api.common import ApiServices, authorise, instrument, log

BACKLOG = 1000  # events queued for one browser before it is cut off
KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing an idle stream
_CLOSED = b""  # sentinel: the server is stopping
_OVERFLOW = b"overflow"


class EventStream:
    """The process's consumer of ``<ns>.events`` and the browsers subscribed to it."""

    def __init__(self, connection: AbstractConnection, exchange: str) -> None:
        self.connection = connection
        self.exchange = exchange
        self._channel: AbstractChannel | None = None
        self._subscribers: set[asyncio.Queue[bytes]] = set()

    async def start(self) -> None:
        self._channel = await self.connection.channel()
        exchange = await self._channel.declare_exchange(self.exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True,
                                                  arguments={"x-max-length": 10_000})
        await queue.bind(exchange, routing_key=ALL_EVENTS)
        await queue.consume(self._deliver, no_ack=True)

    async def _deliver(self, message: AbstractIncomingMessage) -> None:
        frame = _frame(message.body) if self._subscribers else b""  # framed once for every subscriber
        if not frame:
            return
        for subscriber in list(self._subscribers):
            try:
                subscriber.put_nowait(frame)
            except asyncio.QueueFull:
                self._subscribers.discard(subscriber)
                _replace_all(subscriber, _OVERFLOW)

    def subscribe(self) -> asyncio.Queue[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(BACKLOG)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def close(self) -> None:
        """End every open stream (so the HTTP server stops at once), then the consumer."""
        for subscriber in list(self._subscribers):
            _replace_all(subscriber, _CLOSED)
        self._subscribers.clear()
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            try:
                await channel.close()
            except Exception:  # noqa: BLE001 - closing a broken channel
                pass


def _replace_all(queue: asyncio.Queue[bytes], item: bytes) -> None:
    """Drop what a subscriber has not read yet and leave it only ``item`` (a notice that ends its stream)."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(item)


def stream_routes(services: ApiServices) -> list[Route]:
    return [Route("/api/v1/stream", instrument(services, "/api/v1/stream", _stream(services)), methods=["GET"])]


def _frame(body: bytes) -> bytes:
    try:
        kind = str(orjson.loads(body).get("type", "message"))
    except (orjson.JSONDecodeError, AttributeError):
        return b""
    return b"event: " + kind.replace("\n", " ").encode() + b"\ndata: " + body.replace(b"\n", b" ") + b"\n\n"


def _stream(services: ApiServices):  # noqa: ANN202
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "read")
        feed = services.stream
        assert feed is not None
        queue = feed.subscribe()
        log.info("stream_opened", by=principal.name)

        async def frames() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\nevent: hello\ndata: {}\n\n"
                while True:
                    try:
                        body = await asyncio.wait_for(queue.get(), KEEPALIVE)
                    except asyncio.TimeoutError:
                        yield b": keepalive\n\n"
                        continue
                    if body == _CLOSED:
                        return
                    if body == _OVERFLOW:
                        yield b"event: overflow\ndata: {}\n\n"
                        return
                    yield body
            finally:
                feed.unsubscribe(queue)

        headers: dict[str, Any] = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)

    return handle
