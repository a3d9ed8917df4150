"""Action runs over real HTTP: list (by incident, by state), approve and reject with the respond role; the
decision reaches the runner (the approved run is sent, the rejected one is not) and the incident's timeline."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import eventually
from tests.integration.actions_support import Hook, action_settings, alert, settled
from tests.integration.api_helpers import ADMIN, INGEST, READ, RESPOND, EventTap, start_api
from tests.integration.test_actions_lifecycle import hook_rules


@pytest.fixture
async def hook():
    h = await Hook().start()
    yield h
    await h.stop()


@pytest.fixture
async def api(clean, tmp_path, hook):
    (tmp_path / "rules.yaml").write_text(hook_rules(hook, "    approval: required"))
    async for api in start_api(action_settings(clean, tmp_path), actions_enabled=True):
        yield api


async def test_list_approve_reject_and_auth(api, hook):
    answer = await api.post("/api/v1/alerts", [alert("DownA", service="a"), alert("DownB", service="b")],
                            token=INGEST)
    assert answer.status_code == 200, answer.text
    pending = await settled(api.worker, 2)
    a, b = sorted(pending, key=lambda r: orjson.loads(r["inputs"])["url"])

    listed = (await api.get("/api/v1/actions?state=pending_approval")).json()["items"]
    assert {r["run_id"] for r in listed} == {a["run_id"], b["run_id"]}
    only_a = (await api.get(f"/api/v1/actions?incident={a['incident']}")).json()["items"]
    assert [r["run_id"] for r in only_a] == [a["run_id"]]
    assert (await api.get("/api/v1/actions?state=nonsense")).json()["field"] == "state"
    assert (await api.get("/api/v1/actions?limit=x")).json()["field"] == "limit"
    detail = (await api.get(f"/api/v1/incidents/{a['incident']}")).json()
    assert [r["run_id"] for r in detail["actions"]] == [a["run_id"]] and detail["symptoms"] == []

    for path in (f"/api/v1/actions/{a['run_id']}/approve", f"/api/v1/actions/{b['run_id']}/reject"):
        for token, status in ((None, 401), ("wrong-token-0123456789", 401), (READ, 403), (INGEST, 403)):
            assert (await api.post(path, None, token=token)).status_code == status, (path, token)
    assert {r["state"] for r in await api.worker.actions.state.runs()} == {"pending_approval"}

    tap = await EventTap(api.worker.settings).start()
    approved = await api.post(f"/api/v1/actions/{a['run_id']}/approve", None, token=RESPOND)
    assert approved.status_code == 200, approved.text
    assert approved.json()["run"]["decided_by"] == "sre"
    await eventually(lambda: hook.to("/fix/a"), what="the approved run sent")
    rejected = await api.post(f"/api/v1/actions/{b['run_id']}/reject", None, token=ADMIN)
    assert rejected.json()["run"]["state"] == "rejected" and rejected.json()["run"]["decided_by"] == "ops"
    decisions = await eventually(lambda: _decisions(tap, 2), what="the decisions published")
    assert [(e["type"], e["by"], e["run"]["run_id"]) for e in decisions] == [
        ("action.approved", "sre", a["run_id"]), ("action.rejected", "ops", b["run_id"])]
    await tap.close()

    again = await api.post(f"/api/v1/actions/{b['run_id']}/approve", None, token=RESPOND)
    assert again.status_code == 409 and "rejected" in again.json()["detail"]
    missing = await api.post("/api/v1/actions/no-such-run/approve", None, token=RESPOND)
    assert missing.status_code == 404 and missing.json()["field"] == "run"
    await settled(api.worker, 2)
    assert hook.to("/fix/b") == []
    timeline = (await api.get(f"/api/v1/incidents/{b['incident']}")).json()["timeline"]
    assert any(e["kind"] == "action" and "rejected by ops" in e["text"] for e in timeline)


async def _decisions(tap: EventTap, count: int) -> list | None:
    await tap.types()
    found = [e for e in tap.seen if e["type"].startswith("action.")]
    return found if len(found) >= count else None


async def test_people_s_changes_to_an_incident_are_not_dead_lettered_by_the_action_runner(api):
    """The incident API publishes incident.acknowledged, .assigned, ...: the action runner is bound only to the
    event types that start actions, so those never reach its queue (or its dead-letter queue)."""
    from actions.topology import ActionNames
    from tests.integration.helpers import drain_queue

    answer = await api.post("/api/v1/alerts", [alert("DownA", service="a")], token=INGEST)
    assert answer.status_code == 200
    (run,) = await settled(api.worker, 1)
    for command, body in (("acknowledge", None), ("assign", {"assignee": "ana"}), ("comment", {"text": "x"})):
        assert (await api.post(f"/api/v1/incidents/{run['incident']}/{command}", body, token=RESPOND)).status_code == 200
    answer = await api.post("/api/v1/alerts", [alert("DownB", service="b")], token=INGEST)
    await settled(api.worker, 2)  # a later event went through the same queue: the earlier ones were not queued
    dead = await drain_queue(api.worker.settings, ActionNames(api.worker.settings.namespace).dead)
    assert dead == []


async def test_cli_lists_approves_and_rejects_through_the_api(api, hook):
    from tests.integration.test_cli_incident_commands import _cli_as

    answer = await api.post("/api/v1/alerts", [alert("DownA", service="a"), alert("DownB", service="b")],
                            token=INGEST)
    assert answer.status_code == 200, answer.text
    pending = await settled(api.worker, 2)
    a, b = sorted(pending, key=lambda r: orjson.loads(r["inputs"])["url"])

    code, out, err = await _cli_as(api, READ, "actions", "list", "--incident", a["incident"], "--json")
    assert code == 0, err
    assert [r["run_id"] for r in orjson.loads(out)] == [a["run_id"]]
    code, out, err = await _cli_as(api, READ, "actions", "list")
    assert code == 0 and "pending_approval" in out and a["run_id"] in out and b["run_id"] in out, err
    code, out, err = await _cli_as(api, READ, "actions", "approve", a["run_id"])
    assert code == 2 and "403" in err

    code, out, err = await _cli_as(api, RESPOND, "actions", "approve", a["run_id"], "--json")
    assert code == 0, err
    assert orjson.loads(out)["decided_by"] == "sre"
    await eventually(lambda: hook.to("/fix/a"), what="the approved run sent")
    code, out, err = await _cli_as(api, ADMIN, "actions", "reject", b["run_id"])
    assert code == 0 and f"run {b['run_id']} rejected" in out, err
    code, out, err = await _cli_as(api, RESPOND, "actions", "approve", b["run_id"])
    assert code == 1 and "409" in err and "rejected" in err
    code, out, err = await _cli_as(api, None, "actions", "list", "--json")  # Redis directly
    assert code == 0 and {r["state"] for r in orjson.loads(out)} >= {"rejected"}, err

    # one run in full, through the API and from Redis: the same record
    shown = (await api.get(f"/api/v1/actions/{a['run_id']}")).json()
    assert (shown["run_id"], shown["decided_by"]) == (a["run_id"], "sre")
    assert (await api.get("/api/v1/actions/no-such-run")).status_code == 404
    assert (await api.get(f"/api/v1/actions/{a['run_id']}", token=None)).status_code == 401
    await eventually(lambda: _settled_run(api, a["run_id"]), what="the approved run settled")
    for token in (READ, None):
        code, out, err = await _cli_as(api, token, "actions", "show", a["run_id"], "--json")
        assert code == 0, err
        doc = orjson.loads(out)
        assert (doc["run_id"], doc["state"], doc["action"]) == (a["run_id"], "succeeded", a["action"])
    code, out, err = await _cli_as(api, READ, "actions", "show", a["run_id"])
    assert code == 0 and "succeeded" in out and "decided_by" in out, err
    code, out, err = await _cli_as(api, READ, "actions", "show", "no-such-run")
    assert code == 1 and "404" in err


async def _settled_run(api, run_id: str) -> bool:
    return (await api.get(f"/api/v1/actions/{run_id}")).json().get("state") == "succeeded"
