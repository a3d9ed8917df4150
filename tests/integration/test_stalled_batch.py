"""A batch that stops making progress fails /healthz, so the process is restarted; nothing of it is acked.

The stall is made by holding the real pipeline's ``submit`` behind a gate the test opens at the end (what a hung
dependency looks like from the consumer); time moves on an injected clock.
"""

from __future__ import annotations

import asyncio
from typing import Any
from collections.abc import Sequence

import httpx
from structlog.testing import capture_logs

from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import body, publish, v2_alert


class Gate:
    """The worker's own sink, entered but not run until ``open`` is set."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.entered = asyncio.Event()
        self.open = asyncio.Event()

    async def submit(self, deliveries: Sequence[Any]) -> Any:
        self.entered.set()
        await self.open.wait()
        return await self.sink.submit(deliveries)


async def test_a_stalled_batch_fails_healthz_and_is_logged_then_recovers(clean):
    clock = ManualClock()
    worker = Worker(clean.model_copy(update={"stalled_batch_seconds": 60}), clock=clock)
    await worker.start()
    gate = Gate(worker.consumer.sink)
    worker.consumer.sink = gate
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{worker.ops.bound_port}", timeout=10)
    try:
        await publish(clean, [body([v2_alert("Stuck", "svc", "pod-1")])], message_ids=["stuck-1"])
        await asyncio.wait_for(gate.entered.wait(), timeout=20)

        assert (await client.get("/healthz")).status_code == 200  # in hand, but not for long yet
        clock.now += 61
        with capture_logs() as logs:
            answer = await client.get("/healthz")
            again = await client.get("/healthz")
        assert answer.status_code == 503 and answer.text == "consumer: stalled\n"
        assert again.status_code == 503
        stalled = [e for e in logs if e["event"] == "batch_stalled"]
        assert len(stalled) == 1, "logged once per stall, not once per probe"
        tasks = stalled[0]["tasks"]  # where each task waits: the consumer, in the gate
        assert stalled[0]["seconds"] >= 61
        consumer = next(line for line in tasks.splitlines() if line.startswith("stormwatch-consumer:"))
        assert "AlertConsumer._submit_until_stored" in consumer and "Gate.submit" in consumer
        assert worker.metrics.registry.get_sample_value("stormwatch_batch_stalled_seconds") >= 61
        assert await worker.store.list_incidents() == []  # nothing written, so nothing acked

        gate.open.set()  # the dependency answers: the batch completes, is acked, and the process is live again
        await eventually(worker.store.list_incidents, what="the held batch to be stored")
        await eventually(lambda: worker.consumer.idle.is_set(), what="the batch to be acked")
        assert (await client.get("/healthz")).status_code == 200
        assert worker.metrics.registry.get_sample_value("stormwatch_batch_stalled_seconds") == 0
    finally:
        gate.open.set()
        await client.aclose()
        await worker.stop()
