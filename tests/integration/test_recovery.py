"""A recovering cascade pages once, through the real RabbitMQ and Redis, two workers and an injected clock.

The database fails and its dependants' alerts are symptoms; the database recovers first and its symptoms repeat,
then clear, a minute later: they stay symptoms of the database incident (the topology's recovery_grace). One
that is still firing when the grace runs out is real on its own: the shared timer index pages it."""

from __future__ import annotations

import aio_pika
import orjson

from correlation.core.causes import Entry
from ingest.topology import Names
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.helpers import body, publish, stored_alerts, v2_alert

RULES = """
topology:
  recovery_grace: 5m
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

SYMPTOMS = ("checkout", "payments", "shipping")


def _symptoms(*, resolved: bool = False, only: tuple[str, ...] = SYMPTOMS) -> bytes:
    return body(v2_alert("HighErrorRate", s, f"{s}-1", severity="warning", resolved=resolved) for s in only)


async def test_a_recovering_cascade_pages_once_and_a_symptom_still_firing_after_the_grace_pages(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    clock = ManualClock()
    settings = clean.model_copy(update={"rules": str(tmp_path), "timer_poll_seconds": 0.02})
    workers = [Worker(settings, clock=clock) for _ in range(2)]
    for w in workers:
        await w.start()  # declares the exchanges
    events_conn = await aio_pika.connect(settings.amqp_url)
    channel = await events_conn.channel()
    events_queue = await channel.declare_queue(exclusive=True)
    await events_queue.bind(Names(settings.namespace).events_exchange, routing_key="incident.#")
    store = workers[0].store
    stored = lambda: sum(stored_alerts(w) for w in workers)  # noqa: E731
    try:
        await publish(settings, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
        await eventually(lambda: stored() >= 1, what="the cause stored")
        await publish(settings, [_symptoms()])
        await eventually(lambda: stored() >= 4, what="the symptoms stored")
        (db,) = await store.list_incidents()
        assert db.title == "by-service: PostgresDown / orders-db"

        await publish(settings, [body([v2_alert("PostgresDown", "orders-db", "db-1", resolved=True)])])
        await eventually(lambda: stored() >= 5, what="the recovery stored")
        assert (await store.incident(db.id)).status == "resolved"
        (raw,) = (await store.redis.hgetall(store.keys.cause("svc:orders-db"))).values()
        entry = Entry.decode(raw)
        assert (entry.incident, entry.stopped) == (db.id, clock.now)  # the index keeps the recovered incident

        clock.now += 60  # the symptoms repeat, then clear: no incident of their own
        await publish(settings, [_symptoms()])
        await eventually(lambda: stored() >= 8, what="the repeats stored")
        clock.now += 30
        await publish(settings, [_symptoms(resolved=True, only=("checkout", "payments"))])
        await eventually(lambda: stored() >= 10, what="the symptoms' recoveries stored")
        assert [i.id for i in await store.list_incidents()] == [db.id]
        symptoms = await workers[0].pipeline.links.symptoms(db.id)
        assert sorted(s["labels"]["service"] for s in symptoms) == sorted(SYMPTOMS)

        # shipping keeps firing: when the grace runs out (300s after the recovery) its recheck timer pages it
        clock.now += 209
        polls = [w.timers.polls for w in workers]
        await eventually(lambda: all(w.timers.polls >= n + 2 for w, n in zip(workers, polls, strict=True)), what="timer polls")
        assert [i.id for i in await store.list_incidents()] == [db.id]
        clock.now += 2

        async def shipping_paged() -> bool:
            return len(await store.list_incidents()) == 2

        await eventually(shipping_paged, what="the symptom still firing paged")
        shipping = next(i for i in await store.list_incidents() if i.id != db.id)
        assert shipping.title == "by-service: HighErrorRate / shipping"

        created: list[str] = []

        async def collect() -> bool:
            while (m := await events_queue.get(no_ack=True, fail=False)) is not None:
                event = orjson.loads(m.body)
                if event["type"] == "incident.created":
                    created.append(event["incident"]["id"])
            return len(created) >= 2

        await eventually(collect, what="incident.created events")
        assert sorted(created) == sorted([db.id, shipping.id])  # each paged exactly once, across two workers
    finally:
        for w in workers:
            await w.stop()
        await events_conn.close()
