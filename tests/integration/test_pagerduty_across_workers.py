"""A PagerDuty event's acknowledge and resolve find its trigger's incident whichever worker takes them.

The fingerprint of a PagerDuty event is its ``dedup_key``; a resolve or acknowledge carries other labels than the
trigger (PagerDuty ignores their payload), so the trigger's group is remembered in Redis under the key, by the
worker that took the trigger. Events that came in through an integration key carry the integration's source, not
``pagerduty``: they are keyed by their format the same way (before, they found their group only in the memory of
the worker that took the trigger). Two workers on one namespace, real Redis; the bodies are what the HTTP receiver
publishes (``with_integration``), normalised by the consumer's own normaliser."""

from __future__ import annotations

import time

import orjson
import pytest

from correlation.store.pipeline import Delivery
from ingest.integrations import Integration
from ingest.normalise import normalise
from ingest.receivers import with_integration
from stormwatch.app import Worker

PAYMENTS = Integration(source="payments-app", team="payments", service="checkout")


def delivered(message_id: str, event: dict, integration: Integration | None) -> Delivery:
    raw = orjson.dumps(event)
    if integration is not None:
        raw = with_integration(raw, integration)
    result = normalise(raw, now=time.time(), format="pagerduty")
    assert result.alerts and not result.rejections, result.rejections
    return Delivery(message_id, result.alerts, result.format)


def event(action: str, **extra: object) -> dict:
    return {"routing_key": "R0UT1NG-payments-0123456789abcdef", "event_action": action,
            "dedup_key": "payments/cards", **extra}


TRIGGER = event("trigger", payload={"summary": "Card payments failing", "source": "pay-1", "severity": "critical"})


@pytest.mark.parametrize("integration", [PAYMENTS, None], ids=["through-an-integration", "plain-pagerduty"])
async def test_the_acknowledge_and_resolve_taken_by_another_worker_find_the_triggers_incident(clean, integration):
    settings = clean.model_copy(update={"consume": False})  # each worker is handed its message: no race to set up
    first, second = Worker(settings), Worker(settings)
    await first.start()
    await second.start()
    try:
        assert first.pipeline is not None and second.pipeline is not None and first.store is not None
        await first.pipeline.submit([delivered("trigger", TRIGGER, integration)])
        (incident,) = await first.store.list_incidents()
        assert incident.status == "open"

        await second.pipeline.submit([delivered("ack", event("acknowledge"), integration)])
        await second.pipeline.submit([delivered("resolve", event("resolve"), integration)])

        assert [i.id for i in await first.store.list_incidents()] == [incident.id]  # no incident of their own
        resolved = await first.store.incident(incident.id)
        assert resolved.status == "resolved"
        (alert,) = await first.store.incident_alerts(incident.id)
        assert alert.status == "resolved"
        assert alert.source == (integration.source if integration else "pagerduty")
    finally:
        await first.stop()
        await second.stop()
