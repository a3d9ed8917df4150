"""The reports' surfaces over a generated history: the API (JSON, CSV, charts, refusals) and the CLI (``report``
in every output, ``incidents export`` from the history and, for an incident the history lacks, from Redis).
Expected figures come from the generator's specs (test_reports.expected), not from the report code."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from stormwatch.history import migrate
from stormwatch.history.database import open_engine
from stormwatch.history.store import HistoryStore
from tests.conftest import eventually
from tests.integration import report_history as gen
from tests.integration.api_helpers import READ, bearer, start_api
from tests.integration.helpers import publish, run_cli, stored_alerts, v2_alert
from tests.integration.test_reports import close, expected, near

UNTIL = str(int(gen.END))
SINCE = gen.END - 30 * gen.DAY


@pytest.fixture
async def history_file(tmp_path: Path) -> tuple[Path, gen.History]:
    path = tmp_path / "history.db"
    engine = open_engine(f"sqlite:///{path}")
    await migrate.upgrade(engine)
    history = gen.generate(seed=3, count=120)
    await gen.write(HistoryStore(engine, clock=lambda: gen.END), history)
    await engine.dispose()
    return path, history


async def test_api_json_csv_charts_and_refusals(clean, history_file) -> None:
    path, history = history_file
    want = expected(history, SINCE, gen.END, team="web")
    async for api in start_api(clean, history_url=f"sqlite:///{path}"):
        answer = await api.get(f"/api/v1/reports/summary?since=30d&until={UNTIL}&team=web")
        assert answer.status_code == 200, answer.text
        report = answer.json()
        for name in ("incidents", "notifications", "mtta_p90", "mttr_mean", "reopen_rate", "action_runs",
                     "sla_respond_met_rate", "sla_breaches"):
            assert near(name, report["figures"][name]["value"], want[name]), name  # team: raw, exact
        assert "sla_attainment" not in report["not_recorded"]

        as_csv = await api.get(f"/api/v1/reports/summary?since=30d&until={UNTIL}&team=web&format=csv")
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        figures = {r["figure"]: r for r in rows if r["section"] == "figures"}
        assert int(figures["incidents"]["value"]) == want["incidents"]
        assert int(figures["sla_breaches"]["value"]) == want["sla_breaches"]
        assert {r["figure"] for r in rows if r["section"] == "by_team"} >= {"sla_respond_met_rate", "sla_breaches"}
        assert abs(float(figures["mttr_p50"]["value"]) - want["mttr_p50"]) <= 1e-5 * want["mttr_p50"]  # 6 digits
        whole = (await api.get(f"/api/v1/reports/summary?since=30d&until={UNTIL}")).json()  # served by roll-ups
        everyone = expected(history, SINCE, gen.END)
        for name in ("incidents", "mtta_mean", "mttr_p50", "mttr_p90", "sla_resolve_met_rate"):
            assert near(name, whole["figures"][name]["value"], everyone[name]), name
        by_accept = await api.client.get(f"/api/v1/reports/summary?since=30d&until={UNTIL}",
                                         headers={**bearer(READ), "Accept": "text/csv"})
        assert by_accept.text.startswith("section,key,figure,value,previous,change")

        charts = (await api.get(f"/api/v1/reports/charts?since=30d&until={UNTIL}")).json()["charts"]
        assert set(charts) >= {"incidents", "response", "noisiest", "teams"}
        assert all(svg.startswith("<svg") and "<script" not in svg and "href" not in svg for svg in charts.values())

        bad = await api.get("/api/v1/reports/summary?since=yesterday-ish")
        assert bad.status_code == 400 and bad.json()["field"] == "since"
        bad = await api.get("/api/v1/reports/summary?period=year")
        assert bad.status_code == 400 and bad.json()["field"] == "period"
        bad = await api.get("/api/v1/reports/summary?format=xml")
        assert bad.status_code == 400 and bad.json()["field"] == "format"
        unauthenticated = await api.get("/api/v1/reports/summary", token=None)
        assert unauthenticated.status_code == 401
        paths = (await api.client.get("/openapi.json")).json()["paths"]
        assert "/api/v1/reports/summary" in paths and "/api/v1/reports/charts" in paths


async def test_api_says_when_the_history_has_no_tables(clean, tmp_path: Path) -> None:
    async for api in start_api(clean, history_url=f"sqlite:///{tmp_path / 'empty.db'}"):
        answer = await api.get("/api/v1/reports/summary")
        assert answer.status_code == 503 and answer.json()["error"] == "history_unavailable"


async def test_cli_report_in_every_output(clean, history_file, tmp_path: Path) -> None:
    path, history = history_file
    env = {"STORMWATCH_HISTORY_PATH": str(path), "STORMWATCH_BUSINESS_HOURS": "Mon-Fri 09:00-17:00 Europe/Paris"}
    want = expected(history, SINCE, gen.END)
    code, out, err = await run_cli(clean, "report", "--until", UNTIL, "--json", env=env)
    assert code == 0, err
    report = orjson.loads(out)
    for name in ("incidents", "mtta_mean", "mttr_p90", "interruptions_business_hours", "silenced_seconds"):
        assert near(name, report["figures"][name]["value"], want[name]), name  # p90 from roll-ups: within 1 %

    code, out, err = await run_cli(clean, "report", "--until", UNTIL, env=env)
    assert code == 0, err
    assert "MTTR p90" in out and "Noisiest alerts" in out and f"{want['incidents']:,}" in out
    assert "Respond SLA attainment" in out and f"{100 * want['sla_respond_met_rate']:.1f}%" in out

    code, out, err = await run_cli(clean, "report", "--until", UNTIL, "--team", "dba", "--csv", env=env)
    assert code == 0, err
    rows = {r["figure"]: r for r in csv.DictReader(io.StringIO(out)) if r["section"] == "figures"}
    assert int(rows["incidents"]["value"]) == expected(history, SINCE, gen.END, team="dba")["incidents"]

    page = tmp_path / "report.html"
    code, out, err = await run_cli(clean, "report", "--until", UNTIL, "--html", str(page), env=env)
    assert code == 0, err
    text = page.read_text()
    assert "Resolve SLA attainment" in text and f"{100 * want['sla_resolve_met_rate']:.1f}%" in text
    assert text.count("<svg") >= 4 and "<script" not in text and "src=" not in text and "http://" not in \
        text.replace('xmlns="http://www.w3.org/2000/svg"', "")

    code, out, err = await run_cli(clean, "report", "--since", "nonsense", env=env)
    assert code == 2 and "--since" in err
    code, out, err = await run_cli(clean, "report", env={"STORMWATCH_HISTORY_PATH": str(tmp_path / "none.db")})
    assert code == 1 and "no history database" in err


async def test_cli_export_from_history_then_from_redis(worker, history_file, tmp_path: Path) -> None:
    path, history = history_file
    env = {"STORMWATCH_HISTORY_PATH": str(path)}
    spec = next(s for s in history.incidents if s.runs and s.symptoms and s.acked_at and s.resolved_at
                and s.sla.get("respond") == "late")
    code, out, err = await run_cli(worker.settings, "incidents", "export", spec.id, "--format", "json", env=env)
    assert code == 0, err
    review = orjson.loads(out)
    assert review["source"] == "history" and review["incident"]["id"] == spec.id
    assert close(review["summary"]["time_to_acknowledge"], spec.acked_at - spec.created_at)
    assert review["impact"]["notifications"] == spec.occurrences
    whats = {e["what"] for e in review["timeline"]}
    assert {"alert", "symptom", "action", "change"} <= whats
    assert sorted(a["run_id"] for a in review["actions"]) == sorted(r["run_id"] for r in spec.runs)
    respond = next(r for r in review["sla"] if r["kind"] == "respond")  # its SLA records (met late here)
    assert respond["stage"] == "breached" and close(respond["met_at"], spec.created_at + 600 * 1.5)
    assert close(respond["breached_at"], spec.created_at + 600) and respond["target"] == 600.0
    assert [r["kind"] for r in review["sla"]] == sorted(spec.sla)
    code, out, err = await run_cli(worker.settings, "incidents", "export", spec.id, env=env)
    assert code == 0 and out.startswith(f"# Post-incident review: {spec.id}") and "## Timeline" in out
    assert "## Service levels" in out and "- respond: target 10.0m" in out and "met late at" in out

    # an incident only Redis knows (the history writer is off in tests): drafted from Redis
    alert = v2_alert("NodeDown", "k8s", "node-1")
    before = stored_alerts(worker)
    await publish(worker.settings, [orjson.dumps([alert])])
    await eventually(lambda: stored_alerts(worker) > before, what="alert stored")
    live = (await worker.store.list_incidents())[0].id
    code, out, err = await run_cli(worker.settings, "incidents", "export", live, "--format", "json", env=env)
    assert code == 0, err
    review = orjson.loads(out)
    assert review["source"] == "redis" and review["incident"]["id"] == live
    assert [e["what"] for e in review["timeline"]].count("alert") == 1
    code, out, err = await run_cli(worker.settings, "incidents", "export", "INC-000000000000-9", env=env)
    assert code == 1 and "no incident" in err
