"""The broker closes the worker's connection while it publishes incident events: an AMQP error and a reconnect,
not a processing crash (``stormwatch_processing_crashes_total`` is for poison messages; operators alert on it).
Nothing is lost: the batch's deliveries stay unacked, RabbitMQ redelivers them, idempotency applies them once."""

from __future__ import annotations

import os
from typing import Any
from collections.abc import Sequence

import structlog

from stormwatch.app import Worker
from tests.conftest import eventually
from tests.faults.conftest import require_tools
from tests.faults.servers import close_connection, worker_connections
from tests.integration.api_helpers import EventTap
from tests.integration.helpers import alerts_queue_state, body, metric, publish, v2_alert


class ClosedUnderThePublish:
    """The worker's own event publisher, with its connection closed by the broker (``rabbitmqctl close_connection``)
    just before the first publish goes out: the real publish then meets the real closed channel."""

    def __init__(self, inner: Any, namespace: str) -> None:
        self.inner = inner
        self.namespace = namespace
        self.closed: list[str] = []

    async def publish_events(self, events: Sequence[dict[str, Any]]) -> None:
        if not self.closed:
            (connection,) = await worker_connections(self.namespace, os.getpid())
            await close_connection(connection)
            self.closed.append(connection)
        await self.inner.publish_events(events)


async def test_a_connection_closed_during_the_event_publish_is_an_amqp_error_not_a_crash(clean):
    require_tools()
    worker = Worker(clean)
    tap = await EventTap(clean).start()
    await worker.start()
    try:
        assert worker.pipeline is not None
        closing = ClosedUnderThePublish(worker.pipeline.publisher, clean.namespace)
        worker.pipeline.publisher = closing
        with structlog.testing.capture_logs() as logs:
            await publish(clean, [body([v2_alert("BrokerGone", "orders", "pod-1")])])

            async def opened() -> bool:
                return "incident.created" in await tap.types()

            await eventually(opened, timeout=60, what="the incident event, published after the reconnect")
            await eventually(lambda: metric(worker, "stormwatch_amqp_reconnects_total") >= 1, what="a reconnect")
        assert closing.closed, "the connection was closed under the publish"
        assert metric(worker, "stormwatch_amqp_errors_total", {"operation": "publish"}) >= 1
        assert metric(worker, "stormwatch_processing_crashes_total") == 0
        assert metric(worker, "stormwatch_redis_errors_total") == 0  # not the store's fault either
        assert metric(worker, "stormwatch_redeliveries_total") >= 1  # the batch came back: nothing lost
        events = [entry["event"] for entry in logs]
        assert "processing_crashed" not in events
        assert any(e["event"] == "amqp_error" and e.get("operation") == "publish" for e in logs), events
        assert "amqp_reconnected" in events
        (incident,) = await worker.store.list_incidents()
        assert (incident.title, incident.alerts) == ("BrokerGone / orders", 1)
        assert [t for t in await tap.types() if t == "incident.created"] == ["incident.created"]
        await eventually(lambda: _settled(clean), what="the alerts queue empty: every delivery acked")
    finally:
        await tap.close()
        await worker.stop()


async def _settled(settings: Any) -> bool:
    ready, _ = await alerts_queue_state(settings)
    return ready == 0
