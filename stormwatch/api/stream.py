"""Live events for the web console: ``GET /api/v1/stream`` (Server-Sent Events) fed by ``<ns>.events``.

One consumer per server process reads ``<ns>.events`` through its own exclusive, auto-delete queue (gone when
the process is) and hands every event to each connected browser's bounded queue. A browser that falls
behind by more than ``BACKLOG`` events, or by more than ``max_client_bytes`` of queued frames
(``STORMWATCH_STREAM_CLIENT_MAX_BYTES``), is dropped: its queue is emptied, it is counted
(``stormwatch_stream_clients_dropped_total{reason}``) and logged once (``stream_client_dropped``), and it gets
an ``overflow`` event (it reloads its view). A client that is not reading at all cannot take that event: after
``DROP_GRACE`` seconds its response is cancelled and the connection closed. Nothing waits on a slow client.
Events are what ``<ns>.events`` carries (incident and problem documents).
"""

from __future__ import annotations

import asyncio
from typing import Any
from collections.abc import AsyncIterator, Callable

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from events.names import ALL_EVENTS
from stormwatch.api.common import ApiServices, authorise, instrument, log

BACKLOG = 1000  # events queued for one browser before it is cut off
MAX_CLIENT_BYTES = 4 << 20  # bytes of frames queued for one browser before it is cut off (the setting's default)
DROP_GRACE = 2.0  # seconds a dropped client has to take its overflow event before its connection is closed
KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing an idle stream
_CLOSED = b""  # sentinel: the server is stopping
_OVERFLOW = b"overflow"


class Subscriber:
    """One browser's queue of frames, with the bytes it holds."""

    __slots__ = ("queue", "queued_bytes", "dropped")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(BACKLOG)
        self.queued_bytes = 0
        self.dropped = asyncio.Event()  # set when it was cut off: its response ends, by force if need be

    async def get(self) -> bytes:
        frame = await self.queue.get()
        self.queued_bytes -= len(frame)
        return frame


class EventStream:
    """The process's consumer of ``<ns>.events`` and the browsers subscribed to it."""

    def __init__(self, connection: AbstractConnection, exchange: str, *, max_client_bytes: int = MAX_CLIENT_BYTES,
                 on_drop: Callable[[str], None] | None = None) -> None:
        self.connection = connection
        self.exchange = exchange
        self.max_client_bytes = max_client_bytes
        self.on_drop = on_drop  #: called with the reason ("backlog" or "bytes") for each client dropped
        self._channel: AbstractChannel | None = None
        self._subscribers: set[Subscriber] = set()

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
        size = len(frame)
        for subscriber in list(self._subscribers):
            if subscriber.queued_bytes and subscriber.queued_bytes + size > self.max_client_bytes:
                self._drop(subscriber, "bytes")
            elif subscriber.queue.full():
                self._drop(subscriber, "backlog")
            else:
                subscriber.queue.put_nowait(frame)
                subscriber.queued_bytes += size

    def _drop(self, subscriber: Subscriber, reason: str) -> None:
        self._subscribers.discard(subscriber)
        log.warning("stream_client_dropped", reason=reason, queued_events=subscriber.queue.qsize(),
                    queued_bytes=subscriber.queued_bytes)
        _replace_all(subscriber, _OVERFLOW)
        subscriber.dropped.set()
        if self.on_drop is not None:
            self.on_drop(reason)

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def close(self) -> None:
        """End every open stream (so the HTTP server stops at once), then the consumer."""
        for subscriber in list(self._subscribers):
            _replace_all(subscriber, _CLOSED)
            subscriber.dropped.set()  # a client reading nothing is cut off after DROP_GRACE
        self._subscribers.clear()
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            try:
                await channel.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken channel
                pass


def _replace_all(subscriber: Subscriber, item: bytes) -> None:
    """Drop what a subscriber has not read yet and leave it only ``item`` (a notice that ends its stream)."""
    queue = subscriber.queue
    while not queue.empty():
        queue.get_nowait()
    subscriber.queued_bytes = 0
    queue.put_nowait(item)


class _DroppableStream(StreamingResponse):
    """A stream that ends when its subscriber is dropped, even while the client reads nothing (a send blocked on a
    full socket would otherwise hold the connection, and the frame in hand, for as long as the client likes)."""

    def __init__(self, content: AsyncIterator[bytes], dropped: asyncio.Event, **kw: Any) -> None:
        super().__init__(content, **kw)
        self.dropped = dropped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.ensure_future(super().__call__(scope, receive, send))
        dropped = asyncio.ensure_future(self.dropped.wait())
        try:
            await asyncio.wait((streaming, dropped), return_when=asyncio.FIRST_COMPLETED)
            if not streaming.done():  # dropped: a reading client takes its overflow event and the stream ends
                await asyncio.wait((streaming,), timeout=DROP_GRACE)
        finally:
            dropped.cancel()
            if not streaming.done():  # not reading: cancel the blocked send; the server closes the connection
                streaming.cancel()
                await asyncio.gather(streaming, return_exceptions=True)
        if not streaming.cancelled():
            streaming.result()


def stream_routes(services: ApiServices) -> list[Route]:
    return [Route("/api/v1/stream", instrument(services, "/api/v1/stream", _stream(services)), methods=["GET"])]


def _frame(body: bytes) -> bytes:
    try:
        kind = str(orjson.loads(body).get("type", "message"))
    except (orjson.JSONDecodeError, AttributeError):
        return b""
    return b"event: " + kind.replace("\n", " ").encode() + b"\ndata: " + body.replace(b"\n", b" ") + b"\n\n"


def _stream(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "read")
        feed = services.stream
        assert feed is not None
        subscriber = feed.subscribe()
        log.info("stream_opened", by=principal.name)

        async def frames() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\nevent: hello\ndata: {}\n\n"
                while True:
                    try:
                        body = await asyncio.wait_for(subscriber.get(), KEEPALIVE)
                    except TimeoutError:
                        yield b": keepalive\n\n"
                        continue
                    if body == _CLOSED:
                        return
                    if body == _OVERFLOW:
                        yield b"event: overflow\ndata: {}\n\n"
                        return
                    yield body
            finally:
                feed.unsubscribe(subscriber)

        headers: dict[str, Any] = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return _DroppableStream(frames(), subscriber.dropped, media_type="text/event-stream", headers=headers)

    return handle
