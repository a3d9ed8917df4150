"""Incidents opened are counted by their ITIL priority (the dashboard's "incidents by priority" panel)."""

from __future__ import annotations

from collections import Counter

from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.helpers import body, metric, publish, stored_alerts, v2_alert

RULE = """
groups:
  - name: api-errors
    match: ['alertname="HighErrorRate"']
    group_by: [service]
    priority: {impact: high, urgency: high}
    team: core
"""


async def test_an_opened_incident_is_counted_under_its_priority(clean, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "api.yaml").write_text(RULE)
    worker = Worker(clean.model_copy(update={"rules": str(rules)}))
    await worker.start()
    try:
        await publish(clean, [body([v2_alert("HighErrorRate", "api", "pod-1"),
                                    v2_alert("DiskFull", "db", "db-1")])])
        await eventually(lambda: stored_alerts(worker) >= 2)
        incidents = await worker.store.list_incidents()
        assert {i.rule for i in incidents} == {"api-errors", "default"}
        assert all(i.priority.startswith("P") for i in incidents)  # the rule's, and the severity matrix's default
        name = "stormwatch_incidents_opened_by_priority_total"
        for priority, count in Counter(i.priority for i in incidents).items():
            assert metric(worker, name, {"priority": priority}) == count
        assert metric(worker, "stormwatch_incidents_opened_total") == 2
    finally:
        await worker.stop()
