"""The CLI as a subprocess against the real API server: `incidents ack|resolve|...` (always through the API) and
`incidents list|show`, `silences add|list|expire` (through the API when STORMWATCH_API_URL/TOKEN is set, else Redis
directly, with the same documents)."""

from __future__ import annotations

import asyncio
import os

import orjson
import pytest

from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, READ, RESPOND, start_api
from tests.integration.helpers import stored_alerts, v2_alert
from tests.integration.helpers import STORMWATCH


@pytest.fixture
async def api(clean):
    async for api in start_api(clean):
        yield api


async def _cli_as(api, token: str | None, *args: str) -> tuple[int, str, str]:
    """The CLI with STORMWATCH_API_URL / STORMWATCH_API_TOKEN pointing at this test's server; token None: neither
    set, so the CLI reads and writes this test's Redis namespace directly."""
    env = {k: v for k, v in os.environ.items() if k not in ("STORMWATCH_API_URL", "STORMWATCH_API_TOKEN")} | {
        "STORMWATCH_NAMESPACE": api.worker.settings.namespace,
        "STORMWATCH_REDIS_URL": api.worker.settings.redis_url,
        "STORMWATCH_AMQP_URL": api.worker.settings.amqp_url,
        "COLUMNS": "200",
    }
    if token is not None:
        env |= {"STORMWATCH_API_URL": f"http://127.0.0.1:{api.worker.ops.bound_port}", "STORMWATCH_API_TOKEN": token}
    proc = await asyncio.create_subprocess_exec(STORMWATCH, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode, out.decode(), err.decode()


async def test_cli_commands_go_through_the_api(api):
    await api.post("/api/v2/alerts", [v2_alert("CliDown", "svc", "pod-1")], token=INGEST)
    await eventually(lambda: stored_alerts(api.worker) >= 1)
    (incident,) = await api.worker.store.list_incidents()

    code, out, err = await _cli_as(api, RESPOND, "incidents", "ack", incident.id, "-m", "looking", "--json")
    assert code == 0, err
    doc = orjson.loads(out)
    assert doc["incident"]["status"] == "acknowledged" and doc["incident"]["acknowledged_by"] == "sre"

    code, out, err = await _cli_as(api, RESPOND, "incidents", "priority", incident.id, "P2")
    assert code == 0 and "priority P2" in out, err
    code, out, err = await _cli_as(api, RESPOND, "incidents", "resolve", incident.id)
    assert code == 0 and "status resolved" in out, err

    code, out, err = await _cli_as(api, READ, "incidents", "reopen", incident.id)
    assert code == 2 and "403" in err and "STORMWATCH_API_TOKEN" in err
    code, out, err = await _cli_as(api, RESPOND, "incidents", "ack", "INC-0123456789ab-1")
    assert code == 1 and "404" in err
    assert READ not in err and RESPOND not in err
    detail = (await api.get(f"/api/v1/incidents/{incident.id}")).json()
    assert detail["status"] == "resolved" and detail["priority"] == "P2"


async def test_incident_reads_go_through_the_api_and_match_redis_direct(api):
    await api.post("/api/v2/alerts", [v2_alert("ReadDown", "svc", "pod-1"), v2_alert("ReadDown", "svc", "pod-2")],
                   token=INGEST)
    await eventually(lambda: stored_alerts(api.worker) >= 2)
    (incident,) = await api.worker.store.list_incidents()

    code, out, err = await _cli_as(api, READ, "incidents", "list", "--json")
    assert code == 0, err
    listed = orjson.loads(out)
    assert listed == (await api.get("/api/v1/incidents")).json()["items"]
    assert [i["id"] for i in listed] == [incident.id] and listed[0]["alerts"] == 2
    code, out, err = await _cli_as(api, None, "incidents", "list", "--json")  # no API settings: Redis directly
    assert code == 0 and orjson.loads(out) == listed, err

    code, out, err = await _cli_as(api, READ, "incidents", "show", incident.id, "--json")
    assert code == 0, err
    shown = orjson.loads(out)
    assert shown == (await api.get(f"/api/v1/incidents/{incident.id}")).json()
    assert {m["labels"]["instance"] for m in shown["members"]} == {"pod-1", "pod-2"}
    code, out, err = await _cli_as(api, None, "incidents", "show", incident.id, "--json")
    assert code == 0 and orjson.loads(out) == shown, err
    code, out, err = await _cli_as(api, READ, "incidents", "show", incident.id)
    assert code == 0 and "ReadDown / svc" in out and "timeline" in out and "pod-2" in out, err

    code, out, err = await _cli_as(api, READ, "incidents", "list", "--status", "resolved", "--json")
    assert code == 0 and orjson.loads(out) == [], err
    code, out, err = await _cli_as(api, READ, "incidents", "show", "INC-0123456789ab-1")
    assert code == 1 and "404" in err
    code, out, err = await _cli_as(api, "not-a-token-0123456789", "incidents", "list")
    assert code == 2 and "401" in err and "not-a-token" not in err + out


async def test_silences_through_the_api_are_recorded_with_the_token_s_name(api):
    code, out, err = await _cli_as(api, READ, "silences", "add", 'service="svc"', "--comment", "deploy")
    assert code == 2 and "403" in err  # reading is not responding
    assert (await api.get("/api/v1/silences")).json() == []

    code, out, err = await _cli_as(api, RESPOND, "silences", "add", 'service="svc"', 'alertname=~"Read.*"',
                                   "--duration", "2h", "--comment", "deploy", "--json")
    assert code == 0, err
    created = orjson.loads(out)
    assert created["created_by"] == "sre" and created["state"] == "active"
    assert created["ends_at"] - created["starts_at"] == 7200
    code, out, err = await _cli_as(api, RESPOND, "silences", "add", "service=~(", "--comment", "x")
    assert code == 2 and "matchers.0" in err

    await api.post("/api/v2/alerts", [v2_alert("ReadDown", "svc", "pod-1")], token=INGEST)
    await eventually(lambda: stored_alerts(api.worker) >= 1)
    assert await api.worker.store.list_incidents() == []  # the silence muted it

    code, out, err = await _cli_as(api, READ, "silences", "list", "--json")
    assert code == 0 and [s["id"] for s in orjson.loads(out)] == [created["id"]], err
    code, out, err = await _cli_as(api, None, "silences", "list", "--json")
    assert code == 0 and orjson.loads(out) == [created | {"state": "active"}], err
    code, out, err = await _cli_as(api, RESPOND, "silences", "expire", created["id"])
    assert code == 0 and f"silence {created['id']} expired" in out, err
    code, out, err = await _cli_as(api, READ, "silences", "list", "--json")
    assert code == 0 and orjson.loads(out) == [], err
    code, out, err = await _cli_as(api, READ, "silences", "list", "--all")
    assert code == 0 and created["id"] in out and "expired" in out, err
    code, out, err = await _cli_as(api, RESPOND, "silences", "expire", "no-such-silence")
    assert code == 1 and "404" in err
