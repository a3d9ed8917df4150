"""The connections one Stormwatch process holds: Redis, RabbitMQ (with the alert topology declared) and the incident
store on them. A service that does not answer at start is ``ServiceUnavailable`` naming it, where, and what to do.

Both a worker (``stormwatch.app``) and the action runner alone (``stormwatch.actions_app``) connect through here.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis

from correlation.store.keyspace import Keyspace
from correlation.store.store import IncidentStore
from ingest.topology import Names, Topology, declare
from stormwatch.config import Settings, redact_url
from stormwatch.errors import AMQP_START_HINT, REDIS_START_HINT, ServiceUnavailable
from stormwatch.metrics import Metrics
from stormwatch.redis_client import redis_client

log = structlog.get_logger("stormwatch")


@dataclass
class Services:
    redis: Redis
    connection: AbstractRobustConnection
    topology: Topology
    store: IncidentStore


async def connect_services(settings: Settings, metrics: Metrics) -> Services:
    """Redis, then RabbitMQ (a confirming channel with the alert topology declared), then the store's scripts.
    Whatever was opened is closed again when a later step fails."""
    s = settings
    redis = redis_client(
        s, socket_timeout=5, socket_connect_timeout=3, health_check_interval=10,
        retry_on_timeout=False,
    )
    try:
        await redis.ping()
    except Exception as exc:  # noqa: BLE001 - turned into a message that says what to do
        await redis.aclose()
        raise ServiceUnavailable(
            f"Redis is not answering at {redact_url(s.redis_url)} ({exc}); {REDIS_START_HINT}"
        ) from None
    try:
        # named by namespace and pid: an operator (or a fault test) can find and close one worker's connection
        connection = await asyncio.wait_for(aio_pika.connect_robust(
            s.amqp_url, client_properties={"connection_name": f"stormwatch {s.namespace} pid {os.getpid()}"},
        ), timeout=10)
    except Exception as exc:  # noqa: BLE001
        await redis.aclose()
        raise ServiceUnavailable(
            f"RabbitMQ is not answering at {redact_url(s.amqp_url)} ({exc!r}); {AMQP_START_HINT}"
        ) from None

    def reconnected(_connection: Any) -> None:
        metrics.amqp_reconnects.inc()
        log.warning("amqp_reconnected", detail="the RabbitMQ connection was lost and is restored; unacked deliveries "
                                               "of the lost connection are redelivered")

    connection.reconnect_callbacks.add(reconnected)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=s.prefetch)
        topology = await declare(channel, Names(s.namespace), delivery_limit=s.delivery_limit)
        store = IncidentStore(
            redis, Keyspace(s.namespace), marker_ttl=s.idempotency_ttl_seconds, timeline_max=s.timeline_max_entries
        )
        await store.load_scripts()
    except BaseException:
        await close_connections(connection, redis)
        raise
    return Services(redis, connection, topology, store)


async def close_connections(connection: AbstractRobustConnection | None, redis: Redis | None) -> None:
    """Close RabbitMQ (waiting at most 5 s) and Redis; a broker that does not answer the close is logged."""
    if connection is not None and not connection.is_closed:
        try:
            await asyncio.wait_for(connection.close(), timeout=5)
        except (TimeoutError, aio_pika.exceptions.AMQPError) as exc:
            log.warning("amqp_close_failed", error=repr(exc))
    if redis is not None:
        await redis.aclose()
