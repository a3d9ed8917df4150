"""End to end through the real RabbitMQ and Redis: a storm becomes a handful of incidents."""

from __future__ import annotations

import aio_pika
import orjson

from ingest.topology import Names
from tests.conftest import eventually
from tests.integration.helpers import body, publish, stored_alerts, v2_alert


async def test_storm_becomes_one_incident_per_group(worker):
    settings = worker.settings
    events_conn = await aio_pika.connect(settings.amqp_url)
    channel = await events_conn.channel()
    events_queue = await channel.declare_queue(exclusive=True)
    await events_queue.bind(Names(settings.namespace).events_exchange, routing_key="incident.#")

    db = [v2_alert("PostgresDown", "orders-db", "db-1")]
    api = [v2_alert("HighErrorRate", "orders-api", f"pod-{i}", severity="warning") for i in range(10)]
    api[3]["labels"]["severity"] = "critical"
    bodies = [body(db + api) for _ in range(3)]  # Prometheus re-sends the same alerts
    await publish(settings, bodies)
    await eventually(lambda: stored_alerts(worker) >= 33, what="33 alerts stored")

    incidents = await worker.store.list_incidents()
    by_title = {i.title: i for i in incidents}
    assert set(by_title) == {"PostgresDown / orders-db", "HighErrorRate / orders-api"}
    api_incident = by_title["HighErrorRate / orders-api"]
    assert (api_incident.alerts, api_incident.firing, api_incident.occurrences) == (10, 10, 30)
    assert api_incident.severity == "critical" and api_incident.status == "open"
    members = await worker.store.incident_alerts(api_incident.id)
    assert sorted(a.labels["instance"] for a in members) == sorted(f"pod-{i}" for i in range(10))
    assert all(a.count == 3 for a in members)
    assert await worker.store.count_incidents(open_only=True) == 2

    resolved = [v2_alert("HighErrorRate", "orders-api", f"pod-{i}", severity="warning", resolved=True)
                for i in range(10)]
    resolved[3]["labels"]["severity"] = "critical"
    await publish(settings, [body(resolved)])
    await eventually(lambda: stored_alerts(worker) >= 43, what="resolutions stored")
    api_incident = await worker.store.incident(api_incident.id)
    assert api_incident.status == "resolved" and api_incident.firing == 0
    assert await worker.store.count_incidents(open_only=True) == 1
    timeline = await worker.store.timeline(api_incident.id)
    assert timeline[0]["kind"] == "created" and timeline[-1]["kind"] == "resolved"

    # a new firing alert for a resolved group opens a new incident
    refire = v2_alert("HighErrorRate", "orders-api", "pod-0", severity="warning", starts_at="2026-11-21T11:00:00Z")
    await publish(settings, [body([refire])])
    await eventually(lambda: stored_alerts(worker) >= 44, what="re-fire stored")
    again = [i for i in await worker.store.list_incidents() if i.title == "HighErrorRate / orders-api"]
    assert len(again) == 2 and {i.status for i in again} == {"open", "resolved"}

    kinds = []

    async def collect():
        while (m := await events_queue.get(no_ack=True, fail=False)) is not None:
            kinds.append((orjson.loads(m.body)["type"], m.routing_key))
        return kinds.count(("incident.created", "incident.created")) >= 3 and ("incident.resolved", "incident.resolved") in kinds

    await eventually(collect, what="incident events")
    await events_conn.close()
