"""Wiring: one Stormwatch worker built from Settings (consumer -> correlation -> events, plus /metrics)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import aio_pika
import structlog
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from correlation.routing import Router
from correlation.silences import SilenceStore
from correlation.keyspace import Keyspace
from correlation.pipeline import ConflictStorm, CorrelationPipeline, Delivery, TimerFiring
from correlation.store import IncidentStore
from actions.events import AmqpEventPublisher
from ingest.consumer import AlertConsumer, ConsumerConfig
from ingest.topology import Names, Topology, declare
from rules.loader import EXAMPLES_DIR, RuleSetInvalid, load_rule_set
from rules.schema import RuleSet
from stormwatch.config import Settings, redact_url
from stormwatch.http import OpsServer
from stormwatch.metrics import Metrics

log = structlog.get_logger("stormwatch")

REDIS_START_HINT = (
    "start it with: redis-server --daemonize yes --port 6379 (or `make services`), "
    "or point STORMWATCH_REDIS_URL at a running Redis"
)
AMQP_START_HINT = (
    "start it with: rabbitmq-server -detached (or `make services`), "
    "or point STORMWATCH_AMQP_URL at a running RabbitMQ"
)


BatchHook = Callable[[int, int, Sequence[float]], None]


class RulesInvalid(Exception):
    """The rules directory does not validate; the message lists every error as file:line: field: message."""


def rules_directory(setting: str) -> Path:
    """The directory named by STORMWATCH_RULES ("examples" or a path; "none" is handled by the callers)."""
    return EXAMPLES_DIR if setting == "examples" else Path(setting)


def load_rules(setting: str) -> RuleSet | None:
    """The rule set named by STORMWATCH_RULES ("examples", "none" or a directory)."""
    if setting == "none":
        return None
    try:
        return load_rule_set(rules_directory(setting))
    except RuleSetInvalid as exc:
        lines = "\n  ".join(str(e) for e in exc.errors)
        raise RulesInvalid(f"STORMWATCH_RULES={setting}: {len(exc.errors)} error(s):\n  {lines}") from None


def _rules_signature(setting: str) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                            for p in rules_directory(setting).iterdir() if p.suffix in (".yaml", ".yml")))
    except OSError:
        return ()


class ServiceUnavailable(Exception):
    """RabbitMQ or Redis could not be reached at start; the message says which, where and what to do."""


def is_retryable(exc: BaseException) -> bool:
    """Failures that pass: the store or the broker is away for a while. Anything else is a bug."""
    return isinstance(
        exc,
        (
            RedisConnectionError,
            RedisTimeoutError,
            BusyLoadingError,
            ConflictStorm,
            aio_pika.exceptions.AMQPError,
            ConnectionError,
            asyncio.TimeoutError,
        ),
    )


class WorkerObserver:
    """Turns consumer hooks into metrics and (rate-limited) log lines."""

    def __init__(self, metrics: Metrics, on_batch: BatchHook | None = None) -> None:
        self.metrics = metrics
        self.on_batch = on_batch
        self._last_store_log = 0.0

    def received(self, source: str, fmt: str, count: int) -> None:
        self.metrics.alerts_received.labels(source, fmt).inc(count)

    def rejected(self, reason: str, count: int) -> None:
        self.metrics.alerts_rejected.labels(reason).inc(count)  # the consumer logs each dead letter

    def redelivered(self) -> None:
        self.metrics.redeliveries.inc()

    def batch_done(self, messages: int, alerts: int, report: Any, latencies: Sequence[float]) -> None:
        self.metrics.record_batch(messages, alerts, report, latencies)
        self.metrics.ready.set(1)
        if self.on_batch is not None:
            self.on_batch(messages, alerts, latencies)
        if report is not None:
            for iid in report.opened:
                log.info("incident_opened", incident_id=iid)
            for iid in report.resolved:
                log.info("incident_resolved", incident_id=iid)

    def store_error(self, error: BaseException, attempt: int, delay: float) -> None:
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


class Worker:
    """One worker process's service: owns its connections; start() then stop()."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        on_batch: BatchHook | None = None,
    ) -> None:
        self.settings = settings
        self.on_batch = on_batch
        self.metrics = metrics or Metrics.create()
        self.clock = clock
        self.names = Names(settings.namespace)
        self.keyspace = Keyspace(settings.namespace)
        self.redis: Redis | None = None
        self.connection: AbstractRobustConnection | None = None
        self.topology: Topology | None = None
        self.store: IncidentStore | None = None
        self.consumer: AlertConsumer | None = None
        self.ops: OpsServer | None = None
        self.rule_set: RuleSet | None = None
        self.pipeline: CorrelationPipeline | None = None
        self._rules_watch: asyncio.Task[None] | None = None
        self._timer_loop: asyncio.Task[None] | None = None
        self.timers: TimerFiring | None = None

    async def connect(self) -> None:
        s = self.settings
        self.rule_set = load_rules(s.rules)
        self.redis = Redis.from_url(
            s.redis_url, socket_timeout=5, socket_connect_timeout=3, health_check_interval=10,
            retry_on_timeout=False,
        )
        try:
            await self.redis.ping()
        except Exception as exc:  # noqa: BLE001 - turned into a message that says what to do
            await self.redis.aclose()
            raise ServiceUnavailable(
                f"Redis is not answering at {redact_url(s.redis_url)} ({exc}); {REDIS_START_HINT}"
            ) from None
        try:
            self.connection = await asyncio.wait_for(aio_pika.connect_robust(s.amqp_url), timeout=10)
        except Exception as exc:  # noqa: BLE001
            await self.redis.aclose()
            raise ServiceUnavailable(
                f"RabbitMQ is not answering at {redact_url(s.amqp_url)} ({exc!r}); {AMQP_START_HINT}"
            ) from None
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=s.prefetch)
        self.topology = await declare(channel, self.names, delivery_limit=s.delivery_limit)
        self.store = IncidentStore(
            self.redis, self.keyspace, marker_ttl=s.idempotency_ttl_seconds, timeline_max=s.timeline_max_entries
        )
        await self.store.load_scripts()

    async def start(self) -> None:
        if self.store is None:
            await self.connect()
        assert self.topology is not None and self.store is not None
        s = self.settings
        self.pipeline = pipeline = CorrelationPipeline(
            self.store, Router(self.rule_set, s.group_by), AmqpEventPublisher(self.topology.events), self.clock,
            SilenceStore(self.redis, self.keyspace),
        )
        self.metrics.group_rules.set(len(self.rule_set.groups) if self.rule_set else 0)
        self.timers = TimerFiring(pipeline)
        self._timer_loop = asyncio.create_task(self._fire_timers(self.timers), name="stormwatch-timers")
        if s.rules_poll_seconds > 0 and s.rules not in ("none",):
            self._rules_watch = asyncio.create_task(self._watch_rules(), name="stormwatch-rules-watch")
        self.consumer = AlertConsumer(
            self.topology,
            pipeline,
            Delivery,
            WorkerObserver(self.metrics, self.on_batch),
            ConsumerConfig(
                batch_size=s.batch_size,
                batch_wait=s.batch_wait_ms / 1000,
                max_body_bytes=s.max_body_bytes,
                retry_max_seconds=s.redis_retry_max_seconds,
            ),
            self.clock,
            is_retryable,
        )
        if s.metrics_enabled:
            self.ops = OpsServer(self.metrics.registry, self.readiness, s.metrics_host, s.metrics_port)
            await self.ops.start()
        await self.consumer.start()
        self.metrics.ready.set(1)
        log.info(
            "worker_started",
            namespace=s.namespace,
            amqp=redact_url(s.amqp_url),
            redis=redact_url(s.redis_url),
            metrics=f"http://{s.metrics_host}:{self.ops.bound_port}/metrics" if self.ops else None,
        )

    def reload_rules(self) -> bool:
        """Build and validate the whole new rule set first; swap only if it is valid (the running set stays)."""
        try:
            rule_set = load_rules(self.settings.rules)
        except RulesInvalid as exc:
            self.metrics.rules_reloads.labels("refused").inc()
            log.error("rules_reload_refused", errors=str(exc))
            return False
        router = Router(rule_set, self.settings.group_by)
        self.rule_set = rule_set
        if self.pipeline is not None:
            self.pipeline.router = router
        self.metrics.rules_reloads.labels("applied").inc()
        self.metrics.group_rules.set(len(rule_set.groups) if rule_set else 0)
        log.info("rules_reloaded", group_rules=len(rule_set.groups) if rule_set else 0)
        return True

    async def _fire_timers(self, timers: TimerFiring) -> None:
        """Every worker polls the shared timer index; a claim gives each due timer to one worker."""
        while True:
            await asyncio.sleep(self.settings.timer_poll_seconds)
            try:
                fired = await timers.fire_due()
            except Exception as exc:  # noqa: BLE001 - retried at the next tick (leases keep timers safe)
                self.metrics.redis_errors.inc()
                log.warning("timers_failed", error=repr(exc))
                continue
            if fired:
                self.metrics.incidents_resolved.inc(fired)
                log.info("timers_fired", resolved=fired)

    async def _watch_rules(self) -> None:
        """Reload when a rule file changes (polling: no extra dependency, works on any filesystem)."""
        seen = _rules_signature(self.settings.rules)
        while True:
            await asyncio.sleep(self.settings.rules_poll_seconds)
            current = _rules_signature(self.settings.rules)
            if current != seen:
                seen = current
                self.reload_rules()

    async def readiness(self) -> dict[str, bool]:
        return {
            "redis": bool(self.store and await self.store.ping()),
            "rabbitmq": bool(self.connection and not self.connection.is_closed),
            "consumer": bool(self.consumer and self.consumer.ready.is_set()),
        }

    async def stop(self) -> None:
        """SIGTERM path: stop consuming, finish and ack what is in flight, close connections."""
        if self._rules_watch is not None:
            self._rules_watch.cancel()
        if self._timer_loop is not None:
            self._timer_loop.cancel()
        if self.consumer is not None:
            await self.consumer.stop()
        if self.ops is not None:
            await self.ops.stop()
        if self.connection is not None and not self.connection.is_closed:
            try:
                await asyncio.wait_for(self.connection.close(), timeout=5)
            except (asyncio.TimeoutError, aio_pika.exceptions.AMQPError) as exc:
                log.warning("amqp_close_failed", error=repr(exc))
        if self.redis is not None:
            await self.redis.aclose()
        log.info("worker_stopped", namespace=self.settings.namespace)


async def serve(settings: Settings) -> None:
    """Run a worker until SIGTERM or SIGINT."""
    worker = Worker(settings)
    await worker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, worker.reload_rules)
    await stop.wait()
    log.info("worker_stopping")
    await worker.stop()
