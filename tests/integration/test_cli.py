"""The CLI against the real services: publish a file, list and show the incident it became."""

from __future__ import annotations

import orjson

from tests.conftest import eventually
from tests.integration.helpers import run_cli as _cli, stored_alerts, v2_alert


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
