"""The CLI against the real services: publish a file, list and show the incident it became."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson

from tests.conftest import eventually
from tests.integration.helpers import stored_alerts, v2_alert

STORMWATCH = str(Path(sys.executable).parent / "stormwatch")


async def _cli(settings, *args: str) -> tuple[int, str, str]:
    env = os.environ | {
        "STORMWATCH_NAMESPACE": settings.namespace,
        "STORMWATCH_AMQP_URL": settings.amqp_url,
        "STORMWATCH_REDIS_URL": settings.redis_url,
        "STORMWATCH_LOG_FORMAT": "json",
        "COLUMNS": "200",
    }
    proc = await asyncio.create_subprocess_exec(
        STORMWATCH, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode, out.decode(), err.decode()


async def test_publish_list_show(worker, tmp_path):
    settings = worker.settings
    body = tmp_path / "alerts.json"
    body.write_bytes(orjson.dumps({
        "version": "4", "status": "firing", "receiver": "stormwatch", "groupKey": "{}:{}",
        "alerts": [dict(v2_alert("NodeDown", "k8s", f"node-{i}"), status="firing") for i in range(3)],
    }))
    code, out, err = await _cli(settings, "publish", str(body))
    assert code == 0, err
    await eventually(lambda: stored_alerts(worker) >= 3, what="published alerts stored")

    code, out, err = await _cli(settings, "incidents", "list", "--json")
    assert code == 0, err
    (incident,) = orjson.loads(out)
    assert incident["title"] == "NodeDown / k8s" and incident["alerts"] == 3

    code, out, err = await _cli(settings, "incidents", "show", incident["id"], "--json")
    assert code == 0, err
    shown = orjson.loads(out)
    assert sorted(a["labels"]["instance"] for a in shown["members"]) == ["node-0", "node-1", "node-2"]
    assert shown["timeline"][0]["kind"] == "created"

    code, out, err = await _cli(settings, "incidents", "show", incident["id"])
    assert code == 0 and incident["id"] in out and "node-2" in out

    code, out, err = await _cli(settings, "incidents", "show", "INC-000000000000-9")
    assert code == 1 and "no incident" in err
