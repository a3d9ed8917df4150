"""Major incidents in the reports and the review export (issue 21), end to end: a worker with its history writer on,
an incident declared, promoted to major with its roles, two stakeholder updates; then the report (API JSON and CSV,
CLI terminal and HTML) counts it with its time to major and the time between its updates, and the review draft
from the history names its commander and communications lead and lists the updates. Expected values come from the
incident as the API answers it."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from stormwatch.reports.html import page
from stormwatch.reports.review import markdown
from tests.conftest import eventually
from tests.integration.api_helpers import READ, RESPOND, start_api
from tests.integration.helpers import run_cli
from tests.integration.test_declared_incidents import declaration


async def test_a_major_incident_reaches_the_report_and_the_review(clean, tmp_path: Path) -> None:
    history = f"sqlite:///{tmp_path / 'history.db'}"
    async for api in start_api(clean, history_enabled=True, history_url=history):
        iid = (await api.post("/api/v1/incidents", declaration(), token=RESPOND)).json()["incident"]["id"]
        path = f"/api/v1/incidents/{iid}"
        # a declared incident that stays minor is counted in the report but not as major
        await api.post("/api/v1/incidents", declaration(service="search"), token=RESPOND)
        assert (await api.post(f"{path}/major", {"commander": "carol"}, token=RESPOND)).status_code == 200
        assert (await api.post(f"{path}/roles", {"communications_lead": "dan"}, token=RESPOND)).status_code == 200
        for text, state in (("we see failed payments", "investigating"), ("rolled back; watching", "monitoring")):
            answer = await api.post(f"{path}/updates", {"text": text, "state": state}, token=RESPOND)
            assert answer.status_code == 201, answer.text
        incident = (await api.get(path)).json()
        updates = [u["at"] for u in (await api.get(f"{path}/updates")).json()["items"]]
        updates.sort()

        async def reported() -> dict[str, Any] | None:
            answer = await api.get("/api/v1/reports/summary?since=1h")
            if answer.status_code != 200:
                return None
            body = answer.json()
            section = body["major_incidents"]
            # the figures and the major section are two reads of one request: the writer may commit between them
            done = section["figures"]["status_updates"]["value"] == 2 and section["incidents"] and \
                section["incidents"][0]["communications_lead"] == "dan" and body["figures"]["incidents"]["value"] == 2
            return body if done else None

        report = await eventually(reported, what="the history writer wrote the major incident")
        f = {name: figure["value"] for name, figure in report["major_incidents"]["figures"].items()}
        assert report["figures"]["incidents"]["value"] == 2
        assert f["major_incidents"] == 1 and f["declared_major"] == 0
        assert f["time_to_major_p50"] == incident["major_at"] - incident["created_at"]
        assert f["with_commander"] == 1 and f["with_communications_lead"] == 1 and f["updates_per_major"] == 2
        assert f["time_to_first_update_p50"] == updates[0] - incident["major_at"]
        assert f["time_between_updates_p50"] == updates[1] - updates[0] and f["without_update"] == 0
        (row,) = report["major_incidents"]["incidents"]
        assert (row["id"], row["commander"], row["status_updates"]) == (iid, "carol", 2)

        as_csv = await api.get("/api/v1/reports/summary?since=1h&format=csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert {r["figure"]: r["value"] for r in rows if r["section"] == "major_incidents"}["major_incidents"] == "1"
        assert any(r["section"] == "major_incident" and r["key"] == iid and r["figure"] == "commander"
                   and r["value"] == "carol" for r in rows)

        env = {"STORMWATCH_API_URL": str(api.client.base_url), "STORMWATCH_API_TOKEN": READ}
        code, out, err = await run_cli(clean, "report", "--since", "1h", env=env)
        assert code == 0, err
        assert "Major incidents" in out and "Time between updates p50" in out and "carol" in out
        html = page(report)  # what `report --html` writes
        assert "<h2>Major incidents</h2>" in html and "Stakeholder updates" in html and "<script" not in html

        history_env = {"STORMWATCH_HISTORY_URL": history}
        code, out, err = await run_cli(clean, "incidents", "export", iid, "--format", "json", env=history_env)
        assert code == 0, err
        review = orjson.loads(out)
        assert review["source"] == "history"
        major = review["major"]
        assert (major["commander"], major["communications_lead"]) == ("carol", "dan")
        assert major["time_to_major"] == incident["major_at"] - incident["created_at"]
        assert [(u["number"], u["text"]) for u in major["status_updates"]] == [
            (1, "we see failed payments"), (2, "rolled back; watching")]
        assert [e["text"] for e in review["timeline"] if e["what"] == "status update"] == [
            "#1: we see failed payments", "#2: rolled back; watching"]
        text = markdown(review)  # what `incidents export` prints without --format json
        assert "Incident commander: carol; communications lead: dan" in text
        assert "## Stakeholder updates" in text and "#2 (monitoring) by sre: rolled back; watching" not in text
        assert "#2 by sre: rolled back; watching" in text  # the history keeps an update's text, not its state
