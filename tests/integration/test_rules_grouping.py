"""Group rules from the shipped examples decide grouping, priority, team and the recorded why."""

from __future__ import annotations

from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.helpers import body, publish, stored_alerts, v2_alert


async def test_example_rules_group_and_prioritise(clean):
    worker = Worker(clean.model_copy(update={"rules": "examples"}))
    await worker.start()
    try:
        alerts = [
            v2_alert("PostgresDown", "orders-db", "db-1"),
            v2_alert("PostgresReplicationLag", "orders-db", "db-2", severity="warning"),
            v2_alert("HighErrorRate", "checkout", "pod-1"),
            v2_alert("HighErrorRate", "checkout", "pod-2"),
            v2_alert("HighLatency", "checkout", "pod-1", severity="warning"),
            v2_alert("SomethingElse", "misc", "host-1"),
        ]
        await publish(clean, [body(alerts)])
        await eventually(lambda: stored_alerts(worker) >= len(alerts), what="alerts stored")
        incidents = {i.title: i for i in await worker.store.list_incidents()}
        assert set(incidents) == {
            "database-outage: orders-db",
            "service-symptoms: HighErrorRate / checkout",
            "service-symptoms: HighLatency / checkout",
            "SomethingElse / misc",
        }
        db = incidents["database-outage: orders-db"]
        assert (db.rule, db.team, db.priority, db.alerts) == ("database-outage", "dba", "P1", 2)
        assert db.why["matchers"] == ['alertname=~"Postgres.*"'] and db.why["group_by"] == ["service"]
        # impact from the severity label (critical -> high, warning -> medium), urgency medium: ITIL matrix
        symptoms = incidents["service-symptoms: HighErrorRate / checkout"]
        assert symptoms.priority == "P2"
        assert symptoms.team == "payments"  # no team on the rule: the enrichment lookup's team label
        (member, *_) = await worker.store.incident_alerts(symptoms.id)
        assert member.labels["team"] == "payments"
        assert incidents["service-symptoms: HighLatency / checkout"].priority == "P3"
        other = incidents["SomethingElse / misc"]
        assert (other.rule, other.priority, other.team) == ("default", "", "")
    finally:
        await worker.stop()
