"""A run as the API and the CLI answer it is the hash in Redis, byte for byte (the same text, the same key order),
and the fields a run's hash holds in each state are pinned: the typed run record changed neither."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from actions.state import decode
from tests.conftest import eventually
from tests.integration.actions_support import Hook, action_settings, alert, settled
from tests.integration.api_helpers import INGEST, RESPOND, start_api
from tests.integration.helpers import run_cli
from tests.integration.test_actions_lifecycle import hook_rules

WHY = ["run_id", "incident", "action", "type", "rule", "trigger", "event_id", "event_at", "created_at"]
HELD = [*WHY, "state", "finished_at", "inputs", "saved", "expires_at", "reason", "detail"]
DECIDED = [*HELD, "decided_by", "decided_at"]
RUN = ["attempt", "duration", "started_at", "output", "retryable"]


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


async def stored(api: Any, run_id: str) -> dict[str, str]:
    state = api.worker.actions.state
    return decode(await state.redis.hgetall(state.keys.action_run(run_id)))


async def test_api_and_cli_answer_the_stored_hash_byte_for_byte_in_every_state(api, hook, clean):
    answer = await api.post("/api/v1/alerts", [alert("DownA", service="a"), alert("DownB", service="b")],
                            token=INGEST)
    assert answer.status_code == 200, answer.text
    a, b = sorted(await settled(api.worker, 2), key=lambda r: orjson.loads(r["inputs"])["url"])
    assert sorted(await stored(api, a["run_id"])) == sorted(HELD)  # (a hash this big keeps no order in Redis)

    approved = await api.post(f"/api/v1/actions/{a['run_id']}/approve", None, token=RESPOND)
    assert approved.status_code == 200, approved.text
    assert (await api.post(f"/api/v1/actions/{b['run_id']}/reject", None, token=RESPOND)).status_code == 200
    await eventually(lambda: hook.to("/fix/a"), what="the approved run sent")

    async def succeeded() -> bool:
        return (await stored(api, a["run_id"])).get("state") == "succeeded"

    await eventually(succeeded, what="the approved run succeeded")
    await settled(api.worker, 2)
    done, rejected = await stored(api, a["run_id"]), await stored(api, b["run_id"])
    assert (done["state"], rejected["state"]) == ("succeeded", "rejected")
    assert sorted(done) == sorted([*DECIDED, *RUN]) and sorted(rejected) == sorted(DECIDED)
    assert (done["retryable"], done["attempt"], orjson.loads(done["output"])["status"]) == ("0", "1", 200)

    for run in (done, rejected):
        one = await api.get(f"/api/v1/actions/{run['run_id']}")
        assert one.content == orjson.dumps(run)
        code, out, err = await run_cli(clean, "actions", "show", run["run_id"], "--json")
        assert code == 0 and out == orjson.dumps(run).decode() + "\n", err
    listed = await api.get("/api/v1/actions")
    assert listed.content == orjson.dumps({"items": [await stored(api, r["run_id"])
                                                     for r in listed.json()["items"]]})
    assert {r["run_id"] for r in listed.json()["items"]} == {a["run_id"], b["run_id"]}
    by_state = await api.get("/api/v1/actions?state=rejected")
    assert by_state.content == orjson.dumps({"items": [rejected]})
