"""Real events from a real worker (RabbitMQ, Redis, HTTP) against the event contract: every event captured on
``<ns>.events`` validates against the checked-in JSON Schema (docs/events.schema.json) and the strict models, is
published under its type as routing key, with its ``event_id`` as the AMQP message id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aio_pika
import jsonschema
import orjson
import pytest

from events.amqp import AmqpEventPublisher
from events.builders import incident_event
from events.models import event_adapter
from events.names import BrokerNames
from events.types import EVENT_TYPES
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.actions_support import Hook, action_settings, alert, settled
from tests.integration.api_helpers import ADMIN, INGEST, RESPOND, start_api
from tests.integration.helpers import body, publish
from tests.integration.test_actions_lifecycle import hook_rules
from tests.integration.test_flapping_problems import PROBLEM_RULES
from tests.integration.test_http_problems import a_problem, other_incident

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "events.schema.json").read_text())


class Capture:
    """An exclusive queue bound to ``<ns>.events`` with ``#``: every event, as a subscriber receives it."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.connection: aio_pika.abc.AbstractConnection | None = None
        self.queue: aio_pika.abc.AbstractQueue | None = None
        self.messages: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def start(self) -> Capture:
        self.connection = await aio_pika.connect(self.settings.amqp_url)
        channel = await self.connection.channel()
        exchange = await channel.declare_exchange(BrokerNames(self.settings.namespace).events_exchange,
                                                  aio_pika.ExchangeType.TOPIC, durable=True)
        self.queue = await channel.declare_queue(exclusive=True)
        await self.queue.bind(exchange, routing_key="#")
        return self

    async def types(self) -> set[str]:
        assert self.queue is not None
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            self.messages.append(message)
        return {m.routing_key for m in self.messages}

    async def has(self, *wanted: str) -> bool:
        return set(wanted) <= await self.types()

    def check(self) -> list[dict[str, Any]]:
        """Every captured event against the contract; returns them."""
        validator = jsonschema.Draft202012Validator(SCHEMA)
        adapter = event_adapter()
        events = []
        for message in self.messages:
            event = orjson.loads(message.body)
            errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(event)]
            assert not errors, (event["type"], errors)
            adapter.validate_json(message.body)  # strict: a field outside the contract fails here
            assert event["type"] in EVENT_TYPES and message.routing_key == event["type"] == message.type
            assert message.message_id == event["event_id"] and message.content_type == "application/json"
            assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            assert "BCC" not in (message.headers or {})  # the broker removes it before delivery
            events.append(event)
        return events

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


@pytest.fixture
async def hook():
    h = await Hook().start()
    yield h
    await h.stop()


async def test_people_s_changes_and_the_engine_s_events_match_the_schema(clean, tmp_path, hook):
    (tmp_path / "rules.yaml").write_text(hook_rules(hook, "    approval: required"))
    capture = await Capture(clean).start()
    try:
        async for api in start_api(action_settings(clean, tmp_path), actions_enabled=True):
            sent = await api.post("/api/v1/alerts", [alert("DownA", service="a"), alert("DownB", service="b")],
                                  token=INGEST)
            assert sent.status_code == 200, sent.text
            a, b = sorted(await settled(api.worker, 2), key=lambda r: orjson.loads(r["inputs"])["url"])
            assert (await api.post(f"/api/v1/actions/{a['run_id']}/approve", None, token=RESPOND)).status_code == 200
            assert (await api.post(f"/api/v1/actions/{b['run_id']}/reject", None, token=ADMIN)).status_code == 200
            iid = a["incident"]
            for command, payload in (("acknowledge", {"comment": "looking"}), ("assign", {"assignee": "ana"}),
                                     ("comment", {"text": "disk at 99%"}), ("priority", {"priority": "P1"}),
                                     ("resolve", None), ("reopen", None)):
                answer = await api.post(f"/api/v1/incidents/{iid}/{command}", payload, token=RESPOND)
                assert answer.status_code == 200 and answer.json()["event_published"], (command, answer.text)
            made = await api.post("/api/v1/silences", {"matchers": ['service="b"'], "comment": "patching",
                                                       "duration": "1h"}, token=RESPOND)
            assert made.status_code == 201, made.text
            assert (await api.delete(f"/api/v1/silences/{made.json()['id']}")).status_code == 200
            assert (await api.post("/api/v1/rules/reload", None, token=ADMIN)).status_code == 200
            resolved = await api.post("/api/v1/alerts", [alert("DownB", service="b", resolved=True)], token=INGEST)
            assert resolved.status_code == 200
            wanted = ("incident.created", "incident.acknowledged", "incident.assigned", "incident.commented",
                      "incident.priority_changed", "incident.resolved", "incident.reopened", "action.approved",
                      "action.rejected", "silence.created", "silence.expired", "rules.reloaded")
            await eventually(lambda wanted=wanted: capture.has(*wanted), what="every kind of event published")
        events = capture.check()
        assert {e["by"] for e in events if e["type"].startswith(("action.", "silence.", "rules."))} == {"sre", "ops"}
        assert all(e["schema_version"] == 1 for e in events)
    finally:
        await capture.close()


async def test_problem_events_match_the_schema(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(PROBLEM_RULES)
    capture = await Capture(clean).start()
    try:
        async for api in start_api(clean, rules=str(tmp_path)):
            pid = await a_problem(api)
            iid = await other_incident(api)
            for path, payload in (("link", {"incident": iid}), ("unlink", {"incident": iid}), ("known-error", None),
                                  ("resolve", None)):
                assert (await api.post(f"/api/v1/problems/{pid}/{path}", payload, token=RESPOND)).json()["changed"]
            await eventually(lambda: capture.has("problem.created", "problem.updated", "problem.known_error",
                                                 "problem.resolved"), what="the problem events")
        assert {e["type"] for e in capture.check()} >= {"problem.created", "incident.created"}
    finally:
        await capture.close()


async def test_escalation_events_match_the_schema(clean, tmp_path, hook):
    (tmp_path / "rules.yaml").write_text(hook_rules(hook, "    verify: {within: 5m}"))
    clock = ManualClock()
    capture = await Capture(clean).start()
    w = Worker(action_settings(clean, tmp_path), clock=clock)
    await w.start()
    try:
        await publish(clean, [body([alert("DownB", service="stuck")])])
        await settled(w, 1)
        clock.now += 301
        await eventually(lambda: capture.has("incident.escalated"), what="the incident escalated")
        (escalated,) = [e for e in capture.check() if e["type"] == "incident.escalated"]
        assert escalated["incident"]["priority"] == "P2"
    finally:
        await w.stop()
        await capture.close()


async def test_an_event_stored_before_the_contract_is_published_with_its_version(clean):
    """Follow-ups written by the previous version (no schema_version) and replayed on redelivery go out versioned."""
    capture = await Capture(clean).start()
    connection = await aio_pika.connect(clean.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(BrokerNames(clean.namespace).events_exchange,
                                                  aio_pika.ExchangeType.TOPIC, durable=True)
        doc = {"id": "INC-0a-1", "title": "t", "status": "open", "severity": "critical", "group_key": "k",
               "group_labels": {}, "created_at": 1.0, "updated_at": 1.0, "resolved_at": None, "alerts": 1,
               "firing": 1, "occurrences": 1, "rule": "default", "team": "", "priority": "", "why": {},
               "resolve_at": None, "flapping": 0, "symptoms": 0}
        old = {k: v for k, v in incident_event("m:g:0", "incident.created", "opened", 1.0, doc).items()
               if k != "schema_version"}
        await AmqpEventPublisher(exchange).publish_events([old])
        await eventually(lambda: capture.has("incident.created"), what="the replayed event")
        (event,) = capture.check()
        assert event == old | {"schema_version": 1}
    finally:
        await connection.close()
        await capture.close()
