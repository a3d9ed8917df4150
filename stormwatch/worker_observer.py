"""How a worker sees its consumer's outcomes: which failures pass (retried), and the hooks that turn batches,
outages and crashes into metrics and (rate-limited) log lines."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from collections.abc import Callable, Sequence

import aio_pika
import structlog
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from events.publisher import EventPublishFailed
from correlation.store.pipeline import ConflictStorm
from stormwatch.metrics import Metrics, SourceLabel

log = structlog.get_logger("stormwatch")

BatchHook = Callable[[int, int, Sequence[float]], None]


def is_retryable(exc: BaseException) -> bool:
    """Failures that pass: the store or the broker is away for a while. Anything else is a bug."""
    return isinstance(
        exc,
        (
            RedisConnectionError,
            RedisTimeoutError,
            BusyLoadingError,
            ConflictStorm,
            EventPublishFailed,
            aio_pika.exceptions.AMQPError,
            ConnectionError,
            asyncio.TimeoutError,
        ),
    )


class WorkerObserver:
    """Turns consumer hooks into metrics and (rate-limited) log lines."""

    def __init__(self, metrics: Metrics, on_batch: BatchHook | None = None,
                 source_label: SourceLabel | None = None) -> None:
        self.metrics = metrics
        self.on_batch = on_batch
        self.source_label = source_label or SourceLabel()  # a sender's source: a closed set of label values
        self._last_store_log = 0.0

    def received(self, source: str, fmt: str, count: int) -> None:
        self.metrics.alerts_received.labels(self.source_label(source), fmt).inc(count)

    def rejected(self, reason: str, count: int) -> None:
        self.metrics.alerts_rejected.labels(reason).inc(count)  # the consumer logs each dead letter

    def redelivered(self) -> None:
        self.metrics.redeliveries.inc()

    def batch_done(self, messages: int, alerts: int, report: Any, latencies: Sequence[float]) -> None:
        self.metrics.record_batch(messages, alerts, report, latencies)
        self.metrics.ready.set(1)
        if self.on_batch is not None:
            self.on_batch(messages, alerts, latencies)
        parts = report if isinstance(report, tuple) else (report,)  # a tuple: a batch split around a poison message
        for part in (p for p in parts if p is not None):
            for iid in part.opened:
                log.info("incident_opened", incident_id=iid)
            for iid in part.resolved:
                log.info("incident_resolved", incident_id=iid)

    def store_error(self, error: BaseException, attempt: int, delay: float) -> None:
        if isinstance(error, EventPublishFailed):  # the broker, not the store: the batch waits for the reconnect
            self.metrics.amqp_errors.labels("publish").inc()
            log.warning("amqp_error", operation="publish", error=repr(error.cause), attempt=attempt,
                        retry_in=round(delay, 2), detail="events not confirmed; the batch is retried after the "
                        "reconnect, or left unacked for RabbitMQ to redeliver")
            return
        self.metrics.redis_errors.inc()
        self.metrics.ready.set(0)
        now = time.monotonic()
        if attempt == 1 or now - self._last_store_log > 10:
            self._last_store_log = now
            log.warning("store_unavailable", error=repr(error), attempt=attempt, retry_in=round(delay, 2))

    def amqp_error(self, error: BaseException, where: str) -> None:
        self.metrics.amqp_errors.labels(where).inc()
        log.warning("amqp_error", operation=where, error=repr(error))

    def crashed(self, error: BaseException) -> None:
        self.metrics.crashes.inc()
        log.error("processing_crashed", error=repr(error), exc_info=error)
