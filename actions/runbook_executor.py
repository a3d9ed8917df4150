"""Runbook actions: a request on ``<ns>.runbooks`` (publisher confirms, a correlation id), completed by the
executor's reply on ``<ns>.runbooks.results``. Any worker may receive a reply: it is stored in Redis under its
correlation id, where the run waiting for it finds it. The message contract is in docs/actions.md.
"""

from __future__ import annotations

import asyncio
from typing import Any
from collections.abc import Awaitable, Callable, Mapping

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from rules.action_schema import RunbookConfig
from rules.schema import Action

from actions.executor import Attempt, Prepared, truncate
from actions.model import Outcome
from actions.state import ActionState
from actions.templates import Renderer, Secrets

PUBLISH_TIMEOUT = 30.0
REQUEST_TYPE = "stormwatch.runbook.request"
REPLY_TYPE = "stormwatch.runbook.result"


class RunbookExecutor:
    def __init__(self, channel: AbstractChannel, queue: str, results: str, state: ActionState,
                 clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 poll: float = 0.02) -> None:
        self.channel = channel
        self.queue = queue
        self.results = results
        self.state = state
        self.clock = clock
        self.sleep = sleep
        self.poll = poll

    def prepare(self, action: Action, ctx: Mapping[str, Any], renderer: Renderer, secrets: Secrets) -> Prepared:
        config = action.config
        assert isinstance(config, RunbookConfig)
        params = {name: renderer.render(t, ctx) for name, t in config.params.items()}
        incident = ctx["incident"]
        real = {"runbook": config.runbook, "params": params,
                "incident": {k: incident.get(k) for k in ("id", "title", "priority", "team", "status", "rule")}}
        problem = ctx.get("problem")
        if problem:  # a problem rule's run: the problem too (the incident is the one that opened it)
            real["problem"] = {k: problem.get(k) for k in ("id", "title", "team", "status", "rule")}
        return Prepared(real, dict(real), config.timeout)

    async def run(self, prepared: Prepared, attempt: Attempt) -> Outcome:
        correlation_id = f"{attempt.run_id}:{attempt.attempt}"
        request = prepared.real | {"run_id": attempt.run_id, "correlation_id": correlation_id,
                                   "attempt": attempt.attempt, "deadline": self.clock() + prepared.timeout}
        try:
            await self.channel.default_exchange.publish(
                aio_pika.Message(orjson.dumps(request), correlation_id=correlation_id, message_id=correlation_id,
                                 reply_to=self.results, type=REQUEST_TYPE, content_type="application/json",
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=self.queue, timeout=PUBLISH_TIMEOUT,
            )
        except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError) as exc:
            return Outcome(False, f"runbook request not confirmed: {exc!r}", retryable=True)
        reply = await self._wait(correlation_id, prepared.timeout)
        if reply is None:
            return Outcome(False, f"no reply from a runbook executor within {prepared.timeout}s", retryable=False)
        try:
            doc = orjson.loads(reply)
            ok = doc.get("status") == "succeeded"
            output = {"status": doc.get("status"), "output": truncate(str(doc.get("output", "")), 4000)}
            return Outcome(ok, f"runbook {doc.get('status')}", retryable=bool(doc.get("retryable")) and not ok,
                           output=output)
        except (orjson.JSONDecodeError, AttributeError):
            return Outcome(False, "runbook reply is not a JSON object")

    async def _wait(self, correlation_id: str, timeout: float) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            reply = await self.state.take_result(correlation_id)
            if reply is not None:
                return reply
            await self.sleep(self.poll)
        return None


async def store_reply(state: ActionState, message: AbstractIncomingMessage) -> None:
    """Results-queue handler: remember the reply under its correlation id (then the message is acked)."""
    correlation_id = message.correlation_id
    if not correlation_id:
        try:
            correlation_id = orjson.loads(message.body).get("correlation_id")
        except (orjson.JSONDecodeError, AttributeError):
            correlation_id = None
    if correlation_id:
        await state.put_result(str(correlation_id)[:300], message.body)
