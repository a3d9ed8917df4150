"""The service catalog against the real RabbitMQ and Redis: alerts bound to services (by binding rule and by
label), incidents carrying service, binding and affected business services, owner team as assignment group,
health through the API and the CLI (both backends) (docs/services.md)."""

from __future__ import annotations

from pathlib import Path

import orjson
import yaml

from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, READ, start_api
from tests.integration.helpers import run_cli, v2_alert
from tests.unit.test_catalog import CATALOG as UNIT_CATALOG

CATALOG = UNIT_CATALOG  # the unit tests' catalog (tests/unit/test_catalog.py), through the real services


def write_catalog(directory: Path) -> str:
    directory.mkdir(exist_ok=True)
    (directory / "catalog.yaml").write_text(yaml.safe_dump(CATALOG))
    return str(directory)


async def _open_incidents(api, count: int) -> list[dict]:
    page = (await api.get("/api/v1/incidents?status=open")).json()
    return page["items"] if len(page["items"]) >= count else []


async def test_incidents_hang_on_services_and_health_is_computed_from_them(clean, tmp_path):
    rules = write_catalog(tmp_path / "rules")
    async for api in start_api(clean, rules=rules):
        alerts = [
            v2_alert("PostgresDown", "postgres", "pg-1", severity="warning"),  # bound by the pg-hosts rule
            v2_alert("SlowReports", "reports", "rep-1", severity="warning"),  # bound by its label
            v2_alert("Odd", "not-in-catalog", "x-1", severity="info"),
        ]
        assert (await api.post("/api/v2/alerts", alerts, token=INGEST)).status_code == 200
        incidents = await eventually(lambda: _open_incidents(api, 3), what="three incidents")
        by_service = {i["service"]: i for i in incidents}
        db = by_service["payments-db"]
        assert (db["binding"], db["business_services"], db["team"]) == (
            "binding:pg-hosts", ["card-payments", "online-shop"], "dba")
        assert db["priority"] == "P2"  # tier 1 -> high impact, a warning's medium urgency
        assert by_service["reports"]["priority"] == "P4"  # tier 4 -> low impact x medium urgency
        assert by_service["not-in-catalog"]["team"] == "unassigned"

        listed = (await api.get("/api/v1/services")).json()
        health = {s["name"]: s["health"] for s in listed["items"]}
        assert health == {"payments-db": "degraded", "payments-api": "operational", "checkout": "operational",
                          "reports": "degraded", "not-in-catalog": "degraded"}
        db_doc = (await api.get("/api/v1/services/payments-db")).json()
        assert (db_doc["owner"], db_doc["tier"], db_doc["dependants"], db_doc["depends_on"]) == (
            "dba", 1, ["payments-api"], [])
        assert db_doc["links"]["runbook"] == "https://runbooks.example.com/payments-db"
        assert [i["id"] for i in db_doc["open_incidents"]] == [db["id"]]
        api_doc = (await api.get("/api/v1/services/payments-api")).json()
        assert api_doc["depends_on"] == ["payments-db"] and api_doc["dependants"] == ["checkout"]
        missing = await api.get("/api/v1/services/nowhere")
        assert missing.status_code == 404 and missing.json()["field"] == "name"
        assert (await api.get("/api/v1/services", token=None)).status_code == 401

        business = {b["name"]: b for b in (await api.get("/api/v1/business-services")).json()["items"]}
        assert {n: b["health"] for n, b in business.items()} == {
            "card-payments": "degraded", "online-shop": "degraded", "finance": "degraded"}
        assert business["online-shop"]["services"] == ["checkout"]

        # a P1 puts the service (and what it affects) in outage
        critical = v2_alert("PostgresDown", "postgres", "pg-2", severity="critical")
        critical["labels"]["alertname"] = "PostgresPrimaryDown"
        assert (await api.post("/api/v2/alerts", [critical], token=INGEST)).status_code == 200
        await eventually(lambda: _open_incidents(api, 4), what="a fourth incident")
        db_doc = (await api.get("/api/v1/services/payments-db")).json()
        assert db_doc["health"] == "outage" and len(db_doc["open_incidents"]) == 2
        business = {b["name"]: b["health"] for b in (await api.get("/api/v1/business-services")).json()["items"]}
        assert business["online-shop"] == "outage" and business["finance"] == "degraded"

        shown = (await api.get(f"/api/v1/incidents/{db['id']}")).json()
        assert shown["service"] == "payments-db" and shown["binding"] == "binding:pg-hosts"

        # the CLI: straight to Redis (with STORMWATCH_RULES' catalog) and through the API agree
        redis_env = {"STORMWATCH_RULES": rules}
        api_env = {"STORMWATCH_API_URL": str(api.client.base_url), "STORMWATCH_API_TOKEN": READ}
        for env in (redis_env, api_env):
            code, out, err = await run_cli(clean, "services", "list", "--json", env=env)
            assert code == 0, err
            assert {s["name"]: s["health"] for s in orjson.loads(out)["items"]}["payments-db"] == "outage"
            code, out, err = await run_cli(clean, "services", "show", "payments-db", env=env)
            assert code == 0, err
            assert "payments-db" in out and "outage" in out and "https://runbooks.example.com/payments-db" in out
            code, out, err = await run_cli(clean, "services", "list", "--business", env=env)
            assert code == 0 and "online-shop" in out, err
            code, out, err = await run_cli(clean, "services", "show", "nowhere", env=env)
            assert code == 1 and "no service" in err
        code, out, err = await run_cli(clean, "incidents", "show", db["id"], env=redis_env)
        assert code == 0 and "service: payments-db (binding:pg-hosts); affects card-payments, online-shop" in out


PODS_TOPOLOGY = {"topology": {
    "services": {"orders-db": {}, "orders-api": {"depends_on": ["orders-db"]},
                 "checkout": {"depends_on": ["orders-api"]}},
    # what the catalog knows of checkout's alerts: its pods' namespace (kube-state-metrics alerts carry no
    # `service`), and the name its own alerts use
    "bindings": [{"name": "checkout-namespace", "match": ['namespace="checkout"'], "service": "checkout"},
                 {"name": "checkout-web", "match": ['service="checkout-web"'], "service": "checkout"}],
}}


async def test_pods_the_topology_does_not_name_roll_up_through_a_binding(clean, tmp_path):
    # issue 15, item 4: pod alerts with namespace/container but no service, or a service value the topology does
    # not know, are placed by a binding rule and become symptoms along the dependency graph
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "topology.yaml").write_text(yaml.safe_dump(PODS_TOPOLOGY))
    async for api in start_api(clean, rules=str(rules)):
        db_alert = v2_alert("PostgresDown", "orders-db", "db-1", severity="critical")
        assert (await api.post("/api/v2/alerts", [db_alert], token=INGEST)).status_code == 200
        (db,) = await eventually(lambda: _open_incidents(api, 1), what="the database incident")

        crashing = v2_alert("KubePodCrashLooping", "", "10.0.0.7:8080", severity="warning")
        del crashing["labels"]["service"]
        crashing["labels"] |= {"namespace": "checkout", "container": "web", "pod": "web-7d9f-1"}
        slow = v2_alert("HighLatency", "checkout-web", "co-1", severity="warning")
        elsewhere = v2_alert("KubePodCrashLooping", "", "10.0.0.9:8080", severity="warning")  # bound by nothing
        del elsewhere["labels"]["service"]
        elsewhere["labels"] |= {"namespace": "search", "container": "api", "pod": "search-5c4b-1"}
        assert (await api.post("/api/v2/alerts", [crashing, slow, elsewhere], token=INGEST)).status_code == 200

        async def symptoms() -> list[dict]:
            doc = (await api.get(f"/api/v1/incidents/{db['id']}")).json()
            return doc["symptoms"] if len(doc["symptoms"]) == 2 else []

        placed = await eventually(symptoms, what="both checkout alerts as symptoms of the database incident")
        assert {s["labels"]["alertname"]: s["path"] for s in placed} == {
            "KubePodCrashLooping": ["checkout", "orders-api", "orders-db"],
            "HighLatency": ["checkout", "orders-api", "orders-db"]}
        incidents = await eventually(lambda: _open_incidents(api, 2), what="the unbound pod's own incident")
        assert len(incidents) == 2  # the search pod, which no binding places, pages on its own
        own = next(i for i in incidents if i["id"] != db["id"])
        assert own["title"].startswith("KubePodCrashLooping") and own["service"] == ""
