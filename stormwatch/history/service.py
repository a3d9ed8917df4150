"""The history writer of one process: inside a worker (on by default) or alone (``serve --role history``).

``start()`` declares the writer's queue at once (so no event is missed from then on) and leaves the rest to a
background task: migrate the database to the newest schema, then write. A database that does not answer at start
is retried with a growing wait, like one that goes away later; the worker it lives in starts regardless.
"""

from __future__ import annotations

import asyncio
import math
import signal
import time
from collections.abc import Callable
import structlog
from aio_pika.abc import AbstractRobustConnection
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from events.names import BrokerNames
from stormwatch.cancelling import cancel_and_wait
from stormwatch.config import Settings
from stormwatch.history import migrate
from stormwatch.history.database import open_engine, redacted
from stormwatch.history.redis_source import RedisSource
from stormwatch.history.restore import restore_if_lost
from stormwatch.history.retention import prune
from stormwatch.history.store import HistoryStore
from stormwatch.history.writer import HistoryMetrics, HistoryWriter, declare_history
from stormwatch.metrics import Metrics
from stormwatch.reports.rollup import roll_up_ended
from stormwatch.services import close_connections, connect_services

log = structlog.get_logger("stormwatch.history")

RETENTION_EVERY_SECONDS = 3600.0


class HistoryService:
    def __init__(self, settings: Settings, registry: CollectorRegistry, redis: Redis,
                 connection: AbstractRobustConnection, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.metrics = HistoryMetrics.create(registry)
        self.redis = redis
        self.connection = connection
        self.clock = clock
        self.engine: AsyncEngine | None = None
        self.writer: HistoryWriter | None = None
        self.ready = asyncio.Event()  # set once migrated and consuming
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        s = self.settings
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=s.history_batch_size * 2)
        topology = await declare_history(channel, BrokerNames(s.namespace))
        self.engine = open_engine(s.history_database)
        source = RedisSource(self.redis, s.namespace, timeline_max=s.timeline_max_entries)
        self.writer = HistoryWriter(topology, HistoryStore(self.engine, self.clock), source.detail, self.metrics,
                                    batch_size=s.history_batch_size, retry_max_seconds=s.history_retry_max_seconds)
        self._tasks.append(asyncio.create_task(self._begin(), name="stormwatch-history-start"))

    async def _begin(self) -> None:
        assert self.engine is not None and self.writer is not None
        delay = 0.5
        while True:
            try:
                await migrate.upgrade(self.engine)
                await migrate.bind_namespace(self.engine, self.settings.namespace)
                break
            except migrate.OtherNamespace as exc:  # never mix two namespaces: the events wait in the queue
                self.metrics.down.set(1)
                log.error("history_database_of_another_namespace", detail=str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - the database is away: events wait in the queue
                self.metrics.down.set(1)
                log.warning("history_database_unavailable", database=redacted(self.settings.history_database),
                            error=repr(exc)[:300], retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.history_retry_max_seconds)
        self.metrics.down.set(0)
        await self.writer.start()
        self.ready.set()
        log.info("history_started", database=redacted(self.settings.history_database),
                 queue=BrokerNames(self.settings.namespace).history_queue)
        if self.settings.history_retention_days > 0:
            self._tasks.append(asyncio.create_task(self._retain(), name="stormwatch-history-retention"))
        if self.settings.history_rollup_days > 0:
            self._tasks.append(asyncio.create_task(self._roll_up(), name="stormwatch-history-rollup"))
        if self.settings.history_auto_restore:
            self._tasks.append(asyncio.create_task(self._watch_redis(), name="stormwatch-history-restore"))

    async def _watch_redis(self) -> None:
        """Restore from the history as soon as Redis is found to have lost its data (docs/history.md)."""
        assert self.engine is not None
        while True:
            try:
                done = await restore_if_lost(self.engine, self.redis, self.settings.namespace, self.clock())
                if done is not None:
                    self.metrics.restores.inc()
                    log.warning("redis_data_lost_restored", incidents=done.incidents, alerts=done.alerts,
                                incidents_live=done.incidents_live, counters_raised=done.counters_raised,
                                problems=done.problems, silences=done.silences)
            except Exception as exc:  # noqa: BLE001 - Redis or the database away: looked at again next round
                log.warning("history_restore_check_failed", error=repr(exc)[:300])
            await asyncio.sleep(self.settings.history_restore_check_seconds)

    async def _roll_up(self) -> None:
        """Keep the report roll-ups of ended days warm: every round, up to ``history_rollup_days`` stale days (a
        late acknowledgement, a batch replayed into last week, a day that just ended), the most recent first.
        Bounded so the writer sharing this loop waits at most that many days' computation; a backlog (a history
        just migrated) is worked through a few days a round, sooner when a round found a full set."""
        assert self.engine is not None
        s = self.settings
        while True:
            done = 0
            try:
                done = await roll_up_ended(self.engine, self.clock(), s.history_rollup_days,
                                           horizon_days=math.ceil(s.history_retention_days or 400))
                if done:
                    log.debug("history_rolled_up", days=done)
            except Exception as exc:  # noqa: BLE001 - the database away: tried again at the next round
                log.warning("history_rollup_failed", error=repr(exc)[:300])
            # a full round: more may wait (a backlog); yield to the writer briefly, then carry on
            await asyncio.sleep(min(1.0, s.history_rollup_seconds) if done >= s.history_rollup_days
                                else s.history_rollup_seconds)

    async def _retain(self) -> None:
        assert self.engine is not None
        while True:
            try:
                removed = await prune(self.engine, self.clock() - self.settings.history_retention_days * 86400)
                if any(removed.values()):
                    log.info("history_pruned", **removed)
            except Exception as exc:  # noqa: BLE001 - tried again at the next round
                log.warning("history_prune_failed", error=repr(exc)[:300])
            await asyncio.sleep(RETENTION_EVERY_SECONDS)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)  # each ends for certain, even when a cancel is swallowed mid-round
        if self.writer is not None:
            await self.writer.stop()
        if self.engine is not None:
            await self.engine.dispose()


async def serve_history(settings: Settings, ready: Callable[[], None] | None = None) -> None:
    """``stormwatch serve --role history``: only the history writer, until SIGTERM/SIGINT."""
    metrics = Metrics.create()
    services = await connect_services(settings, metrics)
    service = HistoryService(settings, metrics.registry, services.redis, services.connection)
    await service.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready()
    await stop.wait()
    await service.stop()
    await close_connections(services.connection, services.redis)
    structlog.get_logger("stormwatch").info("worker_stopped", namespace=settings.namespace, role="history")
