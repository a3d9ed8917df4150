"""The AMQP consumer: alerts off the queue, normalised, handed to the sink in batches, acked after.

Messages delivered while a batch is being written accumulate (bounded by the prefetch) and form the
next batch, so the work per Redis round trip grows with load. A message is acked only after the sink
has returned, i.e. after its state is written in Redis; invalid input is published to the dead-letter
exchange with a reason header (with a broker confirm) before the original is acked.

When the sink reports the store unavailable, nothing is acked: the batch is kept and retried in place
with exponential backoff (readiness reports not ready) until the store answers again. Holding the
messages instead of requeueing them keeps a long Redis outage from burning the quorum queue's
delivery limit and dead-lettering good alerts. If this worker dies meanwhile, RabbitMQ redelivers
them to another worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Protocol
from collections.abc import Awaitable, Callable, Sequence

import structlog

from ingest.amqp import AlertMessage, AlertQueue
from ingest.normalise import BodyRejected, LabelGuard, Normalised, Rejection, normalise
from events.dead_letter import INDEX_HEADER, PUBLISH_TIMEOUT, dead_letter
from ingest.topology import FORMAT_HEADER, PUBLISHED_AT_HEADER, Topology


log = structlog.get_logger("stormwatch.ingest")

ABANDONED = object()  # a batch given up without acking (shutdown during an outage, or its channel closed)


class Sink(Protocol):
    """Where valid alerts go; returns once their state is durable. Raises on failure."""

    async def submit(self, deliveries: Sequence[Any]) -> Any: ...


class ConsumerObserver(Protocol):
    """Metrics and logs hooks; the shell implements it."""

    def received(self, source: str, fmt: str, count: int) -> None: ...
    def rejected(self, reason: str, count: int) -> None: ...
    def redelivered(self) -> None: ...
    def batch_done(self, messages: int, alerts: int, report: Any, latencies: Sequence[float]) -> None: ...
    def store_error(self, error: BaseException, attempt: int, delay: float) -> None: ...
    def amqp_error(self, error: BaseException, where: str) -> None: ...
    def crashed(self, error: BaseException) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    batch_size: int = 256
    batch_wait: float = 0.002
    max_body_bytes: int = 1 << 20
    retry_max_seconds: float = 10.0
    # label limits and the fingerprint memo: alerts over the limits are dead-lettered naming the field (ingest.limits)
    label_guard: LabelGuard = field(default_factory=LabelGuard)


def message_identity(message: AlertMessage) -> str:
    """The idempotency id: the publisher's message_id, else a digest of the body."""
    if message.message_id:
        return "id:" + message.message_id[:200]
    return "b:" + hashlib.blake2b(message.body, digest_size=16).hexdigest()


class AlertConsumer:
    def __init__(
        self,
        topology: Topology,
        sink: Sink,
        make_delivery: Callable[[str, list, str], Any],  # (message id, alerts, format)
        observer: ConsumerObserver,
        config: ConsumerConfig,
        clock: Callable[[], float],
        is_retryable: Callable[[BaseException], bool],
    ) -> None:
        self.topology = topology
        self.sink = sink
        self.make_delivery = make_delivery
        self.observer = observer
        self.config = config
        self.clock = clock
        self.is_retryable = is_retryable
        self.ready = asyncio.Event()
        self._buffer: list[tuple[AlertMessage, float]] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._consumer_tag: str | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._abandon_rest = False
        self.idle = asyncio.Event()
        self.idle.set()
        self.progress_at: float | None = None  # when the batch in hand started or last made progress (clock)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="stormwatch-consumer")
        queue = self.topology.alerts_queue
        if isinstance(queue, AlertQueue):  # a robust channel: deliveries come raw from aiormq (ingest/amqp.py)
            self._consumer_tag = await queue.consume_raw(self._on_delivery)
        else:
            self._consumer_tag = await queue.consume(self._on_delivery, no_ack=False)
        self.ready.set()

    async def stop(self) -> None:
        """Stop consuming, finish and ack what is in flight."""
        self._stopping = True
        if self._consumer_tag is not None:
            try:
                await asyncio.wait_for(self.topology.alerts_queue.cancel(self._consumer_tag), timeout=5)
            except Exception as exc:  # noqa: BLE001 - the channel may already be gone
                self.observer.amqp_error(exc, "cancel")
            self._consumer_tag = None
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
            self._loop_task = None

    def stalled_for(self, now: float) -> float:
        """Seconds the batch in hand has gone without progress; 0 when there is none."""
        since = self.progress_at
        return 0.0 if since is None else max(0.0, now - since)

    async def _on_delivery(self, delivery: Any) -> None:
        """aiormq's raw delivery, or aio-pika's IncomingMessage on its recovery path (``AlertMessage.of``)."""
        self._buffer.append((AlertMessage.of(delivery), self.clock()))
        self.idle.clear()
        if len(self._buffer) >= self.config.batch_size or len(self._buffer) == 1:
            self._wake.set()

    async def _run(self) -> None:
        while not self._abandon_rest:
            if not self._buffer:
                self.idle.set()
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._buffer) < self.config.batch_size and self.config.batch_wait > 0 and not self._stopping:
                await asyncio.sleep(self.config.batch_wait)  # let a burst fill the batch
            batch = self._buffer[: self.config.batch_size]
            del self._buffer[: len(batch)]
            self.progress_at = self.clock()
            try:
                await self._process(batch)
            except asyncio.CancelledError as exc:
                # a publish or ack cancelled by aiormq because the connection dropped: the batch stays unacked
                # and RabbitMQ redelivers it; only a cancellation of this task itself stops the loop
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                self.observer.amqp_error(exc, "process")
            except Exception as exc:  # noqa: BLE001 - a bug must not kill the worker
                self.observer.crashed(exc)
                for message, _ in batch:
                    await self._settle(message.reject(requeue=True), "reject")
            finally:
                self.progress_at = None

    # -- one batch -----------------------------------------------------------------------------------

    async def _process(self, batch: list[tuple[AlertMessage, float]]) -> None:
        now = self.clock()
        deliveries = []
        dead_letters: list[Awaitable[Any]] = []
        accepted: list[AlertMessage] = []
        owners: list[AlertMessage] = []  # the message of each delivery
        crashed: list[AlertMessage] = []
        started: list[float] = []
        alerts_total = 0
        received: dict[tuple[str, str], int] = {}  # (source, format) -> alerts, counted once per batch
        rejected: dict[str, int] = {}  # reason -> items
        for message, received_at in batch:
            if message.redelivered:
                self.observer.redelivered()
            headers = message.headers
            fmt = headers.get(FORMAT_HEADER)
            try:
                result = normalise(
                    message.body,
                    now=now,
                    format=fmt.decode() if isinstance(fmt, bytes) else fmt,
                    max_bytes=self.config.max_body_bytes,
                    limits=self.config.label_guard,
                )
            except BodyRejected as exc:
                rejected[exc.rejection.reason] = rejected.get(exc.rejection.reason, 0) + 1
                dead_letters.append(self._dead_letter(message, exc.rejection))
                accepted.append(message)
                continue
            except Exception as exc:  # noqa: BLE001 - a normaliser bug: let the delivery limit decide
                self.observer.crashed(exc)
                crashed.append(message)
                continue
            _count(result, received, rejected)
            for rejection in result.rejections:
                dead_letters.append(self._dead_letter(message, rejection))
            if result.alerts:
                deliveries.append(self.make_delivery(message_identity(message), result.alerts, result.format))
                owners.append(message)
                alerts_total += len(result.alerts)
            accepted.append(message)
            started.append(_published_at(headers, received_at))

        for (source, fmt), n in received.items():
            self.observer.received(source, fmt, n)
        for reason, n in rejected.items():
            self.observer.rejected(reason, n)
        if dead_letters:
            await asyncio.gather(*dead_letters)
        try:
            report = await self._submit_until_stored(batch, deliveries) if deliveries else None
        except Exception as exc:  # noqa: BLE001 - a message that crashes correlation must not take its batch down
            self.observer.crashed(exc)
            report = await self._isolate(batch, deliveries, owners, accepted, crashed)
            alerts_total = sum(len(d.alerts) for d, m in zip(deliveries, owners, strict=True) if m not in crashed)
        if report is ABANDONED:
            # stopping while the store is away, or our channel is gone: leave the messages unacked, and when
            # stopping everything after them too (a later multiple-ack would cover them); RabbitMQ redelivers
            # them when this connection closes, and idempotency makes that safe
            if self._stopping:
                self._abandon_rest = True
            return
        done = self.clock()
        # requeue the crashed first: the multiple-ack below covers every earlier delivery on its channel
        for message in crashed:
            await self._settle(message.reject(requeue=True), "reject")
        await self._ack_all(accepted)
        self.observer.batch_done(len(batch), alerts_total, report, [done - t for t in started])

    async def _isolate(self, batch: list[tuple[AlertMessage, float]], deliveries: list[Any],
                       owners: list[AlertMessage], accepted: list[AlertMessage],
                       crashed: list[AlertMessage]) -> Any:
        """The batch crashed the sink: submit each message alone; only those that crash alone are requeued.

        Without this, every message of a batch holding a poison message would be requeued with it on every
        delivery and reach the delivery limit too: good alerts dead-lettered beside the poison. Returns the
        sub-batches' reports (a tuple), or ABANDONED.
        """
        reports = []
        for delivery, owner in zip(deliveries, owners, strict=True):
            if len(deliveries) > 1:
                try:
                    report = await self._submit_until_stored(batch, [delivery])
                except Exception as exc:  # noqa: BLE001 - this one is (one of) the poison
                    self.observer.crashed(exc)
                else:
                    if report is ABANDONED:
                        return ABANDONED
                    reports.append(report)
                    continue
            crashed.append(owner)
            accepted.remove(owner)
        return tuple(reports)

    async def _submit_until_stored(self, batch: list[tuple[AlertMessage, float]], deliveries: list[Any]) -> Any:
        attempt = 0
        while True:
            self.progress_at = self.clock()  # each submit (a retry, or one message of an isolated batch) is progress
            try:
                report = await self.sink.submit(deliveries)
                self.ready.set()
                return report
            except Exception as exc:
                if not self.is_retryable(exc):
                    raise
                if self._stopping or batch[-1][0].channel_closed:
                    self.observer.store_error(exc, attempt + 1, 0.0)
                    return ABANDONED
                attempt += 1
                self.ready.clear()
                delay = min(self.config.retry_max_seconds, 0.05 * 2 ** min(attempt, 16)) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter
                self.observer.store_error(exc, attempt, delay)
                await asyncio.sleep(delay)  # waiting out a store outage is progress: readiness reports it

    async def _dead_letter(self, message: AlertMessage, rejection: Rejection) -> None:
        log.info(
            "dead_lettered",
            message_id=message.message_id,
            routing_key=message.routing_key,
            reason=rejection.reason,
            detail=rejection.detail[:300],
            item=rejection.index,
        )
        await self.topology.dead.publish(
            dead_letter(rejection.item, reason=rejection.reason, detail=rejection.detail,
                        routing_key=message.routing_key or "", message_id=message.message_id,
                        headers={INDEX_HEADER: rejection.index} if rejection.index is not None else None),
            routing_key=message.routing_key or "",
            timeout=PUBLISH_TIMEOUT,
        )

    async def _ack_all(self, messages: list[AlertMessage]) -> None:
        """Ack a batch with one ``multiple`` ack per channel.

        Deliveries on a channel arrive in delivery-tag order and a batch is a prefix of the buffer, so every
        unsettled delivery up to the batch's last tag on that channel belongs to this batch. A batch that spans
        a reconnect holds messages of two channels: each channel gets its own ack (the old one's fails and
        RabbitMQ redelivers those; idempotency makes that harmless).
        """
        last_by_channel: dict[int, AlertMessage] = {}
        for message in messages:
            last_by_channel[id(message.channel)] = message
        for message in last_by_channel.values():  # a closed channel's ack fails in _settle: RabbitMQ redelivers
            await self._settle(message.ack(multiple=True), "ack")

    async def _settle(self, outcome: Awaitable[Any], what: str) -> None:
        try:
            await outcome
        except Exception as exc:  # noqa: BLE001 - channel closed: RabbitMQ redelivers, idempotency holds
            self.observer.amqp_error(exc, what)
        except asyncio.CancelledError as exc:
            # aiormq cancels a pending ack when its channel closes under it; that is a failed ack, not a request
            # to cancel this task (which we honour)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            self.observer.amqp_error(exc, what)


def _count(result: Normalised, received: dict[tuple[str, str], int], rejected: dict[str, int]) -> None:
    fmt = result.format
    for alert in result.alerts:
        key = (alert.source, fmt)
        received[key] = received.get(key, 0) + 1
    for r in result.rejections:
        rejected[r.reason] = rejected.get(r.reason, 0) + 1


def _published_at(headers: dict[str, Any], fallback: float) -> float:
    """The publisher's timestamp (integer microseconds since the epoch), else the receipt time."""
    value = headers.get(PUBLISHED_AT_HEADER)
    if isinstance(value, int) and not isinstance(value, bool):
        return value / 1_000_000
    return fallback
