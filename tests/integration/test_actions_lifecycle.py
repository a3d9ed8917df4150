"""Approval through the CLI, approval expiry and verification on a moved clock, runbooks over RabbitMQ with the
example executor, malformed events dead-lettered with a reason."""

from __future__ import annotations

import orjson
import pytest

from actions.example_executor import ExampleExecutor
from actions.topology import ActionNames
from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.actions_support import Hook, action_settings, alert, publish_event, runs, settled
from tests.integration.helpers import body, drain_queue, publish
from tests.integration.helpers import run_cli as _cli


@pytest.fixture
async def hook():
    h = await Hook().start()
    yield h
    await h.stop()


def hook_rules(hook: Hook, policies: str, group_actions: str = "[fix]") -> str:
    return f"""
actions:
  - name: fix
    type: http
    config: {{url: "{hook.url('/fix/')}{{{{ labels.service }}}}"}}
{policies}
  - name: page
    type: notify
    config: {{channel: webhook, url: "{hook.url('/page')}"}}
groups:
  - name: svc
    match: ['alertname=~"Down.*"']
    group_by: [alertname, service]
    priority: {{impact: medium, urgency: medium}}
    actions: {group_actions}
"""


async def test_approval_required_waits_until_approved_or_rejected_with_the_cli(clean, tmp_path, hook):
    (tmp_path / "rules.yaml").write_text(hook_rules(hook, "    approval: required"))
    w = Worker(action_settings(clean, tmp_path))
    await w.start()
    try:
        await publish(clean, [body([alert("DownA", service="a"), alert("DownB", service="b")])])
        pending = await settled(w, 2)
        assert {r["state"] for r in pending} == {"pending_approval"} and hook.requests == []
        a, b = sorted(pending, key=lambda r: orjson.loads(r["inputs"])["url"])
        code, out, err = await _cli(clean, "actions", "approve", a["run_id"], "--by", "alice")
        assert code == 0, err
        await eventually(lambda: hook.to("/fix/a"), what="approved run sent")
        code, _, err = await _cli(clean, "actions", "reject", b["run_id"], "--by", "bob")
        assert code == 0, err
        done = {r["run_id"]: r for r in await settled(w, 2)}
        await eventually(lambda: _state(w, a["run_id"], "succeeded"), what="approved run succeeded")
        await settled(w, 2)  # and recorded
        assert (await w.actions.state.run(a["run_id"]))["decided_by"] == "alice"
        assert done[b["run_id"]]["state"] == "rejected" and hook.to("/fix/b") == []
        code, _, _ = await _cli(clean, "actions", "approve", b["run_id"])
        assert code == 1  # a decided run cannot be decided again
        code, out, _ = await _cli(clean, "actions", "list", "--incident", a["incident"], "--json")
        assert code == 0 and [r["state"] for r in orjson.loads(out)] == ["succeeded"]
        outcomes = [e["outcome"] for e in await w.actions.state.audit()]
        assert outcomes.count("pending_approval") == 2 and {"approved", "rejected", "succeeded"} <= set(outcomes)
        timeline = await w.store.timeline(b["incident"])
        assert any(e["kind"] == "action" and "rejected by bob" in e["text"] for e in timeline)
    finally:
        await w.stop()


async def _state(w: Worker, run_id: str, state: str) -> bool:
    return (await w.actions.state.run(run_id) or {}).get("state") == state


async def test_an_unapproved_run_expires(clean, tmp_path, hook):
    (tmp_path / "rules.yaml").write_text(hook_rules(hook, "    approval: required\n    approval_expires: 30m"))
    clock = ManualClock()
    w = Worker(action_settings(clean, tmp_path), clock=clock)
    await w.start()
    try:
        await publish(clean, [body([alert("DownA", service="a")])])
        (run,) = await settled(w, 1)
        polls = w.actions.due.polls
        clock.now += 1799
        await eventually(lambda: w.actions.due.polls >= polls + 2, what="due polls")
        assert (await w.actions.state.run(run["run_id"]))["state"] == "pending_approval"
        clock.now += 2
        await eventually(lambda: _state(w, run["run_id"], "expired"), what="approval expired")
        code, _, _ = await _cli(clean, "actions", "approve", run["run_id"])
        assert code == 1 and hook.requests == []
        timeline = await w.store.timeline(run["incident"])
        assert any(e["kind"] == "action" and "expired" in e["text"] for e in timeline)
    finally:
        await w.stop()


async def test_verify_marks_remediated_or_escalates_and_starts_escalation_actions(clean, tmp_path, hook):
    group_actions = "[fix, {action: page, on: [escalated]}]"
    (tmp_path / "rules.yaml").write_text(hook_rules(hook, "    verify: {within: 5m}", group_actions))
    clock = ManualClock()
    w = Worker(action_settings(clean, tmp_path), clock=clock)
    await w.start()
    try:
        await publish(clean, [body([alert("DownA", service="healed"), alert("DownB", service="stuck")])])
        found = await settled(w, 2)
        assert {r["state"] for r in found} == {"succeeded"}
        healed = next(r for r in found if "healed" in r["inputs"])
        stuck = next(r for r in found if "stuck" in r["inputs"])
        await publish(clean, [body([alert("DownA", service="healed", resolved=True)])])
        await eventually(lambda: _incident_status(w, healed["incident"], "resolved"), what="healed resolved")
        clock.now += 301
        await eventually(lambda: _field(w, healed["run_id"], "verified", "remediated"), what="remediated")
        await eventually(lambda: _field(w, stuck["run_id"], "verified", "escalated"), what="escalated")
        incident = await w.store.incident(stuck["incident"])
        assert incident.priority == "P2"  # P3 raised one step
        timeline = await w.store.timeline(stuck["incident"])
        assert any(e["kind"] == "escalated" and "P3 -> P2" in e["text"] for e in timeline)
        # incident.escalated started the rule's on: [escalated] action, with the escalated incident
        (page,) = await eventually(lambda: hook.to("/page"), what="escalation action ran")
        sent = orjson.loads(page["body"])
        assert sent["event"]["type"] == "incident.escalated" and sent["incident"]["priority"] == "P2"
        assert hook.to("/page") == [page]  # only the stuck incident escalated
    finally:
        await w.stop()


async def _incident_status(w: Worker, incident_id: str, status: str) -> bool:
    return (await w.store.incident(incident_id)).status == status


async def _field(w: Worker, run_id: str, name: str, value: str) -> bool:
    return (await w.actions.state.run(run_id) or {}).get(name) == value


async def test_runbooks_round_trip_through_the_example_executor(clean, tmp_path):
    rules = """
actions:
  - name: failover
    type: runbook
    config: {runbook: echo, params: {cluster: "{{ labels.cluster }}", why: "{{ incident.title }}"}, timeout: 20s}
  - name: broken
    type: runbook
    config: {runbook: fail, params: {message: "no quorum"}, timeout: 20s}
  - name: flaky
    type: runbook
    config: {runbook: flaky, timeout: 20s}
    retry: {attempts: 2, backoff: 10ms}
groups:
  - {name: db, match: ['alertname="DbDown"'], group_by: [cluster], actions: [failover, broken, flaky]}
"""
    (tmp_path / "rules.yaml").write_text(rules)
    w = Worker(action_settings(clean, tmp_path))
    await w.start()
    channel = await w.connection.channel(publisher_confirms=True)
    executor = ExampleExecutor(channel, ActionNames(clean.namespace))
    await executor.start()
    try:
        await publish(clean, [body([alert("DbDown", cluster="pg-main")])])
        found = {r["action"]: r for r in await settled(w, 3)}
        assert found["failover"]["state"] == "succeeded"
        echoed = orjson.loads(orjson.loads(found["failover"]["output"])["output"])
        assert echoed["cluster"] == "pg-main" and echoed["why"]
        assert found["broken"]["state"] == "failed" and "no quorum" in found["broken"]["output"]
        assert found["flaky"]["state"] == "succeeded" and found["flaky"]["attempt"] == "2"
        assert executor.handled == 4
    finally:
        await executor.stop()
        await w.stop()


async def test_malformed_events_are_dead_lettered_with_a_reason_and_good_ones_still_run(clean, tmp_path, hook):
    (tmp_path / "rules.yaml").write_text(hook_rules(hook, ""))
    w = Worker(action_settings(clean, tmp_path))
    await w.start()
    try:
        await publish_event(clean, b"{not json", message_id="bad-1")
        await publish_event(clean, orjson.dumps({"type": "incident.created", "incident": {}}), message_id="bad-2")
        await publish(clean, [body([alert("DownA", service="after")])])
        await eventually(lambda: hook.to("/fix/after"), what="good event still handled")
        drained: list = []

        async def two_dead_letters():
            drained.extend(await drain_queue(clean, ActionNames(clean.namespace).dead))
            return drained if len(drained) >= 2 else None

        dead = await eventually(two_dead_letters, what="dead letters")
        reasons = {m.headers["x-stormwatch-message-id"]: m.headers["x-stormwatch-reason"] for m in dead}
        assert reasons == {"bad-1": "invalid_json", "bad-2": "invalid_event"}
        assert all(m.headers["x-stormwatch-detail"] for m in dead)
        assert len(await runs(w)) == 1
    finally:
        await w.stop()



async def test_an_event_whose_rule_is_not_a_name_is_malformed_not_a_crash(clean, tmp_path, hook):
    from actions.model import MalformedEvent

    (tmp_path / "rules.yaml").write_text(hook_rules(hook, ""))
    w = Worker(action_settings(clean, tmp_path))
    await w.start()
    try:
        event = {"event_id": "e1", "type": "incident.created",
                 "incident": {"id": "INC-abcdef012345-1", "rule": ["svc"], "priority": "P2"}}
        with pytest.raises(MalformedEvent):  # dead-lettered with a reason by the consumer, not a handler crash
            await w.actions.runner.handle(orjson.dumps(event))
    finally:
        await w.stop()
