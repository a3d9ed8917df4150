"""Shared pieces of the HTTP API tests: a worker with its HTTP server on port 0, tokens, a real HTTP client."""

from __future__ import annotations

from typing import Any
from collections.abc import AsyncIterator

import aio_pika
import httpx
import orjson

from ingest.topology import Names
from stormwatch.app import Worker

ADMIN = "admin-token-0123456789abcdef"
RESPOND = "respond-token-0123456789abcdef"
READ = "read-token-0123456789abcdef"
INGEST = "ingest-token-0123456789abcdef"
TOKENS = f"ops:admin:{ADMIN},sre:respond:{RESPOND},viewer:read:{READ},prometheus:ingest:{INGEST}"
SECRET = "hmac-secret-0123456789abcdef"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Api:
    """A started worker (consumer + HTTP server) and an HTTP client pointed at it."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        assert worker.ops is not None
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.ops.bound_port}", timeout=15)

    async def post(self, path: str, body: Any = None, token: str | None = ADMIN, **kw: Any) -> httpx.Response:
        content = body if isinstance(body, (bytes, str)) or body is None else orjson.dumps(body)
        headers = {**(bearer(token) if token else {}), **kw.pop("headers", {})}
        return await self.client.post(path, content=content, headers=headers, **kw)

    async def get(self, path: str, token: str | None = READ, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=bearer(token) if token else {}, **kw)

    async def delete(self, path: str, token: str | None = RESPOND) -> httpx.Response:
        return await self.client.delete(path, headers=bearer(token) if token else {})

    async def close(self) -> None:
        await self.client.aclose()


async def start_api(settings: Any, **overrides: Any) -> AsyncIterator[Api]:
    worker = Worker(settings.model_copy(update={"api_tokens": TOKENS, "ingest_hmac_secret": SECRET, **overrides}))
    await worker.start()
    api = Api(worker)
    try:
        yield api
    finally:
        await api.close()
        await worker.stop()


class EventTap:
    """A queue bound to <ns>.events, to read what the API published."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.connection: aio_pika.abc.AbstractConnection | None = None
        self.queue: aio_pika.abc.AbstractQueue | None = None
        self.seen: list[dict[str, Any]] = []  # every event read so far, in order

    async def start(self) -> EventTap:
        self.connection = await aio_pika.connect(self.settings.amqp_url)
        channel = await self.connection.channel()
        exchange = await channel.declare_exchange(Names(self.settings.namespace).events_exchange,
                                                  aio_pika.ExchangeType.TOPIC, durable=True)
        self.queue = await channel.declare_queue(exclusive=True)
        await self.queue.bind(exchange, routing_key="#")
        return self

    async def types(self) -> list[str]:
        """The types of every event published so far (reads what arrived since the last call)."""
        assert self.queue is not None
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            self.seen.append(orjson.loads(message.body))
        return [e["type"] for e in self.seen]

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
