"""The ticketing bridge (issue 21) against a real Request Tracker (Debian's request-tracker5, started by the test),
the real worker, Redis and RabbitMQ: a declared incident opens one ticket, people's commands update it, the ticket
resolved in RT resolves the incident through the signed webhook, reopened there reopens it, resolved again in
Stormwatch resolves the ticket again, Stormwatch's own echo is dropped, and a worker
that died after creating the ticket but before storing its reference leaves no second ticket."""

from __future__ import annotations

import time

import orjson
import pytest
import pytest_asyncio

from stormwatch.auth import sign
from tests.conftest import eventually
from tests.integration.actions_support import action_settings, settled
from tests.integration.api_helpers import RESPOND, start_api
from tests.integration.helpers import metric
from tests.integration.request_tracker import request_tracker
from tests.integration.test_declared_incidents import declaration

WEBHOOK_SECRET = "ticket-webhook-secret-0123456789"
FOLLOW = "[created, promoted, acknowledged, commented, priority_changed, resolved, reopened]"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rt(tmp_path_factory):
    """One Request Tracker for the module (it takes seconds to start); each test declares an incident of its own
    service, so a test's tickets (found by incident id) are never another test's."""
    async for server in request_tracker(tmp_path_factory.mktemp("rt")):
        yield server


@pytest.fixture
async def api(clean, tmp_path, rt, monkeypatch):
    monkeypatch.setenv("TEST_RT_AUTH", rt.auth)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.yaml").write_text(f"""
actions:
  - name: rt-ticket
    type: ticket
    config: {{system: rt, url: "{rt.url}", queue: General, user: root,
              headers: {{Authorization: {{secret_env: TEST_RT_AUTH}}}}}}
groups:
  - name: declared
    match: ['__declared__="service"']
    actions:
      - {{action: rt-ticket, on: {FOLLOW}}}
""")
    async for api in start_api(action_settings(clean, rules), ticket_webhook_secret=WEBHOOK_SECRET):
        yield api


async def _ticket(api, iid: str) -> str:
    async def stored():
        return (await api.get(f"/api/v1/incidents/{iid}")).json().get("ticket")

    return str(await eventually(stored, what="the ticket reference")).removeprefix("rt:")


async def _signed(api, body: dict, secret: str = WEBHOOK_SECRET):
    raw = orjson.dumps(body)
    return await api.post("/api/v1/webhooks/tickets/rt", raw, token=None,
                          headers={"X-Stormwatch-Signature": sign(secret, raw, int(time.time())),
                                   "Content-Type": "application/json"})


async def test_one_ticket_follows_the_incident_and_rt_resolves_it_back(api, rt):
    declared = await api.post("/api/v1/incidents", declaration(service="checkout-follows"), token=RESPOND)
    iid = declared.json()["incident"]["id"]
    ref = await _ticket(api, iid)
    ticket = await rt.get(f"/REST/2.0/ticket/{ref}")
    assert ticket["Subject"].startswith(f"[P2] {iid}:") and ticket["Queue"]["id"] == "1"

    for path, body in [("acknowledge", {}), ("comment", {"text": "found a bad deploy"}),
                       ("priority", {"priority": "P1"})]:
        assert (await api.post(f"/api/v1/incidents/{iid}/{path}", body, token=RESPOND)).status_code == 200
    await settled(api.worker, 4, iid, what="create + three updates")
    ticket = await rt.get(f"/REST/2.0/ticket/{ref}")
    assert ticket["Status"] == "open" and int(ticket["Priority"]) == 1
    history = await rt.get(f"/REST/2.0/ticket/{ref}/history?fields=Type,Content")
    comments = [t for t in history["items"] if t.get("Type") == "Comment"]
    assert len(comments) == 3

    # Stormwatch's own comment, echoed back by RT's scrip: dropped
    echo = await _signed(api, {"ticket": ref, "type": "Comment", "actor": "root",
                               "content": "[stormwatch] commented: found a bad deploy"})
    assert echo.status_code == 200 and echo.json() == {"applied": False, "echo": True}
    # a person resolves the ticket in RT: the incident resolves, by rt:alice
    await rt.post(f"/REST/2.0/ticket/{ref}", {"Status": "resolved"}, method="PUT")
    resolved = await _signed(api, {"ticket": ref, "type": "Status", "status": "resolved", "actor": "alice"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["incident"]["status"] == "resolved" and resolved.json()["incident"]["resolved_by"] == \
        "rt:alice"
    # the incident's resolve event updates the ticket once more (a comment), never a second ticket
    await settled(api.worker, 5, iid, what="the resolve run")
    assert [str(t["id"]) for t in await rt.tickets_about(iid)] == [ref]
    assert metric(api.worker, "stormwatch_ticket_webhooks_total", {"outcome": "echo"}) == 1

    # a person reopens the ticket in RT: the incident reopens, and the reopen run sets the ticket open
    await rt.post(f"/REST/2.0/ticket/{ref}", {"Status": "open"}, method="PUT")
    reopened = await _signed(api, {"ticket": ref, "type": "Status", "status": "open", "actor": "alice"})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["incident"]["status"] == "open" and reopened.json()["incident"]["reopened_by"] == \
        "rt:alice"
    (reopen,) = [r for r in await settled(api.worker, 6, iid, what="the reopen run") if r["trigger"] == "reopened"]
    assert reopen["state"] == "succeeded", reopen
    # resolved again in Stormwatch: a second resolution is a run of its own, and the ticket resolves again
    assert (await api.post(f"/api/v1/incidents/{iid}/resolve", {}, token=RESPOND)).status_code == 200
    runs = await settled(api.worker, 7, iid, what="the second resolve run")
    assert sorted(r["state"] for r in runs if r["trigger"] == "resolved") == ["succeeded", "succeeded"]
    assert (await rt.get(f"/REST/2.0/ticket/{ref}"))["Status"] == "resolved"


async def test_a_worker_that_died_before_storing_the_reference_leaves_no_second_ticket(api, rt):
    declared = await api.post("/api/v1/incidents", declaration(service="checkout-no-second"), token=RESPOND)
    iid = declared.json()["incident"]["id"]
    ref = await _ticket(api, iid)
    await settled(api.worker, 1, iid)
    # the state a worker killed between RT's answer and storing the reference leaves: a ticket, no reference
    await api.worker.redis.hdel(api.worker.keyspace.incident(iid), "ticket")
    assert (await api.post(f"/api/v1/incidents/{iid}/major", {}, token=RESPOND)).status_code == 200  # promoted
    (run,) = [r for r in await settled(api.worker, 2, iid) if r["trigger"] == "promoted"]
    assert run["state"] == "succeeded" and "found" in run["detail"], run
    assert await _ticket(api, iid) == ref
    assert [str(t["id"]) for t in await rt.tickets_about(iid)] == [ref]


@pytest.mark.parametrize(("body", "secret", "status", "field"), [
    ({"ticket": "1", "type": "Status", "status": "resolved", "actor": "a"}, "wrong-secret-0123456789abc", 401,
     "X-Stormwatch-Signature"),
    ({"type": "Status"}, WEBHOOK_SECRET, 422, "body"),
    ({"ticket": "999999", "type": "Comment", "content": "hi", "actor": "a"}, WEBHOOK_SECRET, 404, "ticket"),
    ({"ticket": "1", "type": "Comment", "content": "", "actor": "a"}, WEBHOOK_SECRET, 404, "ticket"),
])
async def test_hostile_webhooks_are_refused_naming_the_field(api, body, secret, status, field):
    answer = await _signed(api, body, secret)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field
    unsigned = await api.post("/api/v1/webhooks/tickets/rt", orjson.dumps(body), token=None)
    assert unsigned.status_code == 401 and unsigned.json()["field"] == "X-Stormwatch-Signature"
    unknown = await api.post("/api/v1/webhooks/tickets/glpi", b"{}", token=None)
    assert unknown.status_code == 404 and unknown.json()["field"] == "system"
