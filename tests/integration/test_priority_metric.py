"""Incidents opened are counted by their ITIL priority (the dashboard's "incidents by priority" panel)."""

from __future__ import annotations

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
        by_rule = {i.rule: i for i in await worker.store.list_incidents()}
        ruled = by_rule["api-errors"].priority
        assert ruled.startswith("P")
        name = "stormwatch_incidents_opened_by_priority_total"
        assert metric(worker, name, {"priority": ruled}) == 1
        unruled = by_rule["default"].priority or "none"
        assert metric(worker, name, {"priority": unruled}) == (2 if unruled == ruled else 1)
        assert metric(worker, "stormwatch_incidents_opened_total") == 2
    finally:
        await worker.stop()
