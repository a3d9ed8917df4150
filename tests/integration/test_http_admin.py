"""Silences, rules, OpenAPI and the auth modes over real HTTP against the real worker."""

from __future__ import annotations

import pytest
import structlog.testing

from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.api_helpers import ADMIN, INGEST, READ, RESPOND, Api, EventTap, bearer, start_api
from tests.integration.helpers import metric, stored_alerts, v2_alert
from tests.integration.test_rules_reload import BROKEN, RULE

@pytest.fixture
async def api(clean):
    async for api in start_api(clean):
        yield api


async def test_silences_create_list_expire_and_mute(api):
    tap = await EventTap(api.worker.settings).start()
    answer = await api.post("/api/v1/silences", {"matchers": ['service="orders-db"'], "duration": "1h",
                                                 "comment": "failover drill"}, token=RESPOND)
    assert answer.status_code == 201, answer.text
    silence = answer.json()
    assert (silence["state"], silence["created_by"]) == ("active", "sre")
    assert [s["id"] for s in (await api.get("/api/v1/silences")).json()] == [silence["id"]]

    await api.post("/api/v2/alerts", [v2_alert("PostgresDown", "orders-db", "db-1")], token=INGEST)
    await eventually(lambda: stored_alerts(api.worker) >= 1)
    assert await api.worker.store.list_incidents() == []
    assert metric(api.worker, "stormwatch_alerts_muted_total") == 1

    assert (await api.delete(f"/api/v1/silences/{silence['id']}", token=None)).status_code == 401
    assert (await api.delete(f"/api/v1/silences/{silence['id']}", token=READ)).status_code == 403
    assert (await api.get("/api/v1/silences")).json()[0]["state"] == "active"  # nothing changed
    expired = await api.delete(f"/api/v1/silences/{silence['id']}")
    assert expired.json()["state"] == "expired"
    assert (await api.get("/api/v1/silences")).json() == []
    assert [s["state"] for s in (await api.get("/api/v1/silences", params={"expired": "true"})).json()] == ["expired"]
    assert (await api.delete("/api/v1/silences/nope")).status_code == 404
    # each change is an event on <ns>.events with who made it (refused requests publish nothing)
    # (and the muted notification one alert.muted, naming the silence: docs/events.md; it may come before or after
    # the expiry, which another connection publishes)
    await eventually(lambda: _types_are(tap, ["alert.muted", "silence.created", "silence.expired"]),
                     what="silence events")
    created, gone = (e for e in tap.seen if e["type"].startswith("silence."))
    (muted,) = (e for e in tap.seen if e["type"] == "alert.muted")
    assert [(m["reason"], m["notifications"]) for m in muted["mutes"]] == [(f"silence:{silence['id']}", 1)]
    assert (created["by"], created["silence"]["id"], gone["by"]) == ("sre", silence["id"], "sre")
    assert "failover drill" in created["reason"] and gone["silence"]["state"] == "expired"
    await tap.close()


async def _types_are(tap: EventTap, expected: list[str]) -> bool:
    """The events read so far are these (sorted: ``expected`` in order of the type names)."""
    return sorted(await tap.types()) == expected


async def test_silence_bodies_are_checked_and_need_a_respond_token(api):
    good = {"matchers": ['service="x"'], "duration": "1h", "comment": "c"}
    for token, status in ((None, 401), (READ, 403), (INGEST, 403)):
        assert (await api.post("/api/v1/silences", good, token=token)).status_code == status
    assert (await api.get("/api/v1/silences")).json() == []
    for body, field in (({**good, "matchers": ['service=="x"']}, "matchers.0"), ({**good, "matchers": []}, "matchers"),
                        ({**good, "duration": "soon"}, "duration"), ({**good, "extra": 1}, "extra"),
                        ({"matchers": ['a="b"'], "comment": "c"}, "duration")):
        answer = await api.post("/api/v1/silences", body, token=RESPOND)
        assert answer.status_code == 422 and answer.json()["field"] == field, (body, answer.text)
    # times that are not times: a NaN end once made a silence that crashed every batch (and the listing)
    for body, field in (({**good, "ends_at": "nan"}, "ends_at"), ({**good, "ends_at": "inf"}, "ends_at"),
                        ({**good, "ends_at": 1e300}, "ends_at"), ({**good, "starts_at": -1}, "starts_at"),
                        ({**good, "starts_at": "-Infinity"}, "starts_at"), ({**good, "duration": "9999999w"}, "ends_at")):
        answer = await api.post("/api/v1/silences", body, token=RESPOND)
        assert answer.status_code == 422 and answer.json()["field"] == field, (body, answer.text)
    assert (await api.get("/api/v1/silences")).json() == []


async def test_a_stored_silence_that_cannot_be_read_is_left_out_and_alerts_flow(api):
    """What a NaN end left in Redis before times were checked (its JSON has ``"ends_at": null``): every batch reads
    the silences, so it crashed every batch. Now it is left out with a log line; alerts are stored, the list
    answers, and a good silence beside it still mutes."""
    keys = api.worker.keyspace
    await api.worker.redis.hset(keys.silences, "bad1", b'{"id":"bad1","matchers":["service=\\"web\\""],'
                                b'"starts_at":1.0,"ends_at":null,"created_by":"x","comment":"c"}')
    good = await api.post("/api/v1/silences", {"matchers": ['service="orders-db"'], "duration": "1h",
                                               "comment": "drill"}, token=RESPOND)
    assert good.status_code == 201, good.text
    assert [s["id"] for s in (await api.get("/api/v1/silences")).json()] == [good.json()["id"]]
    await api.post("/api/v2/alerts", [v2_alert("PostgresDown", "orders-db", "db-1"), v2_alert("Slow", "web", "w-1")],
                   token=INGEST)
    await eventually(lambda: stored_alerts(api.worker) >= 2, what="both alerts stored")
    assert metric(api.worker, "stormwatch_alerts_muted_total") == 1  # the good silence; web's alert pages
    assert len(await api.worker.store.list_incidents()) == 1
    with structlog.testing.capture_logs() as logs:  # said once per process, not once per batch
        await api.post("/api/v2/alerts", [v2_alert("Slow", "web", "w-2")], token=INGEST)
        await eventually(lambda: stored_alerts(api.worker) >= 3, what="the next batch stored")
    assert [e for e in logs if e["event"] == "silence_unreadable"] == []
    assert (await api.delete("/api/v1/silences/bad1")).status_code == 404  # nothing to end: delete it from Redis


async def test_rules_summary_validate_and_reload(clean, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    async for api in start_api(clean, rules=str(rules), rules_poll_seconds=0):
        assert (await api.get("/api/v1/rules")).json()["groups"] == []

        ok = await api.post("/api/v1/rules/validate?file=api.yaml", RULE, token=READ)
        assert ok.status_code == 200 and ok.json() == {"valid": True, "errors": []}
        bad = await api.post("/api/v1/rules/validate?file=api.yaml", BROKEN, token=READ)
        assert bad.status_code == 422 and "api.yaml:4" in bad.json()["errors"][0]
        assert (await api.post("/api/v1/rules/validate", RULE, token=None)).status_code == 401

        (rules / "api.yaml").write_text(BROKEN)
        assert (await api.post("/api/v1/rules/reload", token=None)).status_code == 401
        assert (await api.post("/api/v1/rules/reload", token=RESPOND)).status_code == 403  # admin only
        assert metric(api.worker, "stormwatch_rules_reloads_total", {"outcome": "refused"}) == 0
        refused = await api.post("/api/v1/rules/reload", token=ADMIN)
        assert refused.status_code == 422 and refused.json()["valid"] is False
        assert "api.yaml" in refused.json()["errors"][0]
        assert (await api.get("/api/v1/rules")).json()["groups"] == []  # the running set stayed

        (rules / "api.yaml").write_text(RULE)
        tap = await EventTap(api.worker.settings).start()
        applied = await api.post("/api/v1/rules/reload", token=ADMIN)
        assert applied.status_code == 200 and applied.json()["groups"] == [{"name": "api-errors", "team": "core"}]
        await eventually(lambda: _types_are(tap, ["rules.reloaded"]), what="the rules.reloaded event")
        assert tap.seen[0]["by"] == "ops" and tap.seen[0]["rules"]["groups"] == applied.json()["groups"]
        await tap.close()
        await api.post("/api/v2/alerts", [v2_alert("HighErrorRate", "checkout", "pod-1")], token=INGEST)
        await eventually(lambda: stored_alerts(api.worker) >= 1)
        (incident,) = await api.worker.store.list_incidents()
        assert (incident.rule, incident.team) == ("api-errors", "core")


async def test_openapi_documents_every_route(api):
    doc = (await api.client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v2/alerts", "/v2/enqueue", "/api/v1/incidents", "/api/v1/incidents/{id}/acknowledge",
                 "/api/v1/silences/{id}", "/api/v1/rules/reload"):
        assert path in doc["paths"], path
    assert "Incident" in doc["components"]["schemas"]
    routes = {r.path for r in api.worker.ops.config.app.routes}
    console = {"/", "/console"}  # the web console's static files (GET / redirects there): not API operations
    assert console <= routes
    assert routes - {"/openapi.json"} - console <= set(doc["paths"])


async def test_without_tokens_the_api_refuses_everything_but_ops_serve(clean):
    worker = Worker(clean)  # no STORMWATCH_API_TOKENS, auth not disabled
    await worker.start()
    api = Api(worker)
    try:
        answer = await api.post("/api/v2/alerts", [v2_alert("X", "s", "p")], token=None)
        assert answer.status_code == 401 and "STORMWATCH_API_TOKENS" in answer.json()["detail"]
        assert (await api.get("/api/v1/incidents", token=None)).status_code == 401
        assert (await api.post("/api/v2/alerts", [v2_alert("X", "s", "p")], token=ADMIN)).status_code == 401
        refused = await api.get("/api/v1/incidents", token=ADMIN)
        assert (refused.status_code, refused.json()["reason"]) == (401, "no_tokens_configured")
        assert refused.json()["error"] == "unauthorized"  # the existing fields stay
        assert (await api.client.get("/healthz")).status_code == 200
        assert (await api.client.get("/readyz")).status_code == 200
        assert (await api.client.get("/metrics")).status_code == 200
        assert stored_alerts(worker) == 0
    finally:
        await api.close()
        await worker.stop()


async def test_auth_disabled_is_an_explicit_development_switch(clean):
    worker = Worker(clean.model_copy(update={"auth_disabled": True}))
    await worker.start()
    api = Api(worker)
    try:
        assert (await api.post("/api/v2/alerts", [v2_alert("Dev", "s", "p")], token=None)).status_code == 200
        await eventually(lambda: stored_alerts(worker) >= 1)
        (incident,) = (await api.get("/api/v1/incidents", token=None)).json()["items"]
        answer = await api.post(f"/api/v1/incidents/{incident['id']}/acknowledge", None, token=None)
        assert answer.json()["incident"]["acknowledged_by"] == "anonymous"
    finally:
        await api.close()
        await worker.stop()


async def test_refusals_say_why_in_a_machine_readable_reason(clean):
    """401/403 bodies keep error and detail and add reason: which refusal it is, and nothing more."""
    async for api in start_api(clean):
        cases = [
            ({}, 401, "missing_token"),
            ({"Authorization": "Basic abc"}, 401, "malformed"),
            (bearer("not-a-token-0123456789abcdef"), 401, "unknown_token"),
            (bearer(INGEST), 403, "role"),
        ]
        for headers, status, reason in cases:
            answer = await api.client.get("/api/v1/incidents", headers=headers)
            doc = answer.json()
            assert (answer.status_code, doc["reason"]) == (status, reason), doc
            assert doc["error"] == ("unauthorized" if status == 401 else "forbidden") and doc["detail"]
            assert "not-a-token" not in answer.text
        who = await api.get("/api/v1/whoami", token=READ)
        assert who.json() == {"name": "viewer", "role": "read", "capabilities": ["read"]}
        # a timestamp in the window (a stale one is refused from the headers, before the body: stale_signature)
        now = int(api.worker.clock())
        signed = await api.post("/api/v2/alerts", [v2_alert("X", "s", "p")], token=None,
                                headers={"X-Stormwatch-Signature": f"t={now},v1=00"})
        assert (signed.status_code, signed.json()["reason"]) == (401, "bad_signature")
        stale = await api.post("/api/v2/alerts", [v2_alert("X", "s", "p")], token=None,
                               headers={"X-Stormwatch-Signature": "t=1,v1=00"})
        assert (stale.status_code, stale.json()["reason"]) == (401, "stale_signature")


async def test_a_signing_secret_alone_is_no_token(clean):
    """With only the ingest HMAC secret set, a bearer token is refused as 'no tokens configured', not 'unknown'."""
    async for api in start_api(clean, api_tokens=""):
        refused = await api.get("/api/v1/incidents", token=READ)
        assert (refused.status_code, refused.json()["reason"]) == (401, "no_tokens_configured")
