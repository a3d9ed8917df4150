"""The worker against a three-node Redis Cluster started by the test: every script keeps to one slot."""

from __future__ import annotations


from stormwatch.app import Worker
from stormwatch.namespace import delete_namespace
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import body, publish, stored_alerts, v2_alert


async def test_storm_symptoms_problem_and_timers_on_a_redis_cluster(settings, cluster):
    """Two workers share the queue against the cluster: grouping, redelivery-safe writes, the cause index,
    symptoms, a problem, and hold timers all work with keys spread over three nodes."""
    s = settings.model_copy(update={"redis_url": cluster.url, "redis_cluster": True, "rules": "examples",
                                    "timer_poll_seconds": 0.02})
    clock = ManualClock()
    workers = [Worker(s, clock=clock) for _ in range(2)]
    for w in workers:
        await w.start()
    try:
        alerts = [v2_alert("PostgresDown", "orders-db", "db-1")]
        alerts += [v2_alert("HighErrorRate", service, f"pod-{i}") for service in ("checkout", "payments", "shipping")
                   for i in range(4)]
        alerts += [v2_alert("NodeDown", "k8s", f"node-{i}") for i in range(5)]
        await publish(s, [body(alerts), body(alerts)])  # Prometheus re-sends: duplicates
        await eventually(lambda: sum(stored_alerts(w) for w in workers) >= 2 * len(alerts), what="storm stored")
        store = workers[0].store
        titles = sorted(i.title for i in await store.list_incidents())
        assert titles == ["NodeDown / k8s", "database-outage: orders-db"]

        clock.now += 31  # the symptoms' hold runs out; one of the two workers fires each timer
        db = next(i for i in await store.list_incidents() if i.rule == "database-outage")
        links = workers[0].pipeline.links
        await eventually(lambda: _count(links, db.id, 12), what="12 symptoms attached")
        # the problem is written one round trip after the symptoms (correlation/store/links.py): wait for it too
        (problem,) = await eventually(links.list_problems, what="the shared-cause problem")
        assert problem.incidents == [db.id]
        assert (await store.incident(db.id)).symptoms == 12
        resolved = await links.set_problem_status(problem.id, "resolved", "alice", clock.now)
        assert resolved is not None and resolved.status == "resolved"
        assert await links.list_problems(open_only=True) == []
        per_node = await cluster.keys_per_node(f"{s.namespace}:*")
        assert all(n > 0 for n in per_node), per_node  # the keys really are spread over the three nodes
    finally:
        for w in workers:
            await w.stop()
        await delete_namespace(s)
    assert sum(await cluster.keys_per_node(f"{s.namespace}:*")) == 0  # clean-up works across nodes


async def _count(links, incident_id: str, n: int) -> bool:
    return len(await links.symptoms(incident_id)) >= n
