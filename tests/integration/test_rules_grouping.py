"""Group rules from the shipped examples decide grouping, priority, team and the recorded why."""

from __future__ import annotations


from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import run_cli as _cli
from tests.integration.helpers import body, metric, publish, stored_alerts, v2_alert


async def test_example_rules_group_prioritise_and_attach_symptoms_to_their_cause(clean):
    """The demo's story through the real worker: the database incident opens at once; symptoms that arrive with
    it wait 30s (the inhibit rule's hold, moved by an injected clock), then attach to it; symptoms on three or
    more services open a shared-root-cause problem."""
    clock = ManualClock()
    worker = Worker(clean.model_copy(update={"rules": "examples", "timer_poll_seconds": 0.02}), clock=clock)
    await worker.start()
    try:
        alerts = [
            v2_alert("PostgresDown", "orders-db", "db-1"),
            v2_alert("PostgresReplicationLag", "orders-db", "db-2", severity="warning"),
            *(v2_alert("HighErrorRate", "checkout", f"pod-{i}") for i in (1, 2, 3)),
            *(v2_alert("HighLatency", "checkout", f"pod-{i}", severity="warning") for i in (1, 2, 3)),
            v2_alert("HighLatency", "payments", "pod-1", severity="warning"),
            v2_alert("HighLatency", "shipping", "pod-1", severity="warning"),
            v2_alert("SomethingElse", "misc", "host-1"),
        ]
        for a in alerts:  # the inhibit rule's source must carry its equal label, cluster (as Prometheus adds it)
            a["labels"]["cluster"] = "eu-1"
        await publish(clean, [body(alerts)])
        await eventually(lambda: stored_alerts(worker) >= len(alerts), what="alerts stored")
        incidents = {i.title: i for i in await worker.store.list_incidents()}
        assert set(incidents) == {"database-outage: orders-db", "SomethingElse / misc"}
        db = incidents["database-outage: orders-db"]
        assert (db.rule, db.team, db.priority, db.alerts) == ("database-outage", "dba", "P1", 1)
        assert db.why["matchers"] == ['alertname=~"Postgres.*"'] and db.why["group_by"] == ["service"]
        other = incidents["SomethingElse / misc"]
        # no rule matches: the default priority of its severity (critical) and the default team
        assert (other.rule, other.priority, other.team) == ("default", "P1", "unassigned")
        assert metric(worker, "stormwatch_alerts_correlated_total", {"outcome": "waiting"}) == 9

        clock.now += 31  # the hold is over: each waiting alert looks for its cause again, exactly once
        await eventually(lambda: _symptoms(worker, db.id, 9), what="symptoms attached to the database incident")
        symptoms = await worker.pipeline.links.symptoms(db.id)
        assert {s["labels"]["service"] for s in symptoms} == {"orders-db", "checkout", "payments", "shipping"}
        assert {s["rule"] for s in symptoms} == {"postgres-down-mutes-symptoms"}
        assert (await worker.store.incident(db.id)).symptoms == 9
        assert {i.title for i in await worker.store.list_incidents()} == set(incidents)  # nothing else paged
        timeline = await worker.store.timeline(db.id)
        assert sum(e["kind"] == "symptom" for e in timeline) == 9
        (problem,) = await worker.pipeline.links.list_problems()
        assert problem.title == "shared-database-cause: database-outage: orders-db"
        assert problem.incidents == [db.id] and problem.status == "open" and problem.team == "dba"
        # opened when the third service showed symptoms: its why names the services counted at that moment
        assert len(problem.why["services"]) == 3
        assert set(problem.why["services"]) <= {"checkout", "orders-db", "payments", "shipping"}
        code, out, _ = await _cli(clean, "incidents", "show", db.id)
        assert code == 0 and "symptoms" in out and out.count("inhibit rule postgres-down-mutes-symptoms") == 9
    finally:
        await worker.stop()


async def _symptoms(worker: Worker, incident_id: str, n: int) -> bool:
    return len(await worker.pipeline.links.symptoms(incident_id)) >= n


THRESHOLD_RULES = """
groups:
  - name: service-symptoms
    match: ['alertname=~"HighErrorRate|HighLatency"']
    group_by: [alertname, service]
    threshold: {count: 3, within: 2m}
"""


async def test_threshold_holds_alerts_back_across_messages_then_opens_with_all_of_them(clean, tmp_path):
    """service-symptoms opens only when 3 alerts of the group fire within 2m; held alerts wait in Redis."""
    (tmp_path / "rules.yaml").write_text(THRESHOLD_RULES)
    worker = Worker(clean.model_copy(update={"rules": str(tmp_path)}))
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
