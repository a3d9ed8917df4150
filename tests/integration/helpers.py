from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import aio_pika
import orjson

from ingest.topology import Names
from stormwatch.app import Worker
from stormwatch.config import Settings
from stormwatch.publisher import publish_many
from tests.conftest import ManualClock


def v2_alert(alertname: str, service: str, instance: str, *, severity: str = "critical",
             resolved: bool = False, starts_at: str = "2026-11-21T10:00:00Z") -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": alertname, "service": service, "instance": instance, "severity": severity},
        "annotations": {"summary": f"{alertname} on {instance}"},
        "startsAt": starts_at,
        "generatorURL": "http://prometheus:9090/graph",
    }
    if resolved:
        alert["endsAt"] = "2026-11-21T10:05:00Z"
    return alert


def body(alerts: Iterable[dict[str, Any]]) -> bytes:
    return orjson.dumps(list(alerts))


async def publish(settings, bodies: list[bytes], *, message_ids: list[str] | None = None,
                  headers: dict[str, Any] | None = None) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(settings.namespace).alerts_exchange)
        if message_ids is None and headers is None:
            await publish_many(exchange, bodies)
            return
        for i, b in enumerate(bodies):
            await exchange.publish(
                aio_pika.Message(b, message_id=message_ids[i] if message_ids else None, headers=headers or {}),
                routing_key="test",
            )
    finally:
        await connection.close()


async def alerts_queue_state(settings) -> tuple[int, int]:
    """(messages ready, consumers) of the alerts queue, by a passive declare (delivered-but-unacked not counted)."""
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(Names(settings.namespace).alerts_queue, passive=True)
        return queue.declaration_result.message_count, queue.declaration_result.consumer_count
    finally:
        await connection.close()


def stored_alerts(worker: Worker) -> float:
    """Valid alerts whose batch has been written and acked (all workers' registries are separate)."""
    return worker.metrics.registry.get_sample_value("stormwatch_batch_alerts_sum") or 0.0


def metric(worker: Worker, name: str, labels: dict[str, str] | None = None) -> float:
    return worker.metrics.registry.get_sample_value(name, labels or {}) or 0.0


async def drain_queue(settings, queue_name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(settings.amqp_url)
    out = []
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=False)
        while True:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                return out
            out.append(message)
    finally:
        await connection.close()


def now() -> float:
    return time.time()


async def incident_status_is(store, incident_id: str, status: str) -> bool:
    return (await store.incident(incident_id)).status == status


async def timer_gone(store, shard: str, member: str) -> bool:
    return await store.redis.zscore(shard, member) is None


STORMWATCH = str(Path(sys.executable).parent / "stormwatch")


async def run_cli(settings, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``stormwatch ARGS`` in a subprocess on the test's namespace, straight to Redis: (exit code, stdout, stderr).
    ``env``: more STORMWATCH_* variables (they win over the test's settings)."""
    extra = env or {}
    env = os.environ | {
        "STORMWATCH_NAMESPACE": settings.namespace,
        "STORMWATCH_AMQP_URL": settings.amqp_url,
        "STORMWATCH_REDIS_URL": settings.redis_url,
        "STORMWATCH_LOG_FORMAT": "json",
        "STORMWATCH_HISTORY_ENABLED": "false",  # on by default; the history's tests give it a database of their own
        "COLUMNS": "200",
    } | extra
    proc = await asyncio.create_subprocess_exec(
        STORMWATCH, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode, out.decode(), err.decode()


@asynccontextmanager
async def started_workers(settings: Settings, count: int = 2) -> AsyncIterator[tuple[list[Worker], ManualClock]]:
    """``count`` workers of one namespace started in turn, their due-time loops on one injected clock; every one
    started is stopped after (also when a later one fails to start)."""
    clock = ManualClock()
    started: list[Worker] = []
    try:
        for _ in range(count):
            w = Worker(settings, clock=clock)
            await w.start()
            started.append(w)
        yield started, clock
    finally:
        for w in started:
            await w.stop()
