"""Change events against the real RabbitMQ and Redis (docs/changes.md): ingest through both APIs (PagerDuty's own
client for /v2/change/enqueue), hostile input, dead-lettering, retention, and probable-cause links made from both
sides: at an incident's opening, and when a change arrives at another worker than the one that opened it."""

from __future__ import annotations

import asyncio
import time

import aio_pika
import orjson
import pytest

from events.names import CHANGES_ROUTE
from events.dead_letter import REASON_HEADER
from ingest.topology import FORMAT_HEADER, Names
from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, READ, EventTap, start_api
from tests.integration.helpers import metric, run_cli, v2_alert
from tests.integration.test_dead_letter import _dead_letters
from tests.integration.test_services import write_catalog


def _change(cid: str, service: str, *, minutes_ago: float = 1.0, **more) -> dict:
    return {"id": cid, "service": service, "summary": f"deploy {cid}", "kind": "deploy", "environment": "prod",
            "source": "ci", "at": time.time() - 60 * minutes_ago, **more}


async def _listed(api, service: str | None = None) -> list[dict]:
    path = "/api/v1/changes" + (f"?service={service}" if service else "")
    return (await api.get(path)).json()["items"]


async def test_changes_come_in_through_both_apis_and_hostile_input_is_refused(clean, tmp_path):
    async for api in start_api(clean, rules=write_catalog(tmp_path / "rules")):
        first = await api.post("/api/v1/changes", _change("c-1", "payments-db"), token=INGEST)
        assert first.status_code == 202 and first.json() == {"status": "accepted", "id": "c-1",
                                                              "service": "payments-db"}
        # the same id again is the same change; an unknown service is accepted and kept
        again = await api.post("/api/v1/changes", _change("c-1", "payments-db"), token=INGEST)
        assert again.status_code == 202
        unknown = await api.post("/api/v1/changes", _change("c-2", "not-in-catalog"), token=INGEST)
        assert unknown.status_code == 202
        await eventually(lambda: metric(api.worker, "stormwatch_changes_total", {"outcome": "duplicate"}) >= 1,
                         what="the duplicate handled")
        await eventually(lambda: _listed(api, "not-in-catalog"), what="the unknown service's change")
        assert [c["id"] for c in await _listed(api, "payments-db")] == ["c-1"]
        assert {c["id"] for c in await _listed(api)} == {"c-1", "c-2"}

        # PagerDuty's own client, pointed at Stormwatch with an ingest token
        pdpyras = pytest.importorskip("pdpyras")
        session = pdpyras.ChangeEventsAPISession("R0UTINGKEY0000000000000000000000")
        session.url = str(api.client.base_url).rstrip("/")
        session.headers["Authorization"] = f"Bearer {INGEST}"
        answer_id = await asyncio.to_thread(
            session.submit, "Deployed payments-api v1.4.2", source="github-actions",
            custom_details={"service": "payments-api", "environment": "prod", "build": 1402},
            links=[{"href": "https://ci.example.com/runs/1402", "text": "build 1402"}])
        assert answer_id
        stored = await eventually(lambda: _listed(api, "payments-api"), what="the PagerDuty change")
        assert (stored[0]["id"], stored[0]["summary"], stored[0]["source"]) == (
            answer_id, "Deployed payments-api v1.4.2", "github-actions")
        assert stored[0]["links"] == [{"href": "https://ci.example.com/runs/1402", "text": "build 1402"}]
        assert "routing_key" not in orjson.dumps(stored[0]).decode()

        bad_pd = await api.post("/v2/change/enqueue", {"routing_key": "k", "payload": {"summary": "x"}},
                                token=INGEST)
        assert bad_pd.status_code == 400 and bad_pd.json()["status"] == "invalid event"
        assert "payload.custom_details.service" in bad_pd.json()["errors"][0]
        bad = await api.post("/api/v1/changes", {"service": "payments-db", "summary": "x", "kind": "reboot"},
                             token=INGEST)
        assert bad.status_code == 400 and bad.json()["field"] == "kind"
        oversize = await api.post("/api/v1/changes", b'{"summary": "' + b"x" * (2 << 20) + b'"}', token=INGEST)
        assert oversize.status_code == 413
        assert (await api.post("/api/v1/changes", _change("c-3", "x"), token=None)).status_code == 401
        assert (await api.post("/api/v1/changes", _change("c-3", "x"), token=READ)).status_code == 403

        # a producer publishing straight to <ns>.changes: the invalid message is dead-lettered with its reason,
        # the valid one beside it stored
        connection = await aio_pika.connect(clean.amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(Names(clean.namespace).changes_exchange)
            for body in (b'{"service": "payments-db"}', orjson.dumps(_change("c-4", "payments-db"))):
                await exchange.publish(aio_pika.Message(body, headers={FORMAT_HEADER: "change"}),
                                       routing_key=CHANGES_ROUTE)
        finally:
            await connection.close()
        (dead,) = await _dead_letters(clean, 1)
        assert dead.headers[REASON_HEADER] == "schema" and dead.headers["x-stormwatch-field"] == "summary"
        await eventually(lambda: _has(api, "payments-db", "c-4"), what="the valid change beside it")
        assert metric(api.worker, "stormwatch_changes_total", {"outcome": "rejected"}) == 1


async def _has(api, service: str, cid: str) -> bool:
    return cid in {c["id"] for c in await _listed(api, service)}


async def test_retention_keeps_the_newest_per_service_and_drops_old_changes(clean, tmp_path):
    async for api in start_api(clean, changes_per_service=3, change_retention_seconds=3600):
        for n in range(5):
            assert (await api.post("/api/v1/changes", _change(f"r-{n}", "svc", minutes_ago=10 - n),
                                   token=INGEST)).status_code == 202
        old = await api.post("/api/v1/changes", _change("ancient", "svc", minutes_ago=120), token=INGEST)
        assert old.status_code == 202
        await eventually(lambda: metric(api.worker, "stormwatch_changes_total", {"outcome": "too_old"}) == 1,
                         what="the old change handled")
        await eventually(lambda: metric(api.worker, "stormwatch_changes_total", {"outcome": "stored"}) == 5,
                         what="five changes handled")
        assert [c["id"] for c in await _listed(api, "svc")] == ["r-4", "r-3", "r-2"]
        keys = api.worker.keyspace
        assert await api.worker.redis.ttl(keys.service_changes("svc")) > 3600  # a quiet service's keys expire


async def _incident_with_changes(api, iid: str) -> dict | None:
    doc = (await api.get(f"/api/v1/incidents/{iid}")).json()
    return doc if doc.get("changes") else None


async def _first_incident(api) -> dict | None:
    items = (await api.get("/api/v1/incidents?status=open")).json()["items"]
    return items[0] if items else None


async def test_a_deploy_minutes_before_the_database_fails_is_linked_when_the_incident_opens(clean, tmp_path):
    async for api in start_api(clean, rules=write_catalog(tmp_path / "rules")):
        tap = await EventTap(clean).start()
        try:
            for change in (_change("db-deploy", "payments-db", minutes_ago=4),
                           _change("api-flag", "checkout", minutes_ago=3, kind="feature-flag"),
                           _change("long-ago", "payments-db", minutes_ago=180)):  # past the 2h look-back
                assert (await api.post("/api/v1/changes", change, token=INGEST)).status_code == 202
            await eventually(lambda: metric(api.worker, "stormwatch_changes_total", {"outcome": "stored"}) == 3,
                             what="three changes stored")
            alert = v2_alert("HighErrorRate", "payments-api", "api-1")
            assert (await api.post("/api/v2/alerts", [alert], token=INGEST)).status_code == 200
            incident = await eventually(lambda: _first_incident(api), what="the incident")
            doc = await eventually(lambda: _incident_with_changes(api, incident["id"]), what="linked changes")
            (linked,) = doc["changes"]  # checkout depends on payments-api, not the other way round
            assert (linked["id"], linked["relation"], linked["distance"]) == ("db-deploy", "dependency", 1)
            assert linked["reason"] == "deploy of payments-db 4m before; payments-api depends on payments-db"
            assert any(e["kind"] == "change" and "deploy db-deploy" in e["text"] for e in doc["timeline"])

            async def created() -> dict | None:
                await tap.types()
                return next((e for e in tap.seen if e["type"] == "incident.created"), None)

            event = await eventually(created, what="incident.created")
            assert [c["id"] for c in event["incident"]["changes"]] == ["db-deploy"]

            code, out, err = await run_cli(clean, "incidents", "show", incident["id"])
            assert code == 0 and "db-deploy" in out and "payments-api depends on payments-db" in out, err
        finally:
            await tap.close()


async def test_a_change_arriving_at_another_worker_is_linked_to_the_open_incident(clean, tmp_path):
    rules = write_catalog(tmp_path / "rules")
    async for first in start_api(clean, rules=rules):
        alert = v2_alert("SlowCheckout", "checkout", "web-1")
        assert (await first.post("/api/v2/alerts", [alert], token=INGEST)).status_code == 200
        incident = await eventually(lambda: _first_incident(first), what="the incident, opened by the first worker")
    tap = await EventTap(clean).start()
    try:
        async for second in start_api(clean, rules=rules):  # the first worker is gone: this one takes the change
            change = _change("db-migration", "payments-db", minutes_ago=0, kind="config")
            assert (await second.post("/api/v1/changes", change, token=INGEST)).status_code == 202
            doc = await eventually(lambda: _incident_with_changes(second, incident["id"]), what="the change linked")
            (linked,) = doc["changes"]
            assert (linked["id"], linked["distance"]) == ("db-migration", 2)
            assert linked["reason"].endswith("checkout depends on payments-db (via payments-api)")

            async def updated() -> dict | None:
                await tap.types()
                return next((e for e in tap.seen if e["type"] == "incident.updated" and e["incident"].get("changes")),
                            None)

            event = await eventually(updated, what="incident.updated with the change")
            assert event["incident"]["id"] == incident["id"]
            assert event["incident"]["changes"][0]["id"] == "db-migration"
            # the same change again links nothing new: no second timeline entry
            assert (await second.post("/api/v1/changes", change, token=INGEST)).status_code == 202
            await eventually(lambda: metric(second.worker, "stormwatch_changes_total", {"outcome": "duplicate"}) == 1,
                             what="the duplicate")
            doc = (await second.get(f"/api/v1/incidents/{incident['id']}")).json()
            assert sum(1 for e in doc["timeline"] if e["kind"] == "change") == 1
            service = (await second.get("/api/v1/services/payments-db")).json()
            assert [c["id"] for c in service["changes"]] == ["db-migration"]
    finally:
        await tap.close()


async def test_the_cli_adds_and_lists_changes_through_rabbitmq_and_the_api(clean):
    async for api in start_api(clean):
        code, out, err = await run_cli(clean, "changes", "add", "--service", "orders-db", "--summary",
                                       "Upgrade to 16.2", "--kind", "infrastructure", "--id", "cli-1", "--link",
                                       "https://ci.example.com/1")
        assert code == 0 and "cli-1" in out, err
        code, out, err = await run_cli(clean, "changes", "add", "--service", "orders-db", "--summary", "x",
                                       "--kind", "reboot")
        assert code == 2 and "kind" in err  # refused before it is published, naming the field
        api_env = {"STORMWATCH_API_URL": str(api.client.base_url), "STORMWATCH_API_TOKEN": INGEST}
        code, out, err = await run_cli(clean, "changes", "add", "-s", "orders-api", "-m", "v2", "--id", "cli-2",
                                       env=api_env)
        assert code == 0, err
        await eventually(lambda: metric(api.worker, "stormwatch_changes_total", {"outcome": "stored"}) == 2,
                         what="both changes stored")
        code, out, err = await run_cli(clean, "changes", "list", "--json")
        assert code == 0, err
        listed = {c["id"]: c for c in orjson.loads(out)}
        assert set(listed) == {"cli-1", "cli-2"} and listed["cli-1"]["kind"] == "infrastructure"
        assert listed["cli-1"]["links"] == [{"href": "https://ci.example.com/1", "text": ""}]
        code, out, err = await run_cli(clean, "changes", "list", "--service", "orders-db",
                                       env={"STORMWATCH_API_URL": str(api.client.base_url),
                                            "STORMWATCH_API_TOKEN": READ})
        assert code == 0 and "Upgrade to 16.2" in out and "cli-2" not in out, err
