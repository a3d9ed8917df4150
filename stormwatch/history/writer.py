"""The history writer: every event off its own durable queue into the history database, acked only once written.

    <ns>.history       quorum queue, bound to <ns>.events with ``#``; dead-letters to <ns>.history.dead
    <ns>.history.dead  fanout exchange and a quorum queue: events the history cannot use, with a reason header

Deliveries are taken in batches (up to ``batch_size``, the channel's prefetch). A batch is decoded and checked
(an unusable event is dead-lettered with ``x-stormwatch-reason``, then acked), its incidents' members read from
Redis, then written in one transaction (``store.HistoryStore``) and acked. While the database (or Redis) does not
answer, the batch is retried with a growing wait and nothing is acked: the events wait in the queue, the alert
pipeline never notices (it only publishes to the exchange), and the writer resumes by itself. A batch the database
refuses for its data (not an outage) is written one event at a time, so only the bad event is dead-lettered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
import orjson
import sqlalchemy as sa
import structlog
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue
from prometheus_client import CollectorRegistry, Counter, Gauge

from events.dead_letter import forward
from events.names import ALL_EVENTS, BrokerNames
from stormwatch.cancelling import cancel_and_wait
from stormwatch.history.store import HistoryStore, IncidentDetail, InvalidEvent, validate

log = structlog.get_logger("stormwatch.history")



@dataclass(frozen=True, slots=True)
class HistoryTopology:
    events: AbstractExchange
    queue: AbstractQueue
    dead: AbstractExchange


async def declare_history(channel: AbstractChannel, names: BrokerNames) -> HistoryTopology:
    events = await channel.declare_exchange(names.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    dead = await channel.declare_exchange(names.history_dead, aio_pika.ExchangeType.FANOUT, durable=True)
    dead_queue = await channel.declare_queue(names.history_dead, durable=True, arguments={"x-queue-type": "quorum"})
    await dead_queue.bind(dead, routing_key="")
    queue = await channel.declare_queue(names.history_queue, durable=True, arguments={
        "x-queue-type": "quorum", "x-dead-letter-exchange": names.history_dead})
    await queue.bind(events, routing_key=ALL_EVENTS)
    return HistoryTopology(events, queue, dead)


async def delete_history(channel: AbstractChannel, names: BrokerNames) -> None:
    """Remove the writer's objects (tests); the events exchange belongs to the worker."""
    for queue in (names.history_queue, names.history_dead):
        await channel.queue_delete(queue)
    await channel.exchange_delete(names.history_dead)


@dataclass(frozen=True)
class HistoryMetrics:
    applied: Counter
    repeats: Counter
    dead_lettered: Counter
    write_failures: Counter
    down: Gauge
    restores: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> HistoryMetrics:
        return cls(
            applied=Counter("stormwatch_history_events_applied_total", "Events written to the history, by type",
                            ["type"], registry=registry),
            repeats=Counter("stormwatch_history_events_repeated_total",
                            "Events the history had already applied (redeliveries, replays): nothing written",
                            registry=registry),
            dead_lettered=Counter("stormwatch_history_events_dead_lettered_total",
                                  "Events the history could not use, by reason", ["reason"], registry=registry),
            write_failures=Counter("stormwatch_history_write_failures_total",
                                   "Batches not written because the database or Redis did not answer (retried)",
                                   registry=registry),
            down=Gauge("stormwatch_history_store_down",
                       "1 while the history writer cannot write (events wait in its queue)", registry=registry),
            restores=Counter("stormwatch_history_restores_total",
                             "Times this writer found that Redis lost its data and restored it from the history",
                             registry=registry),
        )


DetailReader = Callable[[str], Any]  # incident id -> awaitable IncidentDetail


class HistoryWriter:
    def __init__(self, topology: HistoryTopology, store: HistoryStore, details: DetailReader | None,
                 metrics: HistoryMetrics, *, batch_size: int = 200, batch_wait: float = 0.05,
                 retry_max_seconds: float = 30.0, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.topology = topology
        self.store = store
        self.details = details
        self.metrics = metrics
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.retry_max = retry_max_seconds
        self.sleep = sleep
        self.inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self.written = 0  # events written since start (tests wait on it)
        self._tag: str | None = None
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="stormwatch-history-writer")
        self._tag = await self.topology.queue.consume(self.inbox.put)

    async def stop(self) -> None:
        """Stop taking deliveries; a batch being written is abandoned unacked (RabbitMQ redelivers it). The writer's
        task is cancelled until it has ended (``stormwatch.cancelling``): with one cancel swallowed mid-batch it
        went back to waiting on an inbox nobody fills any more, and this stop waited on it for ever."""
        self._stopping = True
        if self._tag is not None:
            try:
                await asyncio.wait_for(self.topology.queue.cancel(self._tag), timeout=5)
            except Exception as exc:  # noqa: BLE001 - the channel may already be gone
                log.warning("history_cancel_failed", error=repr(exc))
            self._tag = None
        loop, self._loop = self._loop, None
        await cancel_and_wait([loop])

    async def _run(self) -> None:
        while not self._stopping:
            batch = [await self.inbox.get()]
            deadline = asyncio.get_running_loop().time() + self.batch_wait
            while len(batch) < self.batch_size:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    if remaining <= 0:
                        batch.append(self.inbox.get_nowait())
                        continue
                    async with asyncio.timeout(remaining):  # unlike wait_for (3.11), never swallows a cancel
                        batch.append(await self.inbox.get())
                except (asyncio.QueueEmpty, TimeoutError):
                    break
            try:
                await self.handle(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the writer: requeue and go on
                log.error("history_batch_failed", error=repr(exc), messages=len(batch))
                for message in batch:
                    await _settle(message.reject(requeue=True))

    async def handle(self, messages: list[AbstractIncomingMessage]) -> None:
        """Write one batch: dead-letter what cannot be used, write the rest until it is written, then ack."""
        good: list[tuple[AbstractIncomingMessage, dict[str, Any]]] = []
        for message in messages:
            try:
                good.append((message, validate(orjson.loads(message.body))))
            except orjson.JSONDecodeError as exc:
                await self._dead_letter(message, "invalid_json", str(exc))
            except InvalidEvent as exc:
                await self._dead_letter(message, exc.reason, exc.detail)
        if not good:
            return
        delay = 0.5
        while True:
            try:
                await self._write([event for _, event in good])
                break
            except _DataRefused:
                await self._one_by_one(good)
                return
            except Exception as exc:  # the database or Redis is away: wait, retry, never ack
                self.metrics.write_failures.inc()
                self.metrics.down.set(1)
                log.warning("history_write_failed", error=repr(exc)[:500], events=len(good), retry_in=delay)
                if self._stopping:
                    raise
                await self.sleep(delay)
                delay = min(delay * 2, self.retry_max)
        self.metrics.down.set(0)
        for message, _ in good:
            await _settle(message.ack())

    async def _one_by_one(self, good: list[tuple[AbstractIncomingMessage, dict[str, Any]]]) -> None:
        for message, event in good:
            delay = 0.5
            while True:
                try:
                    await self._write([event])
                    await _settle(message.ack())
                    break
                except _DataRefused as exc:
                    await self._dead_letter(message, "refused_by_database", str(exc.__cause__)[:1000])
                    break
                except Exception as exc:  # noqa: BLE001 - away again: as in handle()
                    self.metrics.write_failures.inc()
                    log.warning("history_write_failed", error=repr(exc)[:500], events=1, retry_in=delay)
                    await self.sleep(delay)
                    delay = min(delay * 2, self.retry_max)

    async def _write(self, events: list[dict[str, Any]]) -> None:
        details: dict[str, IncidentDetail] = {}
        if self.details is not None:  # once per incident per batch: the newest state Redis holds
            for incident_id in dict.fromkeys(e["incident"]["id"] for e in events if "incident" in e):
                details[incident_id] = await self.details(incident_id)
        batch = [(e, details.get(e["incident"]["id"]) if "incident" in e else None) for e in events]
        try:
            done = await self.store.apply(batch)
        except (sa.exc.DataError, sa.exc.IntegrityError, ValueError, TypeError, KeyError) as exc:
            raise _DataRefused() from exc
        self.written += done.applied
        for kind, count in done.by_type.items():
            self.metrics.applied.labels(kind).inc(count)
        if done.repeats:
            self.metrics.repeats.inc(done.repeats)

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str, detail: str) -> None:
        log.info("history_event_dead_lettered", message_id=message.message_id, reason=reason, detail=detail[:300])
        self.metrics.dead_lettered.labels(reason).inc()
        if not await forward(self.topology.dead, message, reason=reason, detail=detail,
                             failed_event="history_dead_letter_failed"):
            await _settle(message.reject(requeue=True))
            return
        await _settle(message.ack())


class _DataRefused(Exception):
    """The database refused the batch for what it holds (not an outage)."""


async def _settle(outcome: Any) -> None:
    try:
        await outcome
    except Exception as exc:  # noqa: BLE001 - channel closed: RabbitMQ redelivers; writes are idempotent
        log.warning("history_settle_failed", error=repr(exc))
