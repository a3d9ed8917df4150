"""Change events in one worker (``docs/changes.md``): the channel and topology of ``<ns>.changes``, the publisher
the HTTP API and the CLI put changes on (with broker confirms), the consumer taking them off, and the handler
that stores a change and links it to the open incidents it may explain (publishing their ``incident.updated``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import aio_pika
import structlog
from aio_pika.abc import AbstractConnection, AbstractExchange

from correlation.core.catalog import Catalog
from correlation.core.change_windows import window_of
from correlation.core.muting import change_windows_at
from correlation.store.change_windows import ChangeWindowStore
from correlation.store.changes import ChangeStore
from events.changes import Change
from rules.catalog_schema import RecurringChangeWindow
from events.names import CHANGES_ROUTE, BrokerNames
from events.publisher import EventPublisher
from ingest.changes import ChangeConsumer, ChangeTopology, change_message, declare_changes
from stormwatch.metrics import Metrics

log = structlog.get_logger("stormwatch.changes")

CONFIRM_TIMEOUT = 10.0


class ChangesUnavailable(Exception):
    """RabbitMQ did not confirm the change: nothing was accepted."""


class ChangesService:
    def __init__(self, connection: AbstractConnection, names: BrokerNames, store: ChangeStore,
                 events: EventPublisher, catalog: Callable[[], Catalog], clock: Callable[[], float],
                 metrics: Metrics, *, delivery_limit: int, max_bytes: int,
                 windows: ChangeWindowStore | None = None,
                 recurring: Callable[[], Sequence[RecurringChangeWindow]] = tuple,
                 on_stored: Callable[[Change], None] | None = None) -> None:
        self.on_stored = on_stored  # told of every change stored (the recorder: STORMWATCH_RECORD)
        self.windows = windows  # a change inside a change window on its service is linked to it
        self.recurring = recurring  # the rule files' recurring change windows
        self.connection = connection
        self.names = names
        self.store = store
        self.events = events
        self.catalog = catalog
        self.clock = clock
        self.metrics = metrics
        self.delivery_limit = delivery_limit
        self.max_bytes = max_bytes
        self.topology: ChangeTopology | None = None
        self.consumer: ChangeConsumer | None = None
        self._exchange: AbstractExchange | None = None

    async def start(self, *, consume: bool) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        self.topology = await declare_changes(channel, self.names, delivery_limit=self.delivery_limit)
        self._exchange = self.topology.exchange
        if consume:
            consumer_channel = await self.connection.channel()
            await consumer_channel.set_qos(prefetch_count=16)
            topology = await declare_changes(consumer_channel, self.names, delivery_limit=self.delivery_limit)
            self.consumer = ChangeConsumer(topology, self.handle, self.clock, max_bytes=self.max_bytes,
                                           on_rejected=self._rejected)
            await self.consumer.start()

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    def _rejected(self, reason: str) -> None:
        self.metrics.changes.labels("rejected").inc()

    async def publish(self, body: bytes, fmt: str, message_id: str) -> None:
        """Put one validated change body on ``<ns>.changes``; returns once RabbitMQ confirmed it."""
        if self._exchange is None:
            raise ChangesUnavailable("the changes exchange is not declared yet")
        try:
            await self._exchange.publish(change_message(body, fmt, message_id), routing_key=CHANGES_ROUTE,
                                         mandatory=True, timeout=CONFIRM_TIMEOUT)
        except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            raise ChangesUnavailable(f"RabbitMQ did not take the change: {exc!r}") from None

    async def handle(self, change: Change) -> None:
        """Store a change and link it to the open incidents that watch its service. A duplicate (same id on the
        same service) is linked again: linking is idempotent, and a worker that died between the two is repaired."""
        now = self.clock()
        if self.windows is not None and not change.window:
            windows = change_windows_at(await self.windows.all(), self.recurring(), change.at)
            window = window_of(windows, change.service, change.at)
            if window:
                change = replace(change, window=window)
        outcome = await self.store.add(change, now)
        self.metrics.changes.labels(outcome).inc()
        if outcome == "stored" and self.on_stored is not None:
            self.on_stored(change)
        events = await self.store.link_arrived(change, self.catalog(), now)
        if events:
            await self.events.publish_events(events)
        log.info("change_stored", change=change.id, service=change.service, outcome=outcome, linked=len(events))
