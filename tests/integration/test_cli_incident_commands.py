"""`stormwatch incidents ack|resolve|...` as a subprocess against the real API server."""

from __future__ import annotations

import asyncio
import os

import orjson
import pytest

from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, READ, RESPOND, start_api
from tests.integration.helpers import stored_alerts, v2_alert
from tests.integration.test_cli import STORMWATCH


@pytest.fixture
async def api(clean):
    async for api in start_api(clean):
        yield api


async def _cli_as(api, token: str, *args: str) -> tuple[int, str, str]:
    """The CLI with STORMWATCH_API_URL / STORMWATCH_API_TOKEN pointing at this test's server."""
    env = os.environ | {
        "STORMWATCH_NAMESPACE": api.worker.settings.namespace,
        "STORMWATCH_API_URL": f"http://127.0.0.1:{api.worker.ops.bound_port}",
        "STORMWATCH_API_TOKEN": token,
        "COLUMNS": "200",
    }
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
