"""ReDoS and YAML bombs against a real worker and its HTTP server (issue 13, probes 1, 2 and 9's ``file=a%00``).

Each probe once stalled the event loop for seconds. Here each asserts behaviour, never time: the request completes,
and a /healthz request sent at the same moment completes too, within the test's own timeout.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import eventually
from tests.integration.api_helpers import ADMIN, INGEST, READ, RESPOND, start_api
from tests.integration.helpers import metric, stored_alerts, v2_alert
from tests.unit.test_rule_file_limits import bomb

LONG = 10_000  # characters: `(a+)+b` backtracks ~2^LONG steps over this on Python's re
RULE = """
groups:
  - name: api-errors
    match: ['alertname="HighErrorRate"']
    group_by: [service]
"""


@pytest.fixture
async def api(clean, tmp_path: Path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "api.yaml").write_text(RULE)
    async for api in start_api(clean, rules=str(rules), rules_poll_seconds=0.05):
        yield api


async def _with_healthz(api, request):
    """``request`` and a /healthz sent at the same moment; both must answer."""
    answer, health = await asyncio.gather(request, api.client.get("/healthz"))
    assert health.status_code == 200, health.text
    return answer


async def test_a_read_token_preview_with_a_pathological_regex_over_a_long_label_completes(api):
    before = stored_alerts(api.worker)
    alerts = [v2_alert("a" * LONG, "orders-db", "db-1"), v2_alert("aaab", "orders-db", "db-2")]
    assert (await api.post("/api/v2/alerts", alerts, token=INGEST)).status_code == 200
    await eventually(lambda: stored_alerts(api.worker) >= before + 2, what="alerts stored")

    answer = await _with_healthz(api, api.post("/api/v1/silences/preview", {"matchers": ['alertname=~"(a+)+b"']},
                                               token=READ))
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert doc["incidents_scanned"] >= 1
    assert [m["labels"]["alertname"] for m in doc["matched"]] == ["aaab"]  # the long one does not match

    negated = await api.post("/api/v1/silences/preview", {"matchers": ['alertname!~"(a+)+b"']}, token=READ)
    assert [m["labels"]["alertname"] for m in negated.json()["matched"]] == ["a" * LONG]


async def test_a_pathological_silence_is_applied_by_the_worker_and_healthz_answers(api):
    silence = await api.post("/api/v1/silences", {"matchers": ['service=~"(x+)+y"'], "duration": "1h",
                                                  "comment": "ReDoS probe"}, token=RESPOND)
    assert silence.status_code == 201, silence.text
    before = stored_alerts(api.worker)
    alerts = [v2_alert("Probe", "x" * LONG, "i-1"), v2_alert("Probe", "xxxy", "i-2")]
    posted = await _with_healthz(api, api.post("/api/v2/alerts", alerts, token=INGEST))
    assert posted.status_code == 200, posted.text
    await eventually(lambda: stored_alerts(api.worker) >= before + 2, what="both alerts processed")
    health = await api.client.get("/healthz")
    assert health.status_code == 200
    assert metric(api.worker, "stormwatch_alerts_muted_total") == 1  # xxxy
    services = [i.group_labels.get("service") for i in await api.worker.store.list_incidents()]
    assert services == ["x" * LONG]  # not muted: the pattern needs a final y


async def test_a_yaml_bomb_sent_to_validate_is_refused_with_a_reason_and_a_small_answer(api):
    answer = await _with_healthz(api, api.post("/api/v1/rules/validate?file=bomb.yaml", bomb(), token=READ))
    assert answer.status_code == 422
    assert len(answer.content) < 1_000
    (error,) = answer.json()["errors"]
    assert error == ("bomb.yaml:5: refused: aliases expand the document to more than 100000 nodes "
                     "(STORMWATCH_RULES_MAX_NODES)")
    deep = await api.post("/api/v1/rules/validate", "[" * 50_000 + "]" * 50_000, token=READ)
    assert deep.status_code == 422 and deep.json()["errors"] == [
        "candidate.yaml:1: refused: nested deeper than 64 levels"]
    ok = await api.post("/api/v1/rules/validate?file=api.yaml", RULE, token=READ)
    assert ok.status_code == 200 and ok.json() == {"valid": True, "errors": []}


@pytest.mark.parametrize("query", ["file=a%00.yaml", "file=.yaml", "file=-x.yaml", "file=a%2Fb.yaml",
                                   "file=..%2Fa.yaml", "file=a.txt", "file=a%0A.yaml", "file=" + "a" * 124 + ".yaml",
                                   "file=a.yaml&file=b.yaml", "file="])
async def test_validate_refuses_a_bad_file_name_naming_the_field(api, query: str):
    answer = await api.post(f"/api/v1/rules/validate?{query}", RULE, token=READ)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == "file"


async def test_a_bomb_dropped_into_the_rules_directory_is_refused_and_the_running_set_stays(api, tmp_path: Path):
    assert metric(api.worker, "stormwatch_group_rules") == 1
    (tmp_path / "rules" / "bomb.yaml").write_text(bomb())
    await eventually(lambda: metric(api.worker, "stormwatch_rules_reloads_total", {"outcome": "refused"}) >= 1,
                     what="reload refused")
    assert (await api.client.get("/healthz")).status_code == 200
    assert metric(api.worker, "stormwatch_group_rules") == 1
    summary = (await api.get("/api/v1/rules")).json()
    assert summary["files"] == ["api.yaml"] and [g["name"] for g in summary["groups"]] == ["api-errors"]

    reload = await _with_healthz(api, api.post("/api/v1/rules/reload", None, token=ADMIN))
    assert reload.status_code == 422 and len(reload.content) < 1_000
    (error,) = reload.json()["errors"]
    assert error.endswith("bomb.yaml:5: refused: aliases expand the document to more than 100000 nodes "
                          "(STORMWATCH_RULES_MAX_NODES)")
    assert (await api.get("/api/v1/rules")).json()["files"] == ["api.yaml"]
