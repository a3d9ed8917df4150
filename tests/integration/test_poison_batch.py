"""A message that crashes correlation on every delivery is dead-lettered alone: its batch neighbours land."""

from __future__ import annotations

from ingest.topology import Names
from stormwatch.app import Worker
from stormwatch.fault_hooks import POISON
from tests.conftest import eventually
from tests.integration.helpers import body, drain_queue, metric, publish, stored_alerts, v2_alert


async def test_poison_in_a_batch_is_dead_lettered_alone(clean, monkeypatch):
    monkeypatch.setenv(POISON, "poison-pill")  # test-only hook: correlation raises for this label value
    settings = clean.model_copy(update={"delivery_limit": 2, "batch_size": 16, "prefetch": 32, "batch_wait_ms": 50})
    worker = Worker(settings)
    await worker.start()
    try:
        bodies = [body([v2_alert("Good", "svc", f"pod-{i}")]) for i in range(30)]
        bodies.insert(10, body([v2_alert("Bad", "svc", "poison-pill")]))
        ids = [f"m{i}" for i in range(len(bodies))]
        await publish(settings, bodies, message_ids=ids)
        await eventually(lambda: stored_alerts(worker) >= 30, what="every good alert stored")
        dead: list = []

        async def poison_dead() -> bool:
            dead.extend(await drain_queue(settings, Names(settings.namespace).dead_queue))
            return bool(dead)

        await eventually(poison_dead, what="the poison message dead-lettered")
        assert [m.message_id for m in dead] == ["m10"]
        assert dead[0].headers["x-death"][0]["reason"] == "delivery_limit"
        assert stored_alerts(worker) == 30
        assert metric(worker, "stormwatch_processing_crashes_total") >= 2
        (incident,) = await worker.store.list_incidents()
        assert incident.alerts == 30
    finally:
        await worker.stop()
