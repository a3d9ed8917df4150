"""Declared incidents (issue 21) over real HTTP against the real worker, Redis and RabbitMQ: declare, duplicate
reports joining the open incident, attaching and detaching alerts, people's commands on them, hostile input."""

from __future__ import annotations

import orjson
import pytest

from events.models import event_adapter
from tests.conftest import eventually
from tests.integration.api_helpers import READ, RESPOND, EventTap, start_api
from tests.integration.helpers import metric
from tests.integration.test_cli_incident_commands import _cli_as
from tests.integration.test_http_incidents import one_incident

COMMANDS = "stormwatch_incident_commands_total"


@pytest.fixture
async def api(clean):
    async for api in start_api(clean):
        yield api


def declaration(**over):
    return {"title": "Checkout is broken", "service": "checkout", "description": "customers cannot pay",
            "impact": "high", "urgency": "medium", "team": "payments", "reporter": "alice"} | over


async def test_declare_gives_an_incident_like_any_other_and_a_second_report_joins_it(api):
    tap = await EventTap(api.worker.settings).start()
    try:
        first = await api.post("/api/v1/incidents", declaration(), token=RESPOND)
        assert first.status_code == 201, first.text
        incident = first.json()["incident"]
        assert first.json()["joined"] is False and first.headers["location"] == f"/api/v1/incidents/{incident['id']}"
        assert incident["priority"] == "P2"  # high impact x medium urgency through ITIL's matrix
        assert (incident["declared"], incident["reporter"], incident["service"], incident["team"]) == \
            (True, "alice", "checkout", "payments")
        assert incident["status"] == "open" and incident["rule"] == "declared"
        # listed like any other, detail with its timeline
        listed = (await api.get("/api/v1/incidents?status=open")).json()["items"]
        assert [i["id"] for i in listed] == [incident["id"]]
        detail = (await api.get(f"/api/v1/incidents/{incident['id']}")).json()
        assert detail["timeline"][0]["kind"] == "declared" and "alice" in detail["timeline"][0]["text"]

        second = await api.post("/api/v1/incidents", declaration(reporter="bob", title="cannot pay"), token=RESPOND)
        assert second.status_code == 200, second.text
        assert second.json()["joined"] is True and second.json()["incident"]["id"] == incident["id"]
        assert second.json()["incident"]["also_reported_by"] == ["bob"]
        detail = (await api.get(f"/api/v1/incidents/{incident['id']}")).json()
        assert detail["timeline"][-1]["text"] == "also reported by bob"

        # another service: its own incident
        other = await api.post("/api/v1/incidents", declaration(service="search"), token=RESPOND)
        assert other.status_code == 201 and other.json()["incident"]["id"] != incident["id"]

        # the same lifecycle: resolved, a new report opens a new incident
        assert (await api.post(f"/api/v1/incidents/{incident['id']}/resolve", {}, token=RESPOND)).status_code == 200
        third = await api.post("/api/v1/incidents", declaration(reporter="carol"), token=RESPOND)
        assert third.status_code == 201 and third.json()["incident"]["id"] != incident["id"]

        await eventually(lambda: _count(tap, "incident.created", 3), what="created events")
        created = [e for e in tap.seen if e["type"] == "incident.created"]
        assert created[0]["incident"]["declared"] is True and created[0]["incident"]["reporter"] == "alice"
        assert created[0]["by"] == "sre"
        joined = [e for e in tap.seen if e["type"] == "incident.updated"]
        assert joined and joined[0]["reason"] == "also reported by bob"
        for event in tap.seen:
            event_adapter().validate_python(event)  # the contract's models, strict
        assert metric(api.worker, COMMANDS, {"command": "declare", "outcome": "joined"}) == 1
        assert metric(api.worker, COMMANDS, {"command": "declare", "outcome": "created"}) == 3
    finally:
        await tap.close()


async def _count(tap, kind, at_least):
    return (await tap.types()).count(kind) >= at_least


async def test_alerts_attach_at_declaration_and_later_and_detach(api):
    alert_incident = await one_incident(api, "CheckoutErrors", "checkout-api")
    fingerprint = (await api.get(f"/api/v1/incidents/{alert_incident}")).json()["members"][0]["fingerprint"]
    answer = await api.post("/api/v1/incidents", declaration(alerts=[fingerprint]), token=RESPOND)
    assert answer.status_code == 201, answer.text
    iid = answer.json()["incident"]["id"]
    assert answer.json()["incident"]["symptoms"] == 1
    detail = (await api.get(f"/api/v1/incidents/{iid}")).json()
    assert [s["fingerprint"] for s in detail["symptoms"]] == [fingerprint]
    assert detail["symptoms"][0]["kind"] == "attached" and detail["symptoms"][0]["by"] == "sre"

    detached = await api.post(f"/api/v1/incidents/{iid}/detach", {"fingerprint": fingerprint}, token=RESPOND)
    assert detached.status_code == 200 and detached.json()["changed"] is True
    assert detached.json()["incident"]["symptoms"] == 0
    again = await api.post(f"/api/v1/incidents/{iid}/detach", {"fingerprint": fingerprint}, token=RESPOND)
    assert again.json()["changed"] is False
    attached = await api.post(f"/api/v1/incidents/{iid}/attach", {"fingerprint": fingerprint}, token=RESPOND)
    assert attached.json()["changed"] is True and attached.json()["incident"]["symptoms"] == 1
    timeline = (await api.get(f"/api/v1/incidents/{iid}")).json()["timeline"]
    assert [e["kind"] for e in timeline] == ["declared", "attached", "detached", "attached"]
    # people's commands work on it as on any incident
    ack = await api.post(f"/api/v1/incidents/{iid}/acknowledge", {"comment": "on it"}, token=RESPOND)
    assert ack.status_code == 200 and ack.json()["incident"]["status"] == "acknowledged"
    assert ack.json()["incident"]["declared"] is True  # the declaration's fields survive the command


@pytest.mark.parametrize(("body", "field"), [
    ({"service": "checkout"}, "title"),
    (declaration(title=""), "title"),
    (declaration(title="a\x00b"), "title"),
    (declaration(service='x"}'), "service"),
    (declaration(service="s" * 201), "service"),
    (declaration(impact="extreme"), "impact"),
    (declaration(urgency=3), "urgency"),
    (declaration(alerts=["../../etc"]), "alerts.0"),
    (declaration(alerts=["ffffffffffffffff"]), "alerts.0"),
    (declaration(extra=1), "extra"),
    (declaration(reporter="x\ny"), "reporter"),
])
async def test_hostile_declarations_are_refused_naming_the_field(api, body, field):
    before = metric(api.worker, COMMANDS, {"command": "declare", "outcome": "refused"})
    answer = await api.post("/api/v1/incidents", body, token=RESPOND)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert metric(api.worker, COMMANDS, {"command": "declare", "outcome": "refused"}) == before + 1
    assert (await api.get("/api/v1/incidents")).json()["items"] == []  # nothing written


async def test_declaring_needs_the_respond_role_and_json(api):
    assert (await api.post("/api/v1/incidents", declaration(), token=READ)).status_code == 403
    assert (await api.post("/api/v1/incidents", declaration(), token=None)).status_code == 401
    bad = await api.post("/api/v1/incidents", b"{not json", token=RESPOND)
    assert bad.status_code == 400 and bad.json()["field"] == "body"
    link = await api.post("/api/v1/incidents/INC-nothex-1/attach", {"fingerprint": "ffffffffffffffff"},
                          token=RESPOND)
    assert link.status_code == 404 and link.json()["field"] == "id"
    link = await api.post("/api/v1/incidents/INC-0000000000aa-1/attach", {"fingerprint": "a b"}, token=RESPOND)
    assert link.status_code == 422 and link.json()["field"] == "fingerprint"


async def test_the_cli_declares_joins_attaches_and_shows(api):
    alert_incident = await one_incident(api, "CheckoutErrors", "checkout-api")
    fingerprint = (await api.get(f"/api/v1/incidents/{alert_incident}")).json()["members"][0]["fingerprint"]
    code, out, err = await _cli_as(api, RESPOND, "incidents", "declare", "Checkout is broken", "--service",
                                   "checkout", "--impact", "high", "--urgency", "high", "--reporter", "alice",
                                   "--alert", fingerprint, "--json")
    assert code == 0, err
    doc = orjson.loads(out)
    iid = doc["incident"]["id"]
    assert doc["joined"] is False and doc["incident"]["priority"] == "P1" and doc["incident"]["symptoms"] == 1
    code, out, err = await _cli_as(api, RESPOND, "incidents", "declare", "Cannot pay", "--service", "checkout",
                                   "--reporter", "bob")
    assert code == 0, err
    assert f"{iid}: joined the open incident" in out
    code, out, err = await _cli_as(api, RESPOND, "incidents", "detach", iid, fingerprint, "--json")
    assert code == 0 and orjson.loads(out)["changed"] is True, err
    code, out, err = await _cli_as(api, None, "incidents", "show", iid)
    assert code == 0, err
    assert "reported by alice" in out and "also reported by bob" in out
    code, _, err = await _cli_as(api, RESPOND, "incidents", "declare", "x", "--service", "checkout", "--impact",
                                 "huge")
    assert code == 1 and "impact" in err
    code, _, err = await _cli_as(api, READ, "incidents", "declare", "x", "--service", "checkout")
    assert code == 2 and "403" in err


JOIN_RULES = """
topology:
  services:
    web: {depends_on: [checkout]}
    checkout: {}
    search: {}
groups:
  - name: shop
    match: ['service=~"web|checkout|search"']
    join_declared: true
"""


@pytest.fixture
async def joining(clean, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.yaml").write_text(JOIN_RULES)
    async for api in start_api(clean.model_copy(update={"rules": str(rules)})):
        yield api


async def _alerts_stored(api, before: float) -> bool:
    from tests.integration.helpers import stored_alerts

    return stored_alerts(api.worker) > before


async def test_alerts_of_a_rule_with_join_declared_join_the_incident_declared_for_their_service(joining):
    """An alert on web (which depends on checkout) arriving after a person declared an incident for checkout joins
    it as a symptom instead of opening an incident; an alert on another service opens its own; once the declared
    incident is resolved, the alert's next notification opens an incident of its own."""
    from tests.integration.api_helpers import INGEST
    from tests.integration.helpers import stored_alerts, v2_alert

    api = joining
    declared = (await api.post("/api/v1/incidents", declaration(), token=RESPOND)).json()["incident"]["id"]
    web = v2_alert("HighLatency", "web", "web-1")
    before = stored_alerts(api.worker)
    assert (await api.post("/api/v2/alerts", [web, v2_alert("SearchDown", "search", "s-1")],
                           token=INGEST)).status_code == 200
    await eventually(lambda: _alerts_stored(api, before + 1), what="both alerts stored")

    detail = (await api.get(f"/api/v1/incidents/{declared}")).json()
    (symptom,) = detail["symptoms"]
    assert (symptom["kind"], symptom["rule"], symptom["path"]) == ("declared", "checkout", ["web", "checkout"])
    assert symptom["labels"]["alertname"] == "HighLatency"
    assert "joined the incident declared for service checkout" in detail["timeline"][-1]["text"]
    opened = [i for i in await api.worker.store.list_incidents() if i.id != declared]
    assert [i.group_labels.get("service") for i in opened] == ["search"]  # only the unrelated alert opened one

    # resolved: the web alert's next notification (a repeat) opens an incident of its own
    assert (await api.post(f"/api/v1/incidents/{declared}/resolve", {}, token=RESPOND)).status_code == 200
    assert (await api.post("/api/v2/alerts", [web], token=INGEST)).status_code == 200

    async def own() -> bool:
        return any(i.group_labels.get("service") == "web" for i in await api.worker.store.list_incidents())

    await eventually(own, what="the web alert's own incident")


INHIBIT_JOIN_RULES = """
inhibit:
  - name: checkout-down
    source_match: ['alertname="CheckoutDown"']
    target_match: ['alertname="CheckoutSlow"']
    equal: [service]
    join_declared: true
"""


async def test_an_inhibit_rules_target_joins_the_incident_declared_for_its_sources_service(clean, tmp_path):
    """No CheckoutDown fires, but a person declared an incident for checkout: under an inhibit rule with
    ``join_declared`` the CheckoutSlow target on checkout joins that incident as a symptom; the same target on
    another service, and an alert that is no target, open their own."""
    from tests.integration.api_helpers import INGEST
    from tests.integration.helpers import stored_alerts, v2_alert

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.yaml").write_text(INHIBIT_JOIN_RULES)
    async for api in start_api(clean.model_copy(update={"rules": str(rules)})):
        declared = (await api.post("/api/v1/incidents", declaration(), token=RESPOND)).json()["incident"]["id"]
        before = stored_alerts(api.worker)
        alerts = [v2_alert("CheckoutSlow", "checkout", "c-1"), v2_alert("CheckoutSlow", "cart", "k-1"),
                  v2_alert("DiskFull", "checkout", "c-2")]
        assert (await api.post("/api/v2/alerts", alerts, token=INGEST)).status_code == 200
        await eventually(lambda: _alerts_stored(api, before + 2), what="the three alerts stored")

        detail = (await api.get(f"/api/v1/incidents/{declared}")).json()
        (symptom,) = detail["symptoms"]
        assert (symptom["kind"], symptom["rule"], symptom["path"]) == ("declared", "checkout", ["checkout"])
        assert symptom["labels"]["alertname"] == "CheckoutSlow" and symptom["labels"]["service"] == "checkout"
        assert "joined the incident declared for service checkout" in detail["timeline"][-1]["text"]
        opened = [i for i in await api.worker.store.list_incidents() if i.id != declared]
        assert sorted((i.group_labels.get("alertname"), i.group_labels.get("service")) for i in opened) == [
            ("CheckoutSlow", "cart"), ("DiskFull", "checkout")]
