"""Only events that can start an action reach the action runner's queue; subscribers of <ns>.events see them all.

The worker marks an event for the runner (a BCC header, removed by RabbitMQ before delivery) when its rule starts
an action on that kind of event, so a storm's ``incident.updated`` events never queue ahead of a trigger."""

from __future__ import annotations

import aio_pika
import orjson

from actions.topology import ActionNames, declare_actions
from stormwatch.app import Worker
from stormwatch.namespace import Names
from tests.conftest import eventually
from tests.integration.actions_support import action_settings, alert
from tests.integration.helpers import body, drain_queue, publish, stored_alerts

RULES = """
actions:
  - name: fix
    type: command
    config: {argv: ["/bin/true"]}
groups:
  - name: acted
    match: ['alertname="Acted"']
    group_by: [service]
    actions: [{action: fix, on: [created]}]
  - name: quiet
    match: ['alertname="Quiet"']
    group_by: [service]
"""


async def test_the_runner_s_queue_gets_only_events_whose_rule_starts_an_action(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    # the alert worker only: nothing consumes the runner's queue, so what was routed to it stays there to count
    worker = Worker(action_settings(clean, tmp_path, actions_enabled=False))
    await worker.start()
    connection = await aio_pika.connect(clean.amqp_url)
    try:
        channel = await connection.channel()
        await declare_actions(channel, ActionNames(clean.namespace), delivery_limit=5)
        tap = await channel.declare_queue(exclusive=True)
        await tap.bind(Names(clean.namespace).events_exchange, routing_key="#")

        alerts = [alert("Acted", service="a", instance="1"), alert("Acted", service="a", instance="2"),
                  alert("Quiet", service="q", instance="1"), alert("Quiet", service="q", instance="2")]
        for n, a in enumerate(alerts, start=1):  # one at a time: the second of each group is an update
            await publish(clean, [body([a])])
            await eventually(lambda n=n: stored_alerts(worker) >= n, what=f"alert {n} stored")

        seen: list[tuple[str, str]] = []

        async def subscriber_saw_all() -> bool:
            while (message := await tap.get(no_ack=True, fail=False)) is not None:
                assert "BCC" not in (message.headers or {})  # the broker strips it
                event = orjson.loads(message.body)
                seen.append((event["type"], event["incident"]["rule"]))
            return len(seen) >= 4

        await eventually(subscriber_saw_all, what="the four events")
        assert sorted(seen) == [("incident.created", "acted"), ("incident.created", "quiet"),
                                ("incident.updated", "acted"), ("incident.updated", "quiet")]
        routed = await drain_queue(clean, ActionNames(clean.namespace).queue)
        assert [(orjson.loads(m.body)["type"], orjson.loads(m.body)["incident"]["rule"]) for m in routed] == [
            ("incident.created", "acted")]
    finally:
        await connection.close()
        await worker.stop()
