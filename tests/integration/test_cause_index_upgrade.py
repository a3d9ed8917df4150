"""The cause index entry format is versioned: entries the previous version wrote (v1, no evidence) are read by this one.

Through the real RabbitMQ and Redis: a worker of this version finds, under a dependency's cause key, an entry as
the version before the evidence wrote it (``stamp|incident``, then ``stamp|incident|stopped``), and still places a
dependant's alert as a symptom of that incident; the source's next write replaces it with a v2 entry carrying its
evidence. Then the evidence at work: an alert as severe as its dependency's, starting minutes after it, pages on
its own."""

from __future__ import annotations

from correlation.core.causes import ENTRY_VERSION, Entry
from rules.alert import severity_rank
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import body, publish, stored_alerts, v2_alert

RULES = """
topology:
  symptom_lag: 30s
  services:
    orders-db: {}
    checkout: {depends_on: [orders-db]}
    payments: {depends_on: [orders-db]}
    shipping: {depends_on: [orders-db]}
groups:
  - name: by-service
    match: ['alertname=~".+"']
    group_by: [alertname, service]
"""


async def test_entries_of_the_previous_format_are_read_and_rewritten(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    clock = ManualClock()
    settings = clean.model_copy(update={"rules": str(tmp_path)})
    worker = Worker(settings, clock=clock)
    await worker.start()
    store, redis = worker.store, worker.store.redis
    key = store.keys.cause("svc:orders-db")
    try:
        await publish(settings, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
        await eventually(lambda: stored_alerts(worker) >= 1, what="the cause stored")
        (db,) = await store.list_incidents()
        ((fp, raw),) = (await redis.hgetall(key)).items()
        written = Entry.decode(raw)
        assert raw.decode().split("|")[1] == ENTRY_VERSION  # this version writes v2, with the evidence
        assert (written.incident, written.stopped, written.severity) == (db.id, None, severity_rank("critical"))

        # what the previous version wrote for the same source (no evidence): read as a firing source
        await redis.hset(key, fp, f"{written.stamp}|{db.id}")
        await publish(settings, [body([v2_alert("HighErrorRate", "checkout", "co-1", severity="warning")])])
        await eventually(lambda: stored_alerts(worker) >= 2, what="a symptom stored")
        assert [i.id for i in await store.list_incidents()] == [db.id]
        symptoms = await worker.pipeline.links.symptoms(db.id)
        assert [s["labels"]["service"] for s in symptoms] == ["checkout"]
        assert "evidence" in symptoms[0]  # the root's evidence, recorded with the symptom ("severity unknown")

        # a v1 entry of a source that stopped 60 s ago: still within the default recovery grace (5m)
        await redis.hset(key, fp, f"{written.stamp}|{db.id}|{clock.now - 60!r}")
        await publish(settings, [body([v2_alert("HighErrorRate", "payments", "pay-1", severity="warning")])])
        await eventually(lambda: stored_alerts(worker) >= 3, what="a second symptom stored")
        assert [i.id for i in await store.list_incidents()] == [db.id]
        assert {s["labels"]["service"] for s in await worker.pipeline.links.symptoms(db.id)} == {"checkout",
                                                                                                  "payments"}

        # the source's next write (its recovery, a newer revision) replaces the v1 entry with a v2 one
        await publish(settings, [body([v2_alert("PostgresDown", "orders-db", "db-1", resolved=True)])])
        await eventually(lambda: stored_alerts(worker) >= 4, what="the recovery stored")
        rewritten = Entry.decode(await redis.hget(key, fp))
        assert (await redis.hget(key, fp)).decode().split("|")[1] == ENTRY_VERSION
        assert rewritten.stamp > written.stamp and rewritten.stopped == clock.now
        assert rewritten.severity == severity_rank("critical") and rewritten.since == written.since
    finally:
        await worker.stop()


async def test_an_alert_as_severe_as_its_dependency_starting_minutes_later_pages_on_its_own(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    settings = clean.model_copy(update={"rules": str(tmp_path)})
    worker = Worker(settings, clock=ManualClock())
    await worker.start()
    store = worker.store
    try:
        await publish(settings, [body([v2_alert("PostgresDown", "orders-db", "db-1",
                                                starts_at="2026-11-21T10:00:00Z")])])
        await eventually(lambda: stored_alerts(worker) >= 1, what="the cause stored")
        (db,) = await store.list_incidents()
        await publish(settings, [body([
            v2_alert("HighErrorRate", "checkout", "co-1", severity="warning", starts_at="2026-11-21T10:05:00Z"),
            v2_alert("PaymentProviderErrors", "payments", "pay-1", starts_at="2026-11-21T10:04:00Z"),
            v2_alert("ShippingDown", "shipping", "ship-1", starts_at="2026-11-21T10:00:20Z"),
        ])])
        await eventually(lambda: stored_alerts(worker) >= 4, what="the dependants stored")
        incidents = await store.list_incidents()
        # the warning is a symptom however late; the critical 20 s after the database is one; the critical four
        # minutes after it is a failure of its own (symptom_lag: 30s)
        assert sorted(i.title for i in incidents) == ["by-service: PaymentProviderErrors / payments",
                                                      "by-service: PostgresDown / orders-db"]
        symptoms = {s["labels"]["service"]: s for s in await worker.pipeline.links.symptoms(db.id)}
        assert symptoms.keys() == {"checkout", "shipping"}
        assert symptoms["shipping"]["evidence"] == "critical, started 20s before it, 1 deep"
        timeline = [e["text"] for e in await store.timeline(db.id)]
        assert any(t.endswith("is a symptom: rolled up along shipping -> orders-db (critical, started 20s before it, "
                              "1 deep)") for t in timeline), timeline
    finally:
        await worker.stop()


REPLACE_RULES = """
topology:
  services:
    cache: {}
    api: {}
    web: {depends_on: [cache, api]}
groups:
  - name: by-service
    match: ['alertname=~".+"']
    group_by: [alertname, service]
"""


async def test_a_symptom_is_placed_again_when_a_better_cause_fires(clean, tmp_path):
    """Two workers: web's errors are a symptom of the cache, which recovers; the API then fails, and web moves to
    the API's incident through the shared timer index, with no notification of its own."""
    (tmp_path / "rules.yaml").write_text(REPLACE_RULES)
    settings = clean.model_copy(update={"rules": str(tmp_path), "timer_poll_seconds": 0.02})
    workers = [Worker(settings, clock=ManualClock()) for _ in range(2)]
    for w in workers:
        await w.start()
    store = workers[0].store
    stored = lambda: sum(stored_alerts(w) for w in workers)  # noqa: E731
    try:
        await publish(settings, [body([v2_alert("RedisDown", "cache", "cache-1")])])
        await eventually(lambda: stored() >= 1, what="the cache's failure stored")
        await publish(settings, [body([v2_alert("HighErrorRate", "web", "web-1", severity="warning")])])
        await eventually(lambda: stored() >= 2, what="the symptom stored")
        (cache,) = await store.list_incidents()
        await publish(settings, [body([v2_alert("RedisDown", "cache", "cache-1", resolved=True)])])
        await eventually(lambda: stored() >= 3, what="the cache's recovery stored")
        await publish(settings, [body([v2_alert("ApiDown", "api", "api-1")])])
        await eventually(lambda: stored() >= 4, what="the API's failure stored")
        api = next(i for i in await store.list_incidents() if i.id != cache.id)

        async def moved() -> list[tuple[str, ...]]:
            return [tuple(s["path"]) for s in await workers[0].pipeline.links.symptoms(api.id)]

        assert await eventually(moved, what="web placed again under the API") == [("web", "api")]
        assert len(await store.list_incidents()) == 2  # web paged nobody
    finally:
        for w in workers:
            await w.stop()
