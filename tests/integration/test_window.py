"""A group rule's window through the real worker: late alerts open a new incident; the older one still resolves."""

from __future__ import annotations


from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import body, publish, stored_alerts, v2_alert

RULES = """
groups:
  - name: api
    match: ['service="api"']
    group_by: [service]
    window: 10m
"""


async def test_window_splits_incidents_and_the_older_one_resolves_with_its_alerts(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    clock = ManualClock()
    worker = Worker(clean.model_copy(update={"rules": str(tmp_path)}), clock=clock)
    await worker.start()
    store = worker.store
    try:
        await publish(clean, [body([v2_alert("HighErrorRate", "api", "pod-1")])])
        await eventually(lambda: stored_alerts(worker) >= 1)
        clock.now += 5 * 60
        await publish(clean, [body([v2_alert("HighLatency", "api", "pod-1")])])  # inside the window: joins
        await eventually(lambda: stored_alerts(worker) >= 2)
        clock.now += 6 * 60
        await publish(clean, [body([v2_alert("Saturation", "api", "pod-2")])])  # 11m after: a new incident
        await eventually(lambda: stored_alerts(worker) >= 3)
        first, second = sorted(await store.list_incidents(), key=lambda i: i.created_at)
        assert (first.alerts, second.alerts) == (2, 1) and first.status == second.status == "open"

        await publish(clean, [body([v2_alert(name, "api", "pod-1", resolved=True)
                                    for name in ("HighErrorRate", "HighLatency")])])
        await eventually(lambda: stored_alerts(worker) >= 5)
        first, second = [await store.incident(i.id) for i in (first, second)]
        assert first.status == "resolved" and first.firing == 0
        assert second.status == "open" and second.firing == 1
        timeline = await store.timeline(first.id)
        assert any(e["kind"] == "window" for e in timeline)
    finally:
        await worker.stop()
