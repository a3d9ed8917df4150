"""The incident API over real HTTP against the real worker, Redis and RabbitMQ."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from redis.asyncio import Redis

from correlation.store.sla import SLA_FIELD
from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.api_helpers import ADMIN, INGEST, READ, RESPOND, EventTap, start_api
from tests.integration.helpers import body, metric, publish, run_cli, stored_alerts, v2_alert

MANUAL_RULE = """
groups:
  - name: db
    match: ['service="orders-db"']
    group_by: [service]
    team: dba
    auto_resolve: {mode: manual}
"""


@pytest.fixture
async def api(clean):
    async for api in start_api(clean):
        yield api


async def one_incident(api, alertname: str = "PostgresDown", service: str = "orders-db") -> str:
    before = stored_alerts(api.worker)
    assert (await api.post("/api/v2/alerts", [v2_alert(alertname, service, "db-1")], token=INGEST)).status_code == 200
    await eventually(lambda: stored_alerts(api.worker) > before, what="alert stored")
    (incident,) = [i for i in await api.worker.store.list_incidents() if i.group_labels.get("service") == service]
    return incident.id


async def test_the_api_and_the_cli_show_one_incident_document(api):
    """GET /api/v1/incidents/{id} and `stormwatch incidents show` straight from Redis: one document, one home."""
    incident_id = await one_incident(api)
    assert (await api.post(f"/api/v1/incidents/{incident_id}/comment", {"text": "looking"},
                           token=RESPOND)).status_code == 200
    response = await api.get(f"/api/v1/incidents/{incident_id}")
    assert response.status_code == 200
    from_api = response.json()
    assert {"members", "timeline", "symptoms", "actions"} <= from_api.keys()
    assert from_api["timeline"][-1]["kind"] == "commented"
    code, out, err = await run_cli(api.worker.settings, "incidents", "show", incident_id, "--json")
    assert code == 0, err
    assert orjson.loads(out) == from_api


async def test_acknowledge_resolve_reopen_with_timeline_events_and_index(api):
    tap = await EventTap(api.worker.settings).start()
    try:
        iid = await one_incident(api)
        answer = await api.post(f"/api/v1/incidents/{iid}/acknowledge", {"comment": "on it"}, token=RESPOND)
        assert answer.status_code == 200, answer.text
        doc = answer.json()
        assert doc["changed"] and doc["event_published"]
        assert doc["incident"]["status"] == "acknowledged" and doc["incident"]["acknowledged_by"] == "sre"
        again = await api.post(f"/api/v1/incidents/{iid}/acknowledge", None, token=RESPOND)
        assert again.json()["changed"] is False

        assert (await api.post(f"/api/v1/incidents/{iid}/resolve", None, token=RESPOND)).status_code == 200
        assert await api.worker.redis.zscore(api.worker.keyspace.open_incidents, iid) is None
        # a crash between the write and the index update, then the caller retries: the retry repairs the index
        await api.worker.redis.zadd(api.worker.keyspace.open_incidents, {iid: 1.0})
        retried = await api.post(f"/api/v1/incidents/{iid}/resolve", None, token=RESPOND)
        assert retried.json()["changed"] is False
        assert await api.worker.redis.zscore(api.worker.keyspace.open_incidents, iid) is None
        refused = await api.post(f"/api/v1/incidents/{iid}/acknowledge", None, token=RESPOND)
        assert refused.status_code == 409 and "reopen" in refused.json()["detail"]

        reopened = await api.post(f"/api/v1/incidents/{iid}/reopen", {"comment": "still down"}, token=RESPOND)
        assert reopened.json()["incident"]["status"] == "open"
        assert reopened.json()["incident"]["firing"] == 1  # recounted from its members
        assert await api.worker.redis.zscore(api.worker.keyspace.open_incidents, iid) is not None

        detail = (await api.get(f"/api/v1/incidents/{iid}")).json()
        people = [(e["kind"], e["by"]) for e in detail["timeline"] if "by" in e]
        assert people == [("acknowledged", "sre"), ("resolved", "sre"), ("reopened", "sre")]
        assert detail["timeline"][-1]["text"] == "reopened by sre: still down"
        assert detail["why"]["group_labels"] == {"alertname": "PostgresDown", "service": "orders-db"}
        assert [m["labels"]["instance"] for m in detail["members"]] == ["db-1"]

        expected = ["incident.created", "incident.acknowledged", "incident.resolved", "incident.reopened"]
        await eventually(lambda: _types_are(tap, expected), what="the events")
        ack = tap.seen[1]
        assert (ack["by"], ack["incident"]["status"], ack["incident"]["id"]) == ("sre", "acknowledged", iid)
        assert len({e["event_id"] for e in tap.seen}) == 4
    finally:
        await tap.close()


async def _types_are(tap: EventTap, expected: list[str]) -> bool:
    return await tap.types() == expected


async def test_assign_comment_priority_and_bad_bodies(api):
    iid = await one_incident(api)
    assert (await api.post(f"/api/v1/incidents/{iid}/assign", {"assignee": "ana"}, token=RESPOND)).json()[
        "incident"]["assignee"] == "ana"
    assert (await api.post(f"/api/v1/incidents/{iid}/comment", {"text": "failover started"}, token=RESPOND)).status_code == 200
    # the incident opened with its severity's default priority (critical: P1); people change it
    answer = await api.post(f"/api/v1/incidents/{iid}/priority", {"priority": "P2"}, token=RESPOND)
    assert answer.json()["incident"]["priority"] == "P2"

    bad = await api.post(f"/api/v1/incidents/{iid}/priority", {"priority": "P9"}, token=RESPOND)
    assert bad.status_code == 422 and bad.json()["field"] == "priority"
    bad = await api.post(f"/api/v1/incidents/{iid}/comment", {"txt": "typo"}, token=RESPOND)
    assert bad.status_code == 422 and bad.json()["field"] in ("text", "txt")
    bad = await api.post(f"/api/v1/incidents/{iid}/assign", b"{", token=RESPOND)
    assert bad.status_code == 400 and bad.json()["field"] == "body"
    missing = await api.post("/api/v1/incidents/INC-0123456789ab-9/acknowledge", None, token=RESPOND)
    assert missing.status_code == 404
    assert (await api.get("/api/v1/incidents/nope")).status_code == 404

    texts = [e["text"] for e in (await api.get(f"/api/v1/incidents/{iid}")).json()["timeline"] if "by" in e]
    assert texts == ["assigned to ana by sre", "sre: failover started", "priority P1 -> P2 by sre"]
    assert metric(api.worker, "stormwatch_incident_commands_total", {"command": "priority", "outcome": "refused"}) == 0


MUTATIONS = [("post", "/acknowledge", {}), ("post", "/resolve", {}), ("post", "/reopen", {}),
             ("post", "/assign", {"assignee": "x"}), ("post", "/comment", {"text": "x"}),
             ("post", "/priority", {"priority": "P1"})]


@pytest.mark.parametrize(("method", "suffix", "payload"), MUTATIONS)
async def test_every_mutation_needs_a_respond_token_and_changes_nothing_without(api, method, suffix, payload):
    iid = await one_incident(api)
    # the SLA service writes its records onto the new incident after the opening; the snapshot waits for them
    await eventually(lambda: api.worker.redis.hexists(api.worker.keyspace.incident(iid), SLA_FIELD),
                     what="the incident's SLA records")
    before = await _snapshot(api.worker, iid)
    for token, status in ((None, 401), ("wrong-token-0123456789", 401), (READ, 403), (INGEST, 403)):
        answer = await api.post(f"/api/v1/incidents/{iid}{suffix}", payload, token=token)
        assert answer.status_code == status, (token, answer.text)
    assert await _snapshot(api.worker, iid) == before


async def _snapshot(worker: Worker, iid: str) -> tuple:
    redis: Redis = worker.redis
    keys = worker.keyspace
    return (await redis.hgetall(keys.incident(iid)), await redis.lrange(keys.incident_timeline(iid), 0, -1),
            await redis.zscore(keys.open_incidents, iid))


async def test_reads_need_a_token(api):
    for path in ("/api/v1/incidents", "/api/v1/incidents/INC-0123456789ab-1", "/api/v1/silences", "/api/v1/rules"):
        assert (await api.get(path, token=None)).status_code == 401
        assert (await api.get(path, token=INGEST)).status_code == 403


async def test_list_filters_and_pages(api):
    ids = [await one_incident(api, f"Alert{n}", f"svc-{n}") for n in range(5)]
    await api.post(f"/api/v1/incidents/{ids[1]}/resolve", None, token=RESPOND)
    await api.post(f"/api/v1/incidents/{ids[2]}/acknowledge", None, token=RESPOND)

    seen, cursor = [], None
    while True:
        page = (await api.get("/api/v1/incidents", params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, each once

    open_ids = [i["id"] for i in (await api.get("/api/v1/incidents", params={"status": "open,acknowledged"})).json()["items"]]
    assert sorted(open_ids) == sorted(set(ids) - {ids[1]})
    resolved = (await api.get("/api/v1/incidents", params={"status": "resolved"})).json()["items"]
    assert [i["id"] for i in resolved] == [ids[1]]
    assert (await api.get("/api/v1/incidents", params={"rule": "nope"})).json()["items"] == []
    assert len((await api.get("/api/v1/incidents", params={"rule": "default", "since": 0})).json()["items"]) == 5
    assert (await api.get("/api/v1/incidents", params={"until": "2000-01-01T00:00:00Z"})).json()["items"] == []
    assert len((await api.get("/api/v1/incidents", params={"since": "1h"})).json()["items"]) == 5  # a duration too
    for bad in ({"status": "closed"}, {"limit": "0"}, {"limit": "²"}, {"limit": "٣"}, {"limit": "9" * 5000},
                {"since": "yesterday"}, {"cursor": "!!"}, {"since": "nan"},
                {"until": "inf"}, {"until": "2026-01-01T00:00:00"}):  # a time without its zone: whose local time?
        answer = await api.get("/api/v1/incidents", params=bad)
        assert answer.status_code == 400 and answer.json()["field"] == next(iter(bad))


async def test_manual_rule_stays_open_until_someone_resolves_it(clean, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "db.yaml").write_text(MANUAL_RULE)
    async for api in start_api(clean, rules=str(rules)):
        iid = await one_incident(api)
        await api.post("/api/v2/alerts", [v2_alert("PostgresDown", "orders-db", "db-1", resolved=True)], token=INGEST)
        await eventually(lambda: stored_alerts(api.worker) >= 2, what="the resolve stored")
        incident = (await api.get(f"/api/v1/incidents/{iid}")).json()
        assert (incident["status"], incident["firing"], incident["team"]) == ("open", 0, "dba")
        answer = await api.post(f"/api/v1/incidents/{iid}/resolve", {"comment": "verified"}, token=RESPOND)
        assert answer.json()["incident"]["status"] == "resolved"
        assert answer.json()["incident"]["resolved_by"] == "sre"


async def test_commands_and_a_busy_worker_never_lose_each_others_writes(api):
    """Comments race the worker's writes to the same group: every comment lands, every alert is counted."""
    iid = await one_incident(api, "Busy", "svc")
    repeats = 40
    bodies = [body([v2_alert("Busy", "svc", f"pod-{i % 4}")]) for i in range(repeats)]
    publisher = asyncio.create_task(publish(api.worker.settings, bodies))
    answers = await asyncio.gather(*(api.post(f"/api/v1/incidents/{iid}/comment", {"text": f"note {n}"},
                                              token=RESPOND) for n in range(20)))
    await publisher
    assert all(a.status_code == 200 for a in answers)
    await eventually(lambda: stored_alerts(api.worker) >= 1 + repeats, what="every alert stored")
    detail = (await api.get(f"/api/v1/incidents/{iid}")).json()
    notes = sorted(e["text"] for e in detail["timeline"] if e["kind"] == "commented")
    assert notes == sorted(f"sre: note {n}" for n in range(20))
    assert detail["occurrences"] == 1 + repeats
    assert detail["alerts"] == 5 and detail["status"] == "open"  # db-1 and pod-0..3


async def test_admin_may_do_what_respond_may(api):
    iid = await one_incident(api)
    assert (await api.post(f"/api/v1/incidents/{iid}/acknowledge", None, token=ADMIN)).json()["incident"][
        "acknowledged_by"] == "ops"
