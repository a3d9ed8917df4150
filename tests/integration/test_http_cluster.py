"""The incident API against a three-node Redis Cluster: reads, pages and compare-and-set commands keep to slots."""

from __future__ import annotations


from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, RESPOND, start_api
from tests.integration.helpers import stored_alerts, v2_alert


async def test_incident_api_on_a_redis_cluster(clean, cluster):
    s = clean.model_copy(update={"redis_url": cluster.url, "redis_cluster": True})  # clean: RabbitMQ objects go
    async for api in start_api(s):
        alerts = [v2_alert(f"Cluster{n}", f"svc-{n}", "pod-1") for n in range(6)]  # groups spread over nodes
        assert (await api.post("/api/v2/alerts", alerts, token=INGEST)).status_code == 200
        await eventually(lambda: stored_alerts(api.worker) >= 6, what="alerts stored")
        page = (await api.get("/api/v1/incidents", params={"limit": 4})).json()
        rest = (await api.get("/api/v1/incidents", params={"cursor": page["next_cursor"]})).json()
        ids = [i["id"] for i in page["items"] + rest["items"]]
        assert len(set(ids)) == 6
        for iid in ids:
            answer = await api.post(f"/api/v1/incidents/{iid}/acknowledge", {"comment": "on it"}, token=RESPOND)
            assert answer.status_code == 200 and answer.json()["incident"]["status"] == "acknowledged"
            answer = await api.post(f"/api/v1/incidents/{iid}/resolve", None, token=RESPOND)
            assert answer.json()["incident"]["status"] == "resolved"
        assert (await api.post(f"/api/v1/incidents/{ids[0]}/reopen", None, token=RESPOND)).json()[
            "incident"]["firing"] == 1
        detail = (await api.get(f"/api/v1/incidents/{ids[0]}")).json()
        assert [e["kind"] for e in detail["timeline"] if "by" in e] == ["acknowledged", "resolved", "reopened"]
        assert len(detail["members"]) == 1
        open_now = (await api.get("/api/v1/incidents", params={"status": "open"})).json()["items"]
        assert [i["id"] for i in open_now] == [ids[0]]


async def test_problem_api_on_a_redis_cluster(clean, cluster, tmp_path):
    """Link / unlink / known-error / resolve are scripts on the problem's own slot; lists read across nodes."""
    from tests.integration.test_flapping_problems import PROBLEM_RULES
    from tests.integration.test_http_problems import a_problem, other_incident

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(PROBLEM_RULES)
    s = clean.model_copy(update={"redis_url": cluster.url, "redis_cluster": True, "rules": str(tmp_path / "rules")})
    async for api in start_api(s):
        pid = await a_problem(api)
        iid = await other_incident(api)
        for path, body in (("link", {"incident": iid}), ("unlink", {"incident": iid}), ("link", {"incident": iid}),
                           ("known-error", None), ("resolve", None)):
            answer = await api.post(f"/api/v1/problems/{pid}/{path}", body, token=RESPOND)
            assert answer.status_code == 200 and answer.json()["changed"], (path, answer.text)
        detail = (await api.get(f"/api/v1/problems/{pid}")).json()
        assert detail["status"] == "resolved" and iid in detail["incidents"]
        assert [e["kind"] for e in detail["timeline"] if e.get("by")] == ["link", "unlink", "link", "known_error",
                                                                         "resolved"]
        assert (await api.get("/api/v1/problems", params={"status": "open"})).json()["items"] == []
        preview = await api.post("/api/v1/silences/preview", {"matchers": ['service="orders-db"']}, token=RESPOND)
        assert [m["incident"] for m in preview.json()["matched"]] == [iid]
        assert (await api.get("/api/v1/actions")).json() == {"items": []}
