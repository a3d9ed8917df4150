"""A small runbook executor: consumes ``<ns>.runbooks``, runs the named runbook, replies on the request's
``reply_to`` with its ``correlation_id`` (docs/actions.md has the contract). Built-in runbooks:

    echo    succeeds; its output is the request's params as JSON
    fail    fails (not retryable); output is params.message or "failed on purpose"
    flaky   fails retryably on attempt 1, then succeeds

Real executors (Ansible, Rundeck, a Kubernetes job) implement the same contract.
"""

from __future__ import annotations

import asyncio
from typing import Any
from collections.abc import Callable

import aio_pika
import orjson
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from actions.runbook_executor import REPLY_TYPE
from actions.topology import ActionNames, declare_runbook_queue

log = structlog.get_logger("stormwatch.runbooks")

Runbook = Callable[[dict[str, Any]], tuple[str, str, bool]]  # request -> (status, output, retryable)


def _echo(request: dict[str, Any]) -> tuple[str, str, bool]:
    return "succeeded", orjson.dumps(request.get("params", {})).decode(), False


def _fail(request: dict[str, Any]) -> tuple[str, str, bool]:
    return "failed", str(request.get("params", {}).get("message", "failed on purpose")), False


def _flaky(request: dict[str, Any]) -> tuple[str, str, bool]:
    if request.get("attempt", 1) == 1:
        return "failed", "first attempt fails (retryable)", True
    return "succeeded", "worked on a later attempt", False


BUILT_IN: dict[str, Runbook] = {"echo": _echo, "fail": _fail, "flaky": _flaky}


class ExampleExecutor:
    def __init__(self, channel: AbstractChannel, names: ActionNames, runbooks: dict[str, Runbook] | None = None
                 ) -> None:
        self.channel = channel
        self.names = names
        self.runbooks = BUILT_IN if runbooks is None else runbooks
        self.handled = 0
        self._tag: str | None = None
        self._queue: Any = None

    async def start(self) -> None:
        self._queue = await declare_runbook_queue(self.channel, self.names)
        self._tag = await self._queue.consume(self._on_request)

    async def stop(self) -> None:
        if self._tag is not None:
            await self._queue.cancel(self._tag)

    async def _on_request(self, message: AbstractIncomingMessage) -> None:
        try:
            request = orjson.loads(message.body)
            runbook = self.runbooks.get(str(request.get("runbook")))
            if runbook is None:
                status, output, retryable = "failed", f"unknown runbook {request.get('runbook')!r}", False
            else:
                status, output, retryable = runbook(request)
        except (orjson.JSONDecodeError, AttributeError) as exc:
            status, output, retryable = "failed", f"bad request: {exc}", False
        reply = {"correlation_id": message.correlation_id, "status": status, "output": output,
                 "retryable": retryable}
        if message.reply_to:
            await self.channel.default_exchange.publish(
                aio_pika.Message(orjson.dumps(reply), correlation_id=message.correlation_id, type=REPLY_TYPE,
                                 content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=message.reply_to, timeout=30)
        await message.ack()
        self.handled += 1
        log.info("runbook_done", correlation_id=message.correlation_id, status=status)


async def run_executor(amqp_url: str, namespace: str, stop: asyncio.Event) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        executor = ExampleExecutor(channel, ActionNames(namespace))
        await executor.start()
        log.info("runbook_executor_started", queue=ActionNames(namespace).runbooks)
        await stop.wait()
        await executor.stop()
    finally:
        await connection.close()
