"""Outbound actions, probed as a rule's alerts or a read token could (docs/security.md, "Outbound: actions").

Each probe runs against a real worker with its HTTP API (RabbitMQ, Redis, port 0) and a real HTTP server started
by the test as the action's target:

- a secret with ``"`` and ``\\`` that the target echoes back (raw, JSON-escaped, percent-encoded) is absent from
  everything a read token sees through the API, from the audit stream and from the logs; and, as a property, so
  is any secret text (quotes, backslashes, unicode, control characters);
- ``<!channel>`` and ``<https://evil|Click to acknowledge>`` in a label reach a server posing as Slack escaped;
- ``../`` in a label stays inside one path segment at the target;
- 6to4, NAT64 and ``192.0.0.0/24`` targets are refused by the URL guard, before any connection.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from aiohttp import web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tests.conftest import eventually
from tests.integration.actions_support import Hook, action_settings, alert, settled
from tests.integration.api_helpers import INGEST, READ, Api, start_api

SECRET = 'tok-"quoted"-back\\slash-\\u0041-ünï-9f2c'


class Target(Hook):
    """An HTTP server on loopback posing as the action's target: records each request (raw path, headers, body)
    and answers with the ``X-Token`` header echoed raw, JSON-escaped, percent-encoded and as a Python repr."""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        token = next((v.decode("utf-8", "replace") for k, v in request.raw_headers if k.lower() == b"x-token"), "")
        self.requests.append({"raw_path": request.raw_path, "headers": dict(request.headers), "body": body.decode()})
        echo = "\n".join([json.dumps({"seen": token}), orjson.dumps({"seen": token}).decode(), token,
                          quote(token, safe=""), repr(token)])
        return web.Response(text=echo, content_type="text/plain")


@pytest.fixture
async def target():
    t = await Target().start()
    yield t
    await t.stop()


def rules(target: Target, guarded: str = "") -> str:
    """The probes' rules; ``guarded``: a host the echo action is sent to instead of the target."""
    echo_url = f"http://{guarded}:{target.port}/echo/" if guarded else target.url("/echo/")
    return f"""
actions:
  - name: echo
    type: http
    config:
      url: "{echo_url}{{{{ labels.service }}}}"
      headers: {{X-Token: {{secret_env: TEST_ECHO_TOKEN}}}}
      body: '{{"service": {{{{ labels.service | tojson }}}}}}'
    retry: {{attempts: 1}}
    breaker: {{failures: 10000}}  # the property test's refused headers must not open it
  - name: path
    type: http
    config: {{url: "{target.url('/hook/')}{{{{ labels.service }}}}?team={{{{ labels.team }}}}"}}
    retry: {{attempts: 1}}
  - name: slack
    type: notify
    config:
      channel: slack
      url: "{target.url('/services/T000/B000/XXXX')}"
      text: "<!here> *{{{{ labels.service }}}}*: {{{{ annotations.summary }}}} <https://console.example/i|open>"
    retry: {{attempts: 1}}
groups:
  - name: echo
    match: ['alertname="Echo"']
    group_by: [service]
    actions: [echo]
  - name: path
    match: ['alertname="Path"']
    group_by: [service]
    actions: [path]
  - name: chat
    match: ['alertname="Chat"']
    group_by: [service]
    actions: [slack]
"""


@pytest.fixture
async def api(clean, tmp_path, target, monkeypatch):
    monkeypatch.setenv("TEST_ECHO_TOKEN", SECRET)
    (tmp_path / "rules.yaml").write_text(rules(target))
    async for api in start_api(action_settings(clean, tmp_path), actions_enabled=True):
        yield api


async def _read_everything(api: Api, incident: str) -> str:
    """All a read token sees of an incident's runs through the API, JSON inside JSON decoded, as one text."""
    runs = await api.get(f"/api/v1/actions?incident={incident}", token=READ)
    detail = await api.get(f"/api/v1/incidents/{incident}", token=READ)
    assert runs.status_code == 200 and detail.status_code == 200
    answers = [runs.text, detail.text, runs.json(), detail.json()]
    for run in runs.json()["items"]:
        one = await api.get(f"/api/v1/actions/{run['run_id']}", token=READ)
        assert one.status_code == 200
        answers += [one.text, one.json(), *(_json_inside(v) for v in one.json().values())]
    return "\n".join(_strings(answers))


def _json_inside(value: Any) -> Any:
    try:
        return orjson.loads(value) if isinstance(value, str) and value[:1] in "{[" else None
    except orjson.JSONDecodeError:
        return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


async def _one_run(api: Api, alertname: str, **labels: str) -> dict[str, str]:
    before = {r["run_id"] for r in await api.worker.actions.state.runs(limit=10_000)}
    answer = await api.post("/api/v1/alerts", [alert(alertname, **labels)], token=INGEST)
    assert answer.status_code == 200, answer.text

    async def new_run() -> dict[str, str] | None:
        found = [r for r in await api.worker.actions.state.runs(limit=10_000) if r["run_id"] not in before]
        return found[0] if found else None

    run = await eventually(new_run, what=f"a run for {alertname}")
    found = await settled(api.worker, len(before) + 1)
    return next(r for r in found if r["run_id"] == run["run_id"])


# -- secrets -------------------------------------------------------------------------------------------------------

async def test_a_secret_with_quotes_and_backslashes_echoed_by_the_target_is_absent(api, target):
    with capture_logs() as logs:
        run = await _one_run(api, "Echo", service="api")
    assert run["state"] == "succeeded", run
    (request,) = target.requests
    assert request["headers"]["X-Token"] == SECRET  # the target got the real secret...
    seen = await _read_everything(api, run["incident"])
    audit = orjson.dumps(await api.worker.actions.state.audit()).decode()
    recorded = "\n".join([seen, audit, orjson.dumps(logs).decode()])
    for form in (SECRET, orjson.dumps(SECRET).decode()[1:-1], json.dumps(SECRET)[1:-1], quote(SECRET, safe=""),
                 repr(SECRET)[1:-1]):
        assert form not in recorded, form  # ...and none of its echoes is readable
    output = orjson.loads(run["output"])
    masked = ['{"seen": "***"}', '{"seen":"***"}', "***", "***", "'***'"]  # every echo masked, nothing else lost
    assert output == {"status": 200, "response": "\n".join(masked)}
    assert orjson.loads(run["inputs"])["headers"]["X-Token"] == "<secret:TEST_ECHO_TOKEN>"


async def test_any_secret_text_is_absent_from_the_run_the_audit_and_the_api(api, target):
    """Property: whatever the secret's text (quotes, backslashes, unicode, control characters, surrounding
    spaces), nothing a read token sees and nothing in the audit holds it, whether the target echoed it or the
    request failed on it (a header cannot carry control characters). Hypothesis drives the worker's loop from
    a thread."""
    loop = asyncio.get_running_loop()
    runner = api.worker.actions.runner
    counter = iter(range(10_000))

    async def probe(secret: str) -> None:
        runner.environ = {**os.environ, "TEST_ECHO_TOKEN": secret}  # the runner's environment seam
        run = await _one_run(api, "Echo", service=f"prop-{next(counter)}")
        seen = await _read_everything(api, run["incident"])
        audit = [e for e in await api.worker.actions.state.audit(100_000) if e.get("run_id") == run["run_id"]]
        if run["state"] == "succeeded":  # the target got it (HTTP strips spaces and tabs around) and echoed it
            assert target.requests[-1]["headers"]["X-Token"] == secret.strip(" \t"), run
        else:
            assert run["detail"] == ("request refused by the HTTP client: Forbidden control character detected in "
                                     "headers. Potential header injection attack."), run
        assert audit
        texts = _strings([seen, audit, *(_json_inside(v) for v in audit[0].values())])
        for form in {secret, secret.strip()}:
            assert not any(form in text for text in texts), (form, run)

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.text(min_size=0, max_size=12), st.text(min_size=0, max_size=12))
    @example('"', '\\')  # quotes and backslashes: echoed
    @example(" \tünï€😀\u2028", "\x85 ")  # unicode, surrounding whitespace: echoed
    @example("\n", "\x00")  # control characters: refused by the HTTP client
    def prop(head: str, tail: str) -> None:
        secret = f"{head}S3cr3t~{tail}"  # arbitrary text around a core no scaffolding of the answers holds
        asyncio.run_coroutine_threadsafe(probe(secret), loop).result(timeout=60)

    await asyncio.to_thread(prop)


# -- markup ----------------------------------------------------------------------------------------------------------

async def test_chat_markup_in_labels_arrives_escaped_at_a_server_posing_as_slack(api, target):
    evil = "<!channel> <https://evil.example|Click to acknowledge> & more"
    run = await _one_run(api, "Chat", service=evil)
    assert run["state"] == "succeeded", run
    (request,) = target.requests
    assert request["raw_path"] == "/services/T000/B000/XXXX"
    text = orjson.loads(request["body"])["text"]
    assert text == ("<!here> *&lt;!channel&gt; &lt;https://evil.example|Click to acknowledge&gt; &amp; more*: "
                    "Chat is broken <https://console.example/i|open>")  # the rule's own markup kept
    assert "<!channel>" not in text and "<https://evil" not in text


# -- URL paths -------------------------------------------------------------------------------------------------------

async def test_a_label_with_dot_dot_slash_stays_in_one_path_segment(api, target):
    run = await _one_run(api, "Path", service="../../admin", team="a&role=admin")
    assert run["state"] == "succeeded", run
    (request,) = target.requests
    assert request["raw_path"] == "/hook/..%2F..%2Fadmin?team=a%26role%3Dadmin"
    dots = await _one_run(api, "Path", service="..", team="x")
    assert dots["state"] == "failed" and "'..' segment" in dots["detail"]
    assert len(target.requests) == 1  # the dot segment was never sent


# -- the URL guard ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "named"), [
    ("[2002:7f00:1::1]", "6to4"), ("[64:ff9b::7f00:1]", "NAT64"), ("[64:ff9b::c000:aa]", "NAT64"),
    ("192.0.0.170", "NAT64/DNS64 discovery"), ("192.0.0.1", "IPv4 service continuity prefix"),
    ("192.0.0.77", "IETF protocol assignments")])
async def test_the_guard_refuses_6to4_nat64_and_ietf_protocol_targets(clean, tmp_path, target, monkeypatch, host,
                                                                        named):
    monkeypatch.setenv("TEST_ECHO_TOKEN", SECRET)
    (tmp_path / "rules.yaml").write_text(rules(target, guarded=host))
    async for api in start_api(action_settings(clean, tmp_path), actions_enabled=True):
        run = await _one_run(api, "Echo", service="guard")
        assert run["state"] == "failed" and "refused by the URL guard" in run["detail"], run
        assert named in run["detail"] and run["attempt"] == "1"  # named, and never retried
    assert target.requests == []
