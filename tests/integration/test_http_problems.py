"""The problems API over real HTTP against the real worker, Redis and RabbitMQ: list, detail, link / unlink,
known error, resolve; each change on the problem's timeline with who, and published on <ns>.events."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, READ, RESPOND, EventTap, start_api
from tests.integration.helpers import stored_alerts, v2_alert
from tests.integration.test_flapping_problems import PROBLEM_RULES  # a recurring batch job opens a problem


@pytest.fixture
async def api(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(PROBLEM_RULES)
    async for api in start_api(clean, rules=str(tmp_path)):
        yield api


async def _alert(api, *alerts) -> None:
    before = stored_alerts(api.worker)
    answer = await api.post("/api/v2/alerts", list(alerts), token=INGEST)
    assert answer.status_code == 200, answer.text
    await eventually(lambda: stored_alerts(api.worker) >= before + len(alerts), what="alerts stored")


async def a_problem(api) -> str:
    """Two incidents of one batch job within an hour: a recurrence problem."""
    await _alert(api, v2_alert("BatchJobFailed", "billing", "job-1", starts_at="2026-11-21T01:00:00Z"))
    await _alert(api, v2_alert("BatchJobFailed", "billing", "job-1", resolved=True, starts_at="2026-11-21T01:00:00Z"))
    await _alert(api, v2_alert("BatchJobFailed", "billing", "job-1", starts_at="2026-11-21T02:00:00Z"))
    page = await eventually(lambda: _problems(api), what="the problem")
    (problem,) = page
    return problem["id"]


async def _problems(api, query: str = ""):
    answer = await api.get(f"/api/v1/problems{query}")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def other_incident(api) -> str:
    await _alert(api, v2_alert("PostgresDown", "orders-db", "db-1"))
    (incident,) = [i for i in await api.worker.store.list_incidents() if i.group_labels.get("service") == "orders-db"]
    return incident.id


async def test_list_filters_and_pages(api):
    pid = await a_problem(api)
    assert [p["id"] for p in await _problems(api, "?status=open")] == [pid]
    assert [p["id"] for p in await _problems(api, "?rule=recurring&team=billing")] == [pid]
    assert await _problems(api, "?team=dba") == []
    assert await _problems(api, "?status=resolved") == []
    first = (await api.get("/api/v1/problems?limit=1")).json()
    assert [p["id"] for p in first["items"]] == [pid]
    rest = (await api.get(f"/api/v1/problems?limit=1&cursor={first['next_cursor']}")).json()
    assert rest == {"items": [], "next_cursor": None}
    for query, field in (("?status=bogus", "status"), ("?limit=0", "limit"), ("?cursor=garbage", "cursor")):
        bad = await api.get(f"/api/v1/problems{query}")
        assert bad.status_code == 400 and bad.json()["field"] == field, query
    assert (await api.get("/api/v1/problems", token=None)).status_code == 401


async def test_detail_link_unlink_known_error_resolve_on_the_timeline_and_published(api):
    tap = await EventTap(api.worker.settings).start()
    try:
        pid = await a_problem(api)
        detail = (await api.get(f"/api/v1/problems/{pid}")).json()
        assert detail["status"] == "open" and len(detail["incidents"]) == 2
        assert sorted(i["id"] for i in detail["linked_incidents"]) == sorted(detail["incidents"])
        assert detail["timeline"][0]["kind"] == "created"
        for missing in ("PRB-000000000000-9", "nonsense"):
            answer = await api.get(f"/api/v1/problems/{missing}")
            assert answer.status_code == 404 and answer.json()["field"] == "id"

        iid = await other_incident(api)
        linked = await api.post(f"/api/v1/problems/{pid}/link", {"incident": iid}, token=RESPOND)
        assert linked.status_code == 200, linked.text
        assert linked.json()["changed"] and linked.json()["event_published"]
        assert iid in linked.json()["problem"]["incidents"]
        again = await api.post(f"/api/v1/problems/{pid}/link", {"incident": iid}, token=RESPOND)
        assert again.json()["changed"] is False and again.json()["event_published"] is False
        unknown = await api.post(f"/api/v1/problems/{pid}/link", {"incident": "INC-000000000000-1"}, token=RESPOND)
        assert unknown.status_code == 404 and unknown.json()["field"] == "incident"
        for bad in ({}, {"incident": ""}, {"incident": iid, "extra": 1}):
            answer = await api.post(f"/api/v1/problems/{pid}/link", bad, token=RESPOND)
            assert answer.status_code == 422, bad
        assert (await api.post(f"/api/v1/problems/{pid}/link", b"{", token=RESPOND)).json()["field"] == "body"

        unlinked = await api.post(f"/api/v1/problems/{pid}/unlink", {"incident": iid}, token=RESPOND)
        assert unlinked.json()["changed"] and iid not in unlinked.json()["problem"]["incidents"]

        known = await api.post(f"/api/v1/problems/{pid}/known-error", {"comment": "disk quota"}, token=RESPOND)
        assert known.json()["problem"]["status"] == "known_error" and known.json()["changed"]
        resolved = await api.post(f"/api/v1/problems/{pid}/resolve", None, token=RESPOND)
        assert resolved.json()["problem"]["status"] == "resolved" and resolved.json()["problem"]["resolved_at"]
        assert (await api.post(f"/api/v1/problems/{pid}/resolve", None, token=RESPOND)).json()["changed"] is False
        refused = await api.post(f"/api/v1/problems/{pid}/link", {"incident": iid}, token=RESPOND)
        assert refused.status_code == 409
        assert (await api.post(f"/api/v1/problems/{pid}/known-error", None, token=RESPOND)).status_code == 409
        assert await _problems(api, "?status=open") == []

        timeline = (await api.get(f"/api/v1/problems/{pid}")).json()["timeline"]
        people = [(e["kind"], e.get("by")) for e in timeline if e.get("by")]
        assert people == [("link", "sre"), ("unlink", "sre"), ("known_error", "sre"), ("resolved", "sre")]
        assert any(e["text"] == "known_error by sre: disk quota" for e in timeline)

        expected = ["problem.updated", "problem.updated", "problem.known_error", "problem.resolved"]
        await eventually(lambda: _problem_events_are(tap, expected), what="the problem events")
        assert {e["by"] for e in tap.seen if e["type"].startswith("problem.") and "by" in e} == {"sre"}
    finally:
        await tap.close()


async def _problem_events_are(tap: EventTap, expected: list[str]) -> bool:
    return [t for t in await tap.types() if t.startswith("problem.") and t != "problem.created"] == expected


async def test_changes_need_the_respond_role_and_change_nothing_otherwise(api):
    pid = await a_problem(api)
    iid = await other_incident(api)
    before = (await api.get(f"/api/v1/problems/{pid}")).json()
    for path, body in (("link", {"incident": iid}), ("unlink", {"incident": before["incidents"][0]}),
                       ("known-error", None), ("resolve", None)):
        for token, status in ((None, 401), ("not-a-token-0123456789", 401), (READ, 403), (INGEST, 403)):
            answer = await api.post(f"/api/v1/problems/{pid}/{path}", body, token=token)
            assert answer.status_code == status, (path, token, answer.text)
    assert (await api.get(f"/api/v1/problems/{pid}")).json() == before


async def test_cli_links_and_previews_through_the_api(api):
    from tests.integration.test_cli_incident_commands import _cli_as

    pid = await a_problem(api)
    iid = await other_incident(api)
    code, out, err = await _cli_as(api, RESPOND, "problems", "link", pid, iid, "--json")
    assert code == 0, err
    doc = orjson.loads(out)
    assert doc["changed"] and iid in doc["problem"]["incidents"]
    code, out, err = await _cli_as(api, READ, "problems", "unlink", pid, iid)
    assert code == 2 and "403" in err and "STORMWATCH_API_TOKEN" in err
    code, out, err = await _cli_as(api, RESPOND, "problems", "unlink", pid, iid)
    assert code == 0 and "unlink" in out and "done" in out, err
    code, out, err = await _cli_as(api, READ, "silences", "preview", 'service="orders-db"', "--json")
    assert code == 0, err
    assert [m["incident"] for m in orjson.loads(out)["matched"]] == [iid]
    code, out, err = await _cli_as(api, READ, "silences", "preview", "service=~(")
    assert code == 2 and "matchers.0" in err  # a request the API refuses as invalid: a usage error


async def test_cli_problem_lifecycle_through_the_api(api):
    from tests.integration.test_cli_incident_commands import _cli_as

    pid = await a_problem(api)
    code, out, err = await _cli_as(api, READ, "problems", "list", "--open", "--json")
    assert code == 0, err
    assert orjson.loads(out) == (await api.get("/api/v1/problems?status=open,known_error")).json()["items"]
    assert [p["id"] for p in orjson.loads(out)] == [pid]
    code, out, err = await _cli_as(api, None, "problems", "list", "--open", "--json")  # Redis directly: the same
    assert code == 0 and [p["id"] for p in orjson.loads(out)] == [pid], err
    code, out, err = await _cli_as(api, READ, "problems", "show", pid)
    assert code == 0 and pid in out and "timeline" in out, err

    code, out, err = await _cli_as(api, READ, "problems", "known-error", pid)
    assert code == 2 and "403" in err
    code, out, err = await _cli_as(api, RESPOND, "problems", "known-error", pid, "-m", "workaround: restart",
                                   "--json")
    assert code == 0, err
    doc = orjson.loads(out)
    assert doc["changed"] and doc["problem"]["status"] == "known_error"
    code, out, err = await _cli_as(api, RESPOND, "problems", "resolve", pid)
    assert code == 0 and f"{pid} is now resolved" in out, err
    code, out, err = await _cli_as(api, RESPOND, "problems", "known-error", pid)
    assert code == 1 and "409" in err
    code, out, err = await _cli_as(api, READ, "problems", "show", pid, "--json")
    timeline = orjson.loads(out)["timeline"]
    assert [(e["kind"], e.get("by")) for e in timeline[-2:]] == [("known_error", "sre"), ("resolved", "sre")]
    assert any("workaround: restart" in e["text"] for e in timeline)
    code, out, err = await _cli_as(api, READ, "problems", "show", "PRB-0123456789ab-1")
    assert code == 1 and "404" in err
