"""Group rules from the shipped examples decide grouping, priority, team and the recorded why."""

from __future__ import annotations

from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.helpers import body, metric, publish, stored_alerts, v2_alert


async def test_example_rules_group_and_prioritise(clean):
    worker = Worker(clean.model_copy(update={"rules": "examples"}))
    await worker.start()
    try:
        alerts = [
            v2_alert("PostgresDown", "orders-db", "db-1"),
            v2_alert("PostgresReplicationLag", "orders-db", "db-2", severity="warning"),
            v2_alert("HighErrorRate", "checkout", "pod-1"),
            v2_alert("HighErrorRate", "checkout", "pod-2"),
            v2_alert("HighErrorRate", "checkout", "pod-3"),
            v2_alert("HighLatency", "checkout", "pod-1", severity="warning"),
            v2_alert("HighLatency", "checkout", "pod-2", severity="warning"),
            v2_alert("HighLatency", "checkout", "pod-3", severity="warning"),
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


async def test_threshold_holds_alerts_back_across_messages_then_opens_with_all_of_them(clean):
    """service-symptoms opens only when 3 alerts of the group fire within 2m; held alerts wait in Redis."""
    worker = Worker(clean.model_copy(update={"rules": "examples"}))
    await worker.start()
    try:
        await publish(clean, [body([v2_alert("HighErrorRate", "payments", f"pod-{i}") for i in (1, 2)])])
        await eventually(lambda: stored_alerts(worker) >= 2, what="two alerts stored")
        assert await worker.store.list_incidents() == []
        assert metric(worker, "stormwatch_alerts_held_total") == 2

        await publish(clean, [body([v2_alert("HighErrorRate", "payments", "pod-3")])])
        await eventually(lambda: stored_alerts(worker) >= 3, what="third alert stored")
        (incident,) = await worker.store.list_incidents()
        assert (incident.title, incident.alerts, incident.firing) == ("service-symptoms: HighErrorRate / payments", 3, 3)
        members = await worker.store.incident_alerts(incident.id)
        assert sorted(a.labels["instance"] for a in members) == ["pod-1", "pod-2", "pod-3"]
        assert all(a.incident == incident.id and a.muted == "" for a in members)
        timeline = await worker.store.timeline(incident.id)
        assert sum("held until the threshold" in e["text"] for e in timeline) == 2
    finally:
        await worker.stop()
