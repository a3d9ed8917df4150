"""Removing a whole namespace: its Redis keys and its RabbitMQ objects (demo, bench and tests)."""

from __future__ import annotations

import aio_pika
from redis.asyncio import Redis

from correlation.keyspace import Keyspace
from correlation.store import IncidentStore
from ingest.topology import Names, delete
from stormwatch.config import Settings


async def delete_namespace(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    try:
        await IncidentStore(redis, Keyspace(settings.namespace), marker_ttl=1, timeline_max=10).delete_namespace()
    finally:
        await redis.aclose()
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        await delete(await connection.channel(), Names(settings.namespace))
    finally:
        await connection.close()
