"""End to end: a worker with its history writer on, real alerts and people's commands through the API, then the
report (API and CLI through the API) and the review draft show what happened, with MTTA and MTTR equal to the
incident's own times as the API answers them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, READ, RESPOND, start_api
from tests.integration.helpers import run_cli, stored_alerts, v2_alert


async def test_a_live_incident_reaches_the_report_and_the_review(clean, tmp_path: Path) -> None:
    history = f"sqlite:///{tmp_path / 'history.db'}"
    async for api in start_api(clean, history_enabled=True, history_url=history):
        for alerts in ([v2_alert("PostgresDown", "orders-db", "db-1")],
                       [v2_alert("PostgresDown", "orders-db", "db-1")],  # a repeat: a duplicate notification
                       [v2_alert("HighLatency", "web", "web-1")]):
            before = stored_alerts(api.worker)
            assert (await api.post("/api/v2/alerts", alerts, token=INGEST)).status_code == 200
            await eventually(lambda b=before: stored_alerts(api.worker) > b, what="alert stored")
        await eventually(lambda: _occurrences(api, 3), what="both incidents, three notifications")
        items = (await api.get("/api/v1/incidents")).json()["items"]
        db = next(i for i in items if i["group_labels"].get("service") == "orders-db")
        path = f"/api/v1/incidents/{db['id']}"
        assert (await api.post(f"{path}/acknowledge", {"comment": "on it"}, token=RESPOND)).status_code == 200
        assert (await api.post(f"{path}/comment", {"text": "failing over to the replica"},
                               token=RESPOND)).status_code == 200
        assert (await api.post(f"{path}/resolve", {}, token=RESPOND)).status_code == 200
        done = (await api.get(path)).json()

        async def reported() -> dict[str, Any] | None:
            answer = await api.get("/api/v1/reports/summary?since=1h")
            if answer.status_code != 200:
                return None
            report = answer.json()
            f = report["figures"]
            return report if f["incidents"]["value"] == 2 and f["resolved"]["value"] == 1 else None

        report = await eventually(reported, what="the history writer wrote the incidents")
        f = report["figures"]
        assert f["acknowledged"]["value"] == 1
        assert f["mtta_mean"]["value"] == done["acknowledged_at"] - done["created_at"]
        assert f["mttr_p50"]["value"] == done["resolved_at"] - done["created_at"]
        assert f["notifications"]["value"] == 3 and f["duplicates"]["value"] == 1
        assert f["compression"]["value"] == 1.5
        assert {r["service"] for r in report["by_service"]} == {"orders-db", "web"}
        assert report["alerts"]["by_notifications"][0] == {"alertname": "PostgresDown", "notifications": 2,
                                                           "incidents": 1}

        env = {"STORMWATCH_API_URL": str(api.client.base_url), "STORMWATCH_API_TOKEN": READ}
        code, out, err = await run_cli(clean, "report", "--since", "1h", "--json", env=env)
        assert code == 0, err
        assert orjson.loads(out)["figures"]["mtta_mean"] == f["mtta_mean"]

        code, out, err = await run_cli(clean, "incidents", "export", db["id"], "--format", "json",
                                       env={"STORMWATCH_HISTORY_URL": history})
        assert code == 0, err
        review = orjson.loads(out)
        assert review["source"] == "history"
        assert [c["by"] for c in review["comments"]] == ["sre"]
        assert "failing over to the replica" in review["comments"][0]["text"]
        assert review["summary"]["time_to_resolve"] == done["resolved_at"] - done["created_at"]
        assert [e["text"] for e in review["timeline"] if e["what"] == "alert"] == [
            "PostgresDown fired (alertname=PostgresDown, instance=db-1, service=orders-db, severity=critical)"]


async def _occurrences(api: Any, total: int) -> bool:
    items = (await api.get("/api/v1/incidents")).json()["items"]
    return len(items) == 2 and sum(i["occurrences"] for i in items) == total
