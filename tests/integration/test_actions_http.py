"""HTTP and notify actions against a real HTTP server on loopback, through a real worker (alerts in, runs out)."""

from __future__ import annotations

import orjson
import pytest
from structlog.testing import capture_logs

from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.actions_support import Hook, action_settings, alert, dumps, runs, settled
from tests.integration.helpers import body, metric, publish

EVIL = ["$(rm -rf /)", "{{ ''.__class__.__mro__ }}"]
SECRET = "tok-6f1d2c-super-secret"


@pytest.fixture
async def hook():
    h = await Hook().start()
    yield h
    await h.stop()


def rules(hook: Hook, extra: str = "", policies: str = "", group_actions: str = "[hook]") -> str:
    return f"""
actions:
  - name: hook
    type: http
    config:
      url: "{hook.url('/hook/')}{{{{ labels.service }}}}"
      headers: {{Authorization: {{secret_env: TEST_HOOK_TOKEN}}, X-Service: "{{{{ labels.service }}}}"}}
      body: '{{"payload": {{{{ labels.payload | tojson }}}}, "incident": {{{{ incident.id | tojson }}}}}}'
    retry: {{attempts: 3, backoff: 10ms, max_backoff: 20ms}}
{policies}
{extra}
groups:
  - name: svc
    match: ['alertname=~"Broken|Flaky|Bad|Moved|Dry"']
    group_by: [alertname, service, payload]
    actions: {group_actions}
"""


async def start(clean, tmp_path, text: str, **overrides) -> Worker:
    (tmp_path / "rules.yaml").write_text(text)
    w = Worker(action_settings(clean, tmp_path, **overrides))
    await w.start()
    return w


async def test_label_values_reach_the_body_as_inert_strings_and_secrets_stay_out_of_logs_and_audit(
        clean, tmp_path, hook, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_TOKEN", SECRET)
    w = await start(clean, tmp_path, rules(hook))
    try:
        with capture_logs() as logs:
            await publish(clean, [body([alert("Broken", service="api", payload=evil) for evil in EVIL])])
            found = await settled(w, 2)
        assert sorted(r["state"] for r in found) == ["succeeded", "succeeded"]
        received = sorted(orjson.loads(r["body"])["payload"] for r in hook.to("/hook/api"))
        assert received == sorted(EVIL)  # exactly the label values, never evaluated
        assert all(r["headers"]["Authorization"] == SECRET for r in hook.requests)
        assert all(r["headers"]["X-Stormwatch-Run"].startswith("R-") for r in hook.requests)

        audit = await w.actions.state.audit()
        timeline = [e for r in found for e in await w.store.timeline(r["incident"])]
        recorded = dumps(audit) + dumps(found) + dumps(timeline) + dumps(logs)
        assert SECRET not in recorded  # not in the audit, run records, timeline or logs...
        assert audit[0]["inputs"]["headers"]["Authorization"] == "<secret:TEST_HOOK_TOKEN>"
        assert "seen auth=***" in dumps(audit)  # ...even where the server echoed it back
        assert {e["outcome"] for e in audit} == {"succeeded"}
        assert all(e["rule"] == "svc" and e["attempt"] == 1 and e["duration"] >= 0 for e in audit)
        assert [e["kind"] for e in timeline].count("action") == 2
        assert metric(w, "stormwatch_actions_started_total", {"type": "http"}) == 2
        assert metric(w, "stormwatch_actions_succeeded_total", {"type": "http"}) == 2
        assert metric(w, "stormwatch_action_duration_seconds_count", {"type": "http"}) == 2
    finally:
        await w.stop()


async def test_retryable_failures_are_retried_and_client_errors_are_not(clean, tmp_path, hook, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_TOKEN", SECRET)
    hook.script = {"/hook/flaky": [500, 429, 200], "/hook/bad": [400]}
    w = await start(clean, tmp_path, rules(hook))
    try:
        await publish(clean, [body([alert("Flaky", service="flaky"), alert("Bad", service="bad")])])
        found = {r["incident"]: r for r in await settled(w, 2)}
        by_service = {r["detail"]: r for r in found.values()}
        assert by_service["HTTP 200"]["state"] == "succeeded" and by_service["HTTP 200"]["attempt"] == "3"
        assert by_service["HTTP 400"]["state"] == "failed" and by_service["HTTP 400"]["attempt"] == "1"
        assert len(hook.to("/hook/flaky")) == 3 and len(hook.to("/hook/bad")) == 1
        assert metric(w, "stormwatch_actions_failed_total", {"type": "http"}) == 1
    finally:
        await w.stop()


async def test_redirects_are_not_followed_and_unlisted_addresses_are_refused(clean, tmp_path, hook, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_TOKEN", SECRET)
    hook.script = {"/hook/moved": [302]}
    w = await start(clean, tmp_path, rules(hook))
    try:
        await publish(clean, [body([alert("Moved", service="moved")])])
        (run,) = await settled(w, 1)
        assert run["state"] == "failed" and "redirect not followed" in run["detail"]
        assert hook.to("/redirected") == []
    finally:
        await w.stop()
    # the same rules with loopback not allowed: refused before any connection
    hook.requests.clear()
    w = await start(clean, tmp_path, rules(hook), actions_allowed_networks=(), namespace=clean.namespace)
    try:
        await publish(clean, [body([alert("Broken", service="guarded")])])
        run = (await eventually(lambda: _failed(w, "guarded"), what="refused run"))
        assert "refused by the URL guard" in run["detail"] and "127.0.0.1" in run["detail"]
        assert run["attempt"] == "1"  # never retried
        assert hook.requests == []
    finally:
        await w.stop()


async def _failed(w: Worker, service: str):
    for r in await runs(w):
        if r.get("state") == "failed" and service in r.get("inputs", ""):
            return r
    return None


async def test_rate_limit_per_target_and_circuit_breaker(clean, tmp_path, hook, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_TOKEN", SECRET)
    hook.script = {f"/hook/down{n}": [400] for n in range(3)}
    text = rules(hook, policies="""    rate_limit: {per: "{{ labels.service }}", max: 1, window: 10m}
    breaker: {failures: 2, cooldown: 10m}""")
    w = await start(clean, tmp_path, text)
    try:
        # two incidents on service "api" (different payloads): the second is rate-limited; "web" has its own window
        await publish(clean, [body([alert("Broken", service="api", payload="1")])])
        await settled(w, 1)
        await publish(clean, [body([alert("Broken", service="api", payload="2"),
                                    alert("Broken", service="web", payload="1")])])
        found = await settled(w, 3)
        states = sorted((r["state"], r.get("reason", "")) for r in found)
        assert states == [("skipped", "rate_limit"), ("succeeded", ""), ("succeeded", "")]
        assert metric(w, "stormwatch_actions_skipped_total", {"reason": "rate_limit"}) == 1

        # services down0..2 fail (400), each in its own window: after 2 consecutive failures the breaker opens
        for n in range(3):
            await publish(clean, [body([alert("Bad", service=f"down{n}")])])
            await settled(w, 4 + n)
        down = sorted(await runs(w), key=lambda r: float(r["created_at"]))[-3:]
        assert [(r["state"], r.get("reason", "")) for r in down] == [
            ("failed", ""), ("failed", ""), ("skipped", "breaker")]
        timeline = await w.store.timeline(down[1]["incident"])
        assert any("circuit breaker for action hook opened after 2 consecutive failures" in e["text"]
                   for e in timeline)
        assert metric(w, "stormwatch_actions_skipped_total", {"reason": "breaker"}) == 1
    finally:
        await w.stop()


async def test_dry_run_and_shadow_mode_record_but_send_nothing(clean, tmp_path, hook, monkeypatch):
    monkeypatch.setenv("TEST_HOOK_TOKEN", SECRET)
    w = await start(clean, tmp_path, rules(hook, policies="    dry_run: true"))
    try:
        await publish(clean, [body([alert("Dry", service="dry")])])
        (run,) = await settled(w, 1)
        assert (run["state"], run["reason"]) == ("skipped", "dry_run")
        assert orjson.loads(run["inputs"])["url"] == hook.url("/hook/dry")  # what would have been sent
        assert metric(w, "stormwatch_actions_skipped_total", {"reason": "dry_run"}) == 1
    finally:
        await w.stop()
    w = await start(clean, tmp_path, rules(hook), actions_shadow=True)
    try:
        await publish(clean, [body([alert("Broken", service="shadowed")])])
        await settled(w, 2)
        shadowed = [r for r in await runs(w) if r.get("reason") == "shadow"]
        assert len(shadowed) == 1 and shadowed[0]["state"] == "skipped"
        assert metric(w, "stormwatch_actions_skipped_total", {"reason": "shadow"}) == 1
    finally:
        await w.stop()
    assert hook.requests == []


async def test_notify_channels_slack_pagerduty_and_webhook(clean, tmp_path, hook, monkeypatch):
    monkeypatch.setenv("TEST_SLACK_URL", hook.url("/slack/T000/B000/XXXX"))
    monkeypatch.setenv("TEST_PD_KEY", "pd-routing-key-123")
    text = f"""
actions:
  - name: slack
    type: notify
    config: {{channel: slack, url: {{secret_env: TEST_SLACK_URL}}, text: "[{{{{ incident.priority }}}}] {{{{ labels.service }}}} {{{{ incident.status }}}}"}}
  - name: pd
    type: notify
    config: {{channel: pagerduty, url: "{hook.url('/pd')}", routing_key: {{secret_env: TEST_PD_KEY}}}}
  - name: generic
    type: notify
    config: {{channel: webhook, url: "{hook.url('/generic')}"}}
groups:
  - name: svc
    match: ['alertname="Noisy"']
    group_by: [service]
    priority: {{impact: high, urgency: high}}
    actions: [slack, {{action: pd, on: [created, resolved]}}, generic]
"""
    w = await start(clean, tmp_path, text)
    try:
        await publish(clean, [body([alert("Noisy", service="api")])])
        found = await settled(w, 3)
        assert {r["state"] for r in found} == {"succeeded"}
        incident_id = found[0]["incident"]
        (slack,) = hook.to("/slack/T000/B000/XXXX")
        assert orjson.loads(slack["body"]) == {"text": "[P1] api open"}
        (pd,) = hook.to("/pd")
        sent = orjson.loads(pd["body"])
        assert (sent["routing_key"], sent["dedup_key"], sent["event_action"]) == (
            "pd-routing-key-123", incident_id, "trigger")
        assert sent["payload"]["severity"] == "critical"
        (generic,) = hook.to("/generic")
        doc = orjson.loads(generic["body"])
        assert doc["incident"]["id"] == incident_id and doc["alerts"][0]["labels"]["service"] == "api"
        recorded = dumps(await w.actions.state.audit()) + dumps(found)
        assert "pd-routing-key-123" not in recorded and "B000/XXXX" not in recorded  # both were secrets
        await publish(clean, [body([alert("Noisy", service="api", resolved=True)])])
        await eventually(lambda: len(hook.to("/pd")) == 2, what="pagerduty resolve")
        resolve = orjson.loads(hook.to("/pd")[1]["body"])
        assert (resolve["dedup_key"], resolve["event_action"]) == (incident_id, "resolve")  # the same PD alert
    finally:
        await w.stop()
