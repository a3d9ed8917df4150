"""The history writer inside a real worker, against SQLite and the real PostgreSQL: every event the worker
publishes lands once, with the incidents' members; repeats change nothing; unusable events are dead-lettered with a
reason beside good ones that are written; a PostgreSQL outage mid-stream stops only the writer's acks, and when it
ends every event lands. Search over the API finds incidents Redis no longer holds."""

from __future__ import annotations

import uuid
from typing import Any

import aio_pika
import orjson
import pytest
import sqlalchemy as sa

from correlation.store.keyspace import Keyspace
from correlation.store.store import IncidentStore
from events import builders
from events.names import BrokerNames
from stormwatch.app import Worker
from stormwatch.history import schema
from stormwatch.history.database import open_engine
from tests.conftest import eventually
from tests.integration.api_helpers import start_api
from tests.integration.helpers import body, metric, publish, stored_alerts, v2_alert
from tests.integration.history_support import history_database, postgres_database
from tests.integration.tcp_proxy import TcpProxy
from tests.integration.test_event_contract import Capture


async def applied_ids(engine: Any) -> set[str]:
    async with engine.connect() as conn:
        return {r[0] for r in await conn.execute(sa.select(schema.applied_events.c.event_id))}


async def started(worker: Worker) -> Worker:
    await worker.start()
    assert worker.history is not None
    await eventually(worker.history.ready.is_set, what="the history writer started (migrated)")
    return worker


def storm(groups: int, per_group: int, *, resolved: bool = False) -> list[bytes]:
    return [body([v2_alert(f"Down{g}", f"svc-{g}", f"host-{i}", resolved=resolved)]) for g in range(groups)
            for i in range(per_group)]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_every_event_lands_once_with_members_and_search_finds_what_redis_forgot(clean, tmp_path, kind):
    async with history_database(kind, tmp_path) as url:
        capture = await Capture(clean).start()
        settings = clean.model_copy(update={"history_enabled": True, "history_url": url})
        engine = open_engine(url)
        try:
            async for api in start_api(settings):
                await eventually(api.worker.history.ready.is_set, what="the history writer started")
                await publish(settings, storm(3, 4))
                await publish(settings, storm(3, 4, resolved=True))
                await eventually(lambda: stored_alerts(api.worker) >= 24, what="the storm correlated")

                async def all_landed() -> bool:
                    published = {orjson.loads(m.body)["event_id"] for m in capture.messages}
                    await capture.types()
                    return bool(published) and published <= await applied_ids(engine) and len(
                        [m for m in capture.messages if m.routing_key == "incident.resolved"]) == 3
                await eventually(all_landed, what="every published event in applied_events")
                published = [orjson.loads(m.body) for m in capture.messages]
                assert await applied_ids(engine) == {e["event_id"] for e in published}
                assert metric(api.worker, "stormwatch_history_events_applied_total",
                              {"type": "incident.created"}) == 3
                async with engine.connect() as conn:
                    rows = (await conn.execute(sa.select(schema.incidents).order_by(schema.incidents.c.id))).all()
                    members = (await conn.execute(sa.select(schema.incident_alerts))).all()
                    timeline = (await conn.execute(sa.select(sa.func.count()).select_from(
                        schema.timeline_entries))).scalar()
                redis_incidents = await IncidentStore(api.worker.redis, Keyspace(settings.namespace), marker_ttl=60,
                                                      timeline_max=100).list_incidents()
                assert sorted(r.id for r in rows) == sorted(i.id for i in redis_incidents)
                assert {r.status for r in rows} == {"resolved"} and {r.alerts for r in rows} == {4}
                assert all(r.first_resolved_at is not None and r.service.startswith("svc-") for r in rows)
                assert len(members) == 12 and {m.status for m in members} == {"resolved"}
                assert {m.labels["instance"] for m in members} == {f"host-{i}" for i in range(4)}
                assert timeline == len(published)

                # Redis forgets (no persistence, restarted): the history still answers
                await api.worker.redis.delete(*[k async for k in api.worker.redis.scan_iter(
                    match=f"{settings.namespace}:*")])
                answer = await api.get("/api/v1/history/incidents?q=down1&label=service%3Dsvc-1&status=resolved"
                                       "&since=1d")
                assert answer.status_code == 200, answer.text
                found = answer.json()["incidents"]
                assert len(found) == 1 and "Down1" in found[0]["title"]
                assert found[0]["group_labels"]["service"] == "svc-1" and found[0]["status"] == "resolved"
                assert (await api.get("/api/v1/history/incidents?team=nobody")).json()["incidents"] == []
                detail = await api.get(f"/api/v1/history/incidents/{found[0]['id']}")
                assert detail.status_code == 200 and len(detail.json()["members"]) == 4
                bad = await api.get("/api/v1/history/incidents?since=yesterday")
                assert bad.status_code == 400 and bad.json()["field"] == "since"
                for value, field in (("nan", "since"), ("-5", "since"), ("1e300", "until"),
                                     ("2026-12-01T00:00:00", "until"), ("²", "offset"), ("٣", "limit")):  # searched for nothing before: now refused
                    bad = await api.get(f"/api/v1/history/incidents?{field}={value}")
                    assert bad.status_code == 400 and bad.json()["field"] == field, (value, bad.text)
                nul = await api.get("/api/v1/history/incidents?q=a%00b")  # PostgreSQL text cannot hold it
                assert nul.status_code == 400 and nul.json()["field"] == "q"
                assert (await api.get("/api/v1/history/incidents/INC-a%00-1")).status_code == 404
                assert (await api.get("/api/v1/history/incidents", token=None)).status_code == 401
        finally:
            await engine.dispose()
            await capture.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_repeats_change_nothing_and_bad_events_are_dead_lettered(clean, tmp_path, kind):
    async with history_database(kind, tmp_path) as url:
        settings = clean.model_copy(update={"history_enabled": True, "history_url": url, "metrics_enabled": False})
        worker = await started(Worker(settings))
        engine = open_engine(url)
        names = BrokerNames(settings.namespace)
        connection = await aio_pika.connect(settings.amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(names.events_exchange)
            silence = {"id": "s-1", "matchers": ['service="a"'], "starts_at": 1.0, "ends_at": 2e9, "created_by": "me",
                       "comment": "c", "created_at": 1.0, "state": "active"}
            good = builders.silence_created(silence, "me", 1.0, "c")
            bodies = [("silence.created", orjson.dumps(good)), ("silence.created", orjson.dumps(good)),
                      ("incident.created", b"{not json"),
                      ("incident.created", orjson.dumps({"event_id": "x1", "type": "incident.created", "at": 1.0,
                                                         "incident": {"id": "INC-abc-1"}})),
                      ("incident.created", orjson.dumps({"event_id": "x2", "type": "incident.created", "at": 1.0,
                                                         "incident": {"id": "INC-abc-2", "title": "t",
                                                                      "status": "open", "created_at": "soon",
                                                                      "updated_at": 1.0}})),
                      ("silence.created", orjson.dumps({**good, "event_id": "s-2:created",
                                                        "silence": {**silence, "id": "s-2"}}))]
            for key, raw in bodies:
                await exchange.publish(aio_pika.Message(raw, message_id=str(uuid.uuid4())), routing_key=key)
            dead = await channel.get_queue(names.history_dead, ensure=False)

            async def dead_letters() -> list[Any]:
                got = []
                while (m := await dead.get(no_ack=True, fail=False)) is not None:
                    got.append(m)
                return got
            seen: list[Any] = []

            async def three_dead() -> bool:
                seen.extend(await dead_letters())
                return len(seen) == 3
            await eventually(three_dead, what="three dead letters")
            assert sorted(m.headers["x-stormwatch-reason"] for m in seen) == [
                "invalid_event", "invalid_json", "refused_by_database"]
            await eventually(lambda: worker.history.writer.written == 2, what="both silences written")
            assert metric(worker, "stormwatch_history_events_repeated_total") == 1
            async with engine.connect() as conn:
                ids = [r[0] for r in await conn.execute(sa.select(schema.silences.c.id).order_by(schema.silences.c.id))]
            assert ids == ["s-1", "s-2"]
            assert await applied_ids(engine) == {"s-1:created", "s-2:created"}
        finally:
            await connection.close()
            await engine.dispose()
            await worker.stop()


async def test_postgres_outage_mid_stream_loses_nothing_and_never_stops_the_pipeline(clean):
    async with postgres_database() as direct_url:
        port = int(direct_url.split("@127.0.0.1:")[1].split("/")[0])
        proxy = await TcpProxy("127.0.0.1", port).start()
        url = direct_url.replace(f"127.0.0.1:{port}", f"127.0.0.1:{proxy.port}")
        settings = clean.model_copy(update={"history_enabled": True, "history_url": url, "metrics_enabled": False,
                                            "history_retry_max_seconds": 0.5, "history_batch_size": 20})
        capture = await Capture(settings).start()
        engine = open_engine(direct_url)  # the test reads past the proxy
        worker = await started(Worker(settings))
        try:
            await publish(settings, storm(4, 5))
            await eventually(lambda: worker.history.writer.written > 0, what="some events written")
            await proxy.cut()  # PostgreSQL unreachable for the writer
            await publish(settings, storm(4, 5, resolved=True) + [
                body([v2_alert("Late", "svc-late", f"h{i}")]) for i in range(5)])
            # the alert pipeline goes on: every alert correlated, incidents resolved, events published
            await eventually(lambda: stored_alerts(worker) >= 45, what="alerts processed during the outage")
            await eventually(lambda: metric(worker, "stormwatch_history_write_failures_total") > 0,
                             what="the writer noticed the outage")
            assert metric(worker, "stormwatch_history_store_down") == 1
            await proxy.restore()

            async def all_landed() -> bool:
                await capture.types()
                published = {orjson.loads(m.body)["event_id"] for m in capture.messages}
                return len([m for m in capture.messages if m.routing_key == "incident.resolved"]) == 4 and \
                    published == await applied_ids(engine)
            await eventually(all_landed, timeout=60, what="every event written after the outage")
            assert metric(worker, "stormwatch_history_store_down") == 0
            async with engine.connect() as conn:
                statuses = dict((await conn.execute(sa.select(schema.incidents.c.service, schema.incidents.c.status)))
                                .all())
                members = (await conn.execute(sa.select(sa.func.count()).select_from(schema.incident_alerts))).scalar()
            assert statuses == {"svc-0": "resolved", "svc-1": "resolved", "svc-2": "resolved", "svc-3": "resolved",
                                "svc-late": "open"}
            assert members == 25
        finally:
            await worker.stop()
            await proxy.stop()
            await engine.dispose()
            await capture.close()


async def test_serve_role_history_runs_only_the_writer(clean, tmp_path):
    """`stormwatch serve --role history` alone: declares its queue, writes what arrives, stops on SIGTERM."""
    import asyncio
    import os
    import signal

    from tests.integration.helpers import STORMWATCH

    db = tmp_path / "history.db"
    env = os.environ | {"STORMWATCH_NAMESPACE": clean.namespace, "STORMWATCH_AMQP_URL": clean.amqp_url,
                        "STORMWATCH_REDIS_URL": clean.redis_url, "STORMWATCH_HISTORY_PATH": str(db),
                        "STORMWATCH_LOG_FORMAT": "json"}
    log = (tmp_path / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(STORMWATCH, "serve", "--role", "history", env=env,
                                                   stdout=log, stderr=log)
    engine = open_engine(f"sqlite:///{db}")
    connection = await aio_pika.connect(clean.amqp_url)
    try:
        await eventually(lambda: b"history_started" in (tmp_path / "serve.log").read_bytes(), what="started")
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(BrokerNames(clean.namespace).events_exchange,
                                                  aio_pika.ExchangeType.TOPIC, durable=True)
        silence = {"id": "s-9", "matchers": ['service="a"'], "starts_at": 1.0, "ends_at": 2e9, "created_by": "me",
                   "comment": "c", "created_at": 1.0, "state": "active"}
        await exchange.publish(aio_pika.Message(orjson.dumps(builders.silence_created(silence, "me", 1.0, "c"))),
                               routing_key="silence.created")
        await eventually(lambda: _has(engine, "s-9:created"), what="the event written")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
        assert b"worker_started" not in (tmp_path / "serve.log").read_bytes()  # no alert consumer, no HTTP
    finally:
        if process.returncode is None:
            process.kill()
        await connection.close()
        await engine.dispose()
        log.close()


async def _has(engine: Any, event_id: str) -> bool:
    try:
        return event_id in await applied_ids(engine)
    except sa.exc.OperationalError:  # not migrated yet
        return False


async def test_the_writer_keeps_the_rollups_of_ended_days_warm(clean, tmp_path):
    """Events about incidents of days that ended: the writer's background round computes those days' roll-ups by
    itself (docs/reports.md "Roll-ups"), with the incidents the events wrote; no report asked."""
    from stormwatch.history.store import day_of
    from tests.integration import report_history as gen
    history = gen.generate(seed=9, count=3)  # days before gen.END: ended by the real clock
    async with history_database("sqlite", tmp_path) as url:
        settings = clean.model_copy(update={"history_enabled": True, "history_url": url, "metrics_enabled": False,
                                            "history_rollup_seconds": 0.2, "history_rollup_days": 50,
                                            "history_retention_days": 1})
        worker = await started(Worker(settings))
        engine = open_engine(url)
        connection = await aio_pika.connect(settings.amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(BrokerNames(settings.namespace).events_exchange)
            events = [e for spec in history.incidents for e, _ in gen.incident_events(spec)]
            for event in events:
                await exchange.publish(aio_pika.Message(orjson.dumps(event), message_id=str(uuid.uuid4())),
                                       routing_key=event["type"])
            days = {day_of(s.created_at) for s in history.incidents}
            d, f = schema.rollup_days.c, schema.rollup_figures.c

            async def warm() -> bool:
                async with engine.connect() as conn:
                    states = (await conn.execute(sa.select(d.changes, d.computed).where(d.day.in_(days)))).all()
                    opened = (await conn.execute(sa.select(sa.func.sum(f.incidents)).where(
                        f.day.in_(days), f.dim == "all"))).scalar()
                return (worker.history.writer.written == len(events) and len(states) == len(days)
                        and all(s.computed == s.changes for s in states) and opened == len(history.incidents))
            await eventually(warm, what="the ended days rolled up in the background, with every incident")
        finally:
            await connection.close()
            await engine.dispose()
            await worker.stop()
