"""Major incidents (issue 21) against the real worker, Redis and RabbitMQ: promote, roles, stakeholder status
updates published as incident.status_update and delivered by a notify action to a webhook the test starts, the
read-only status page behind its per-incident token, and hostile input refused naming the field."""

from __future__ import annotations

import socket
from email import message_from_bytes
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from events.models import event_adapter
from tests.conftest import eventually
from tests.integration.actions_support import Hook, action_settings, settled
from tests.integration.api_helpers import READ, RESPOND, EventTap, start_api
from tests.integration.helpers import metric
from tests.integration.test_cli_incident_commands import _cli_as
from tests.integration.test_declared_incidents import declaration

SECRET = "status-page-secret-0123456789"


@pytest.fixture
async def hook():
    server = await Hook().start()
    yield server
    await server.stop()


@pytest.fixture
async def api(clean, tmp_path, hook):
    (tmp_path / "rules.yaml").write_text(f"""
actions:
  - name: stakeholders
    type: notify
    config: {{channel: slack, url: "{hook.url('/chat')}", text: "{{{{ incident.id }}}} update: {{{{ event.reason }}}}"}}
groups:
  - name: declared
    match: ['__declared__="service"']
    actions:
      - {{action: stakeholders, on: [status_update]}}
""")
    async for api in start_api(action_settings(clean, tmp_path), status_page_secret=SECRET):
        yield api


async def test_promote_roles_updates_reach_a_webhook_and_the_status_page(api, hook):
    tap = await EventTap(api.worker.settings).start()
    try:
        iid = (await api.post("/api/v1/incidents", declaration(), token=RESPOND)).json()["incident"]["id"]
        refused = await api.post(f"/api/v1/incidents/{iid}/updates", {"text": "looking"}, token=RESPOND)
        assert refused.status_code == 409 and "promote" in refused.json()["detail"]  # not major yet

        promoted = await api.post(f"/api/v1/incidents/{iid}/major", {"commander": "carol"}, token=RESPOND)
        assert promoted.status_code == 200, promoted.text
        incident = promoted.json()["incident"]
        assert (incident["major"], incident["commander"], incident["communications_lead"]) == (True, "carol", "")
        roles = await api.post(f"/api/v1/incidents/{iid}/roles", {"communications_lead": "dan"}, token=RESPOND)
        assert roles.json()["incident"]["communications_lead"] == "dan"

        for n, (state, text) in enumerate([("identified", "a bad deploy of payments"),
                                           ("monitoring", "rolled back; watching")], start=1):
            answer = await api.post(f"/api/v1/incidents/{iid}/updates", {"text": text, "state": state},
                                    token=RESPOND)
            assert answer.status_code == 201, answer.text
            assert answer.json()["update"] | {"at": 0} == {"number": n, "state": state, "text": text, "by": "sre",
                                                           "at": 0}
        assert answer.json()["incident"]["status_updates"] == 2

        # each update reaches the chat webhook through the notify action (once per update)
        await settled(api.worker, 2, iid, what="two notify runs")
        await eventually(lambda: len(hook.to("/chat")) == 2, what="two chat messages")
        texts = sorted(r["body"] for r in hook.to("/chat"))
        assert any("a bad deploy of payments" in t for t in texts) and any("rolled back" in t for t in texts)

        timeline = (await api.get(f"/api/v1/incidents/{iid}")).json()["timeline"]
        kinds = [e["kind"] for e in timeline]
        assert kinds[:5] == ["declared", "promoted", "role_assigned", "role_assigned", "status_update"]
        assert "incident commander: carol (assigned by sre)" in [e["text"] for e in timeline]
        listed = (await api.get(f"/api/v1/incidents/{iid}/updates")).json()["items"]
        assert [u["number"] for u in listed] == [1, 2]

        await eventually(lambda: _has(tap, "incident.status_update", 2), what="status update events")
        for event in tap.seen:
            event_adapter().validate_python(event)
        update = [e for e in tap.seen if e["type"] == "incident.status_update"][0]
        assert update["update"]["text"] == "a bad deploy of payments" and update["incident"]["major"] is True
        assert "incident.promoted" in await tap.types()

        share = await api.post(f"/api/v1/incidents/{iid}/share", token=RESPOND)
        assert share.status_code == 200
        page = await api.client.get(share.json()["url"])  # no API token: the share token alone
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "rolled back; watching" in page.text and "carol" in page.text and "dan" in page.text
        assert "Content-Security-Policy" in page.headers
    finally:
        await tap.close()


async def _has(tap, kind, count):
    return (await tap.types()).count(kind) >= count


async def test_the_status_page_refuses_without_its_own_token_and_escapes_text(api):
    hostile = '<script>alert(1)</script>'
    one = (await api.post("/api/v1/incidents", declaration(title=hostile, major=True), token=RESPOND)).json()
    other = (await api.post("/api/v1/incidents", declaration(service="search"), token=RESPOND)).json()
    one_id, other_id = one["incident"]["id"], other["incident"]["id"]
    assert one["incident"]["major"] is True  # declared major
    token = (await api.post(f"/api/v1/incidents/{one_id}/share", token=RESPOND)).json()["token"]
    page = await api.client.get(f"/status/{one_id}?token={token}")
    assert page.status_code == 200 and hostile not in page.text and "&lt;script&gt;" in page.text
    for path, reason in [(f"/status/{other_id}?token={token}", "bad_token"), (f"/status/{one_id}", "missing_token"),
                         (f"/status/{one_id}?token=%00%ff", "bad_token")]:
        before = metric(api.worker, "stormwatch_status_page_refused_total", {"reason": reason})
        answer = await api.client.get(path)
        assert answer.status_code == 403 and answer.json()["field"] == "token", path
        assert metric(api.worker, "stormwatch_status_page_refused_total", {"reason": reason}) == before + 1
    assert (await api.post(f"/api/v1/incidents/{one_id}/share", token=READ)).status_code == 403


@pytest.mark.parametrize(("path", "body", "status", "field"), [
    ("updates", {"text": ""}, 422, "text"),
    ("updates", {"text": "x", "state": "panicking"}, 422, "state"),
    ("updates", {"text": "x" * 5001}, 422, "text"),
    ("updates", {"text": "x", "html": True}, 422, "html"),
    ("roles", {}, 422, "body"),
    ("roles", {"commander": "a\u0000b"}, 422, "commander"),
    ("major", {"communications_lead": 7}, 422, "communications_lead"),
    ("major", b"[", 400, "body"),
])
async def test_hostile_major_input_is_refused_naming_the_field(api, path, body, status, field):
    iid = (await api.post("/api/v1/incidents", declaration(major=True), token=RESPOND)).json()["incident"]["id"]
    answer = await api.post(f"/api/v1/incidents/{iid}/{path}", body, token=RESPOND)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field
    missing = await api.post("/api/v1/incidents/INC-0000000000ab-9/updates", {"text": "x"}, token=RESPOND)
    assert missing.status_code == 404 and missing.json()["field"] == "id"


class Inbox:
    """aiosmtpd's handler: every message the SMTP server the test started received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def email_rules(tmp_path, port: int) -> None:
    (tmp_path / "rules.yaml").write_text(f"""
actions:
  - name: mail-stakeholders
    type: notify
    config:
      channel: email
      url: "smtp://127.0.0.1:{port}"
      to: [execs@example.com, support@example.com]
      sender: stormwatch@example.com
      subject: "{{{{ incident.id }}}} {{{{ incident.title }}}}"
      text: "Update {{{{ event.reason }}}}"
groups:
  - name: declared
    match: ['__declared__="service"']
    actions:
      - {{action: mail-stakeholders, on: [status_update]}}
""")


async def test_status_updates_reach_an_smtp_server_the_test_started(clean, tmp_path, smtp):
    inbox, port = smtp
    email_rules(tmp_path, port)
    settings = action_settings(clean, tmp_path, actions_allowed_schemes=("http", "smtp"))
    async for api in start_api(settings):
        hostile = "Checkout\r\nBcc: victim@example.com"
        iid = (await api.post("/api/v1/incidents", declaration(title=hostile.replace("\r\n", " "), major=True),
                              token=RESPOND)).json()["incident"]["id"]
        answer = await api.post(f"/api/v1/incidents/{iid}/updates", {"text": "payments rolled back\nBcc: x@y.z"},
                                token=RESPOND)
        assert answer.status_code == 201
        (run,) = await settled(api.worker, 1, iid, what="the e-mail run")
        assert run["state"] == "succeeded", run
        await eventually(lambda: len(inbox.messages) == 1, what="the e-mail")
        (mail,) = inbox.messages
        assert mail["To"] == "execs@example.com, support@example.com" and mail["From"] == "stormwatch@example.com"
        assert mail["Subject"].startswith(iid) and mail["Bcc"] is None  # the text's line stays in the body
        assert "payments rolled back" in mail.get_payload(decode=True).decode()


async def test_an_smtp_target_the_guard_does_not_allow_is_refused(clean, tmp_path, smtp):
    inbox, port = smtp
    email_rules(tmp_path, port)
    async for api in start_api(action_settings(clean, tmp_path)):  # smtp is not an allowed scheme
        iid = (await api.post("/api/v1/incidents", declaration(major=True), token=RESPOND)).json()["incident"]["id"]
        assert (await api.post(f"/api/v1/incidents/{iid}/updates", {"text": "x"}, token=RESPOND)).status_code == 201
        (run,) = await settled(api.worker, 1, iid, what="the refused run")
        assert run["state"] == "failed" and "URL guard" in run.get("detail", ""), run
        assert inbox.messages == []


async def test_the_cli_promotes_assigns_updates_and_shares(api):
    iid = (await api.post("/api/v1/incidents", declaration(), token=RESPOND)).json()["incident"]["id"]
    code, out, err = await _cli_as(api, RESPOND, "incidents", "major", iid, "--commander", "carol", "--json")
    assert code == 0 and orjson.loads(out)["incident"]["commander"] == "carol", err
    code, out, err = await _cli_as(api, RESPOND, "incidents", "roles", iid, "--communications-lead", "dan")
    assert code == 0 and "communications lead dan" in out, err
    code, out, err = await _cli_as(api, RESPOND, "incidents", "update", iid, "rolled back", "--state", "monitoring")
    assert code == 0 and "update 1 (monitoring) published" in out, err
    code, out, err = await _cli_as(api, RESPOND, "incidents", "share", iid)
    assert code == 0, err
    url = urlsplit(out.strip())
    assert url.path == f"/status/{iid}"
    page = await api.client.get(f"{url.path}?{url.query}")
    assert page.status_code == 200 and "rolled back" in page.text
    code, out, err = await _cli_as(api, None, "incidents", "show", iid)
    assert code == 0 and "MAJOR incident: commander carol" in out, err
    code, _, err = await _cli_as(api, RESPOND, "incidents", "update", iid, "x", "--state", "panicking")
    assert code == 1 and "state" in err
