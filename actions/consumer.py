"""The action runner's AMQP side: incident and problem events off ``<ns>.actions``, runbook replies off the
results queue.

Each event is handled in its own task (up to the prefetch at once) and acked after every run it started has
settled (succeeded, failed, skipped, waiting for approval, or retrying: its next attempt is a due timer). A
malformed event is published to ``<ns>.actions.dead`` with ``x-stormwatch-reason`` and ``x-stormwatch-detail``
(broker-confirmed), then acked; an unexpected error requeues it, and past the queue's delivery limit RabbitMQ
dead-letters it (``x-death``).
Redelivery is safe: a settled run is never run again (``actions/state.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any
from collections.abc import Callable

import structlog
from aio_pika.abc import AbstractIncomingMessage

from actions.model import MalformedEvent
from actions.runbook_executor import store_reply
from actions.runner import ActionRunner
from actions.state import ActionState
from actions.topology import ActionTopology
from events.dead_letter import forward

log = structlog.get_logger("stormwatch.actions")



class ActionConsumer:
    def __init__(self, topology: ActionTopology, runner: ActionRunner, state: ActionState,
                 on_error: Callable[[BaseException], None] | None = None, drain_seconds: float = 30.0) -> None:
        self.topology = topology
        self.drain_seconds = drain_seconds
        self.runner = runner
        self.state = state
        self.on_error = on_error
        self.tasks: set[asyncio.Task[None]] = set()
        self.handled = 0
        self._tags: list[tuple[Any, str]] = []

    async def start(self) -> None:
        self._tags.append((self.topology.queue, await self.topology.queue.consume(self._on_event)))
        self._tags.append((self.topology.results, await self.topology.results.consume(self._on_result)))

    async def stop(self) -> None:
        """Stop consuming, then let the events in flight finish for up to ``drain_seconds``."""
        for queue, tag in self._tags:
            try:
                await asyncio.wait_for(queue.cancel(tag), timeout=5)
            except Exception as exc:  # noqa: BLE001 - the channel may already be gone
                log.warning("actions_cancel_failed", error=repr(exc))
        self._tags.clear()
        if self.tasks:
            _, late = await asyncio.wait(set(self.tasks), timeout=self.drain_seconds)
            for task in late:  # unacked: RabbitMQ redelivers them, and their claims lapse for another worker
                task.cancel()
            if late:
                log.warning("actions_abandoned_on_stop", runs=len(late))
                await asyncio.gather(*late, return_exceptions=True)

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.create_task(self._handle(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            await self.runner.handle(message.body)
        except MalformedEvent as exc:
            await self._dead_letter(message, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a bug or an outage must not kill the consumer
            log.error("action_event_failed", message_id=message.message_id, error=repr(exc))
            if self.on_error is not None:
                self.on_error(exc)
            await _settle(message.reject(requeue=True))
            return
        self.handled += 1
        await _settle(message.ack())

    async def _dead_letter(self, message: AbstractIncomingMessage, exc: MalformedEvent) -> None:
        log.info("action_event_dead_lettered", message_id=message.message_id, reason=exc.reason,
                 detail=exc.detail[:300])
        if not await forward(self.topology.dead, message, reason=exc.reason, detail=exc.detail,
                             failed_event="action_dead_letter_failed"):
            await _settle(message.reject(requeue=True))
            return
        await _settle(message.ack())

    async def _on_result(self, message: AbstractIncomingMessage) -> None:
        try:
            await store_reply(self.state, message)
        except Exception as exc:  # noqa: BLE001 - Redis away: requeue the reply
            log.warning("runbook_result_not_stored", error=repr(exc))
            await _settle(message.reject(requeue=True))
            return
        await _settle(message.ack())


async def _settle(outcome: Any) -> None:
    try:
        await outcome
    except Exception as exc:  # noqa: BLE001 - channel closed: RabbitMQ redelivers, runs are idempotent
        log.warning("action_settle_failed", error=repr(exc))
