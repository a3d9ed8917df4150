"""Removing a whole namespace: its Redis keys and its RabbitMQ objects (demo, bench and tests)."""

from __future__ import annotations

import aio_pika

from actions.topology import ActionNames, delete_actions
from correlation.store.keyspace import Keyspace
from correlation.store.store import IncidentStore
from events.names import BrokerNames
from ingest.changes import delete_changes
from ingest.topology import Names, delete
from stormwatch.config import Settings
from stormwatch.history.writer import delete_history
from stormwatch.redis_client import redis_client


async def delete_namespace(settings: Settings) -> None:
    redis = redis_client(settings)
    try:
        await IncidentStore(redis, Keyspace(settings.namespace), marker_ttl=1, timeline_max=10).delete_namespace()
    finally:
        await redis.aclose()
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        await delete_actions(await connection.channel(), ActionNames(settings.namespace))
        await delete_history(await connection.channel(), BrokerNames(settings.namespace))
        await delete_changes(await connection.channel(), Names(settings.namespace))
        await delete(await connection.channel(), Names(settings.namespace))
    finally:
        await connection.close()
