"""The service catalog: binding alerts to services, impact roll-up, owner team, tier impact, health, and the
whole-set checks `rules check` runs over it (docs/services.md)."""

from __future__ import annotations

from pathlib import Path

import yaml

from correlation.core.catalog import DEGRADED, OPERATIONAL, OUTAGE, Catalog, health_of, service_health
from correlation.core.routing import Router
from replay.simulation import Simulation
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import EXAMPLES_DIR, lint_directory, load_rule_set

CATALOG = {
    "topology": {
        "services": {
            "payments-db": {"owner": "dba", "tier": 1, "description": "the ledger",
                            "links": {"runbook": "https://runbooks.example.com/payments-db"}},
            "payments-api": {"depends_on": ["payments-db"], "owner": "payments", "tier": 2,
                             "business_services": ["card-payments"]},
            "checkout": {"depends_on": ["payments-api"], "owner": "web", "tier": 3,
                         "business_services": ["online-shop"]},
            "reports": {"owner": "web", "tier": 4, "business_services": ["finance"]},
        },
        "teams": {"dba": {}, "payments": {}, "web": {"contact": "#web"}},
        "business_services": {"card-payments": {"owner": "payments"}, "online-shop": {}, "finance": {}},
        "bindings": [
            {"name": "pg-hosts", "match": ['instance=~"pg-.*"'], "service": "payments-db"},
            {"name": "everything-on-report-hosts", "match": ['host="rep-1"'], "service": "reports"},
        ],
        "tier_impact": {1: "high", 2: "high", 3: "medium", 4: "low"},
    },
}


def _rules(tmp_path: Path, *docs: dict):
    for i, doc in enumerate(docs):
        (tmp_path / f"{i}.yaml").write_text(yaml.safe_dump(doc))
    return load_rule_set(tmp_path)


def test_a_binding_rule_wins_over_the_label_and_the_label_binds_otherwise(tmp_path):
    catalog = Catalog(_rules(tmp_path, CATALOG).topology)
    bound = catalog.bind({"alertname": "PostgresDown", "instance": "pg-3", "service": "postgres"})
    assert (bound.service, bound.binding, bound.owner, bound.tier) == ("payments-db", "binding:pg-hosts", "dba", 1)
    by_label = catalog.bind({"alertname": "HighLatency", "service": "checkout"})
    assert (by_label.service, by_label.binding, by_label.owner) == ("checkout", "label:service", "web")
    unknown = catalog.bind({"alertname": "X", "service": "not-in-catalog"})
    assert (unknown.service, unknown.owner, unknown.tier, unknown.business_services) == ("not-in-catalog", "", None, ())
    assert catalog.bind({"alertname": "X"}) is None


def test_impact_rolls_up_through_everything_that_depends_on_the_service(tmp_path):
    catalog = Catalog(_rules(tmp_path, CATALOG).topology)
    assert catalog.impact("payments-db") == ("card-payments", "online-shop")  # via payments-api, checkout
    assert catalog.impact("checkout") == ("online-shop",)
    assert catalog.impact("reports") == ("finance",)
    assert catalog.dependants("payments-db") == ("payments-api",)
    assert catalog.upstream("payments-db") == {"payments-db": 0, "payments-api": 1, "checkout": 2}
    assert catalog.downstream("checkout") == {"checkout": 0, "payments-api": 1, "payments-db": 2}
    assert catalog.supporting("online-shop") == ("checkout",)


def test_health_is_outage_on_an_open_p1_degraded_on_any_other_open_incident():
    assert health_of([]) == OPERATIONAL
    assert health_of(["P3", ""]) == DEGRADED
    assert health_of(["P3", "P1"]) == OUTAGE
    services, business = service_health([
        {"service": "payments-db", "priority": "P1", "business_services": ["card-payments", "online-shop"]},
        {"service": "reports", "priority": "P4", "business_services": ["finance"]},
    ])
    assert services == {"payments-db": OUTAGE, "reports": DEGRADED}
    assert business == {"card-payments": OUTAGE, "online-shop": OUTAGE, "finance": DEGRADED}


def _alert(labels: dict[str, str], at: float = 0.0) -> Alert:
    return Alert(labels=labels, status="firing", starts_at=at, received_at=at, fingerprint=fingerprint(labels),
                 source="test")


def test_the_incident_records_service_binding_affected_business_services_and_the_owner_team(tmp_path):
    rules = _rules(tmp_path, CATALOG, {"groups": [
        {"name": "db", "match": ['alertname="PostgresDown"'], "group_by": ["instance"], "team": "oncall-db"},
    ]})
    sim = Simulation(rules)
    # checkout first: once payments-db (bound by pg-hosts) fails, checkout's alerts roll up into its incident
    sim.feed(_alert({"alertname": "HighLatency", "service": "checkout", "team": "frontend"}), 0.0)
    sim.feed(_alert({"alertname": "PostgresDown", "instance": "pg-1", "severity": "critical"}), 1.0)
    sim.feed(_alert({"alertname": "Odd", "service": "not-in-catalog", "team": "frontend"}), 2.0)
    by_title = {i.title: i for i in sim.incidents()}
    db = by_title["db: pg-1"]
    assert (db.service, db.binding, db.business_services) == ("payments-db", "binding:pg-hosts",
                                                              ["card-payments", "online-shop"])
    assert db.team == "oncall-db"  # the rule names a team: it wins over the owner
    checkout = by_title["HighLatency / checkout"]
    assert (checkout.service, checkout.binding, checkout.business_services) == ("checkout", "label:service",
                                                                               ["online-shop"])
    assert checkout.team == "web"  # no team in the rule: the owner, before the alert's team label
    odd = by_title["Odd / not-in-catalog"]
    assert (odd.service, odd.team, odd.business_services) == ("not-in-catalog", "frontend", [])
    assert db.public()["business_services"] == ["card-payments", "online-shop"]


def test_topology_rolls_up_by_the_catalogs_binding_with_the_label_as_fallback(tmp_path):
    """An alert with no service label, bound to payments-db by a binding rule, is the cause of checkout's alerts; an
    alert whose binding names payments-db is on payments-db whatever its label says."""
    rules = _rules(tmp_path, CATALOG, {"groups": [
        {"name": "db", "match": ['alertname="PostgresDown"'], "group_by": ["instance"]},
    ]})
    sim = Simulation(rules)
    sim.feed(_alert({"alertname": "PostgresDown", "instance": "pg-1", "severity": "critical"}), 0.0)
    sim.feed(_alert({"alertname": "HighLatency", "service": "checkout"}), 1.0)  # bound by its label
    by_title = {i.title: i for i in sim.incidents()}
    assert list(by_title) == ["db: pg-1"]
    paths = [" > ".join(s.path) for s in sim.symptoms_of(by_title["db: pg-1"].id)]
    assert paths == ["checkout > payments-api > payments-db"]
    router = Router(rules, ("alertname", "service"))
    assert router.causes.feeds({"alertname": "DiskFull", "instance": "pg-2", "severity": "critical"}) == (
        "svc:payments-db",)
    assert [lk.key for lk in router.causes.lookups({"alertname": "X", "service": "checkout"})] == [
        "svc:payments-api", "svc:payments-db"]
    # without a binding, the label still decides
    assert router.causes.feeds({"alertname": "X", "service": "payments-db"}) == ("svc:payments-db",)


def test_priority_precedence_is_rule_then_service_tier_then_the_default(tmp_path):
    rules = _rules(tmp_path, CATALOG, {"groups": [
        {"name": "with-priority", "match": ['alertname="Ruled"'], "priority": {"impact": "low", "urgency": "low"}},
    ]})
    router = Router(rules, ("alertname", "service"))

    def priority(labels: dict[str, str]) -> str:
        return router.priority(router.route(labels), labels)

    # the rule's own priority, whatever the tier
    assert priority({"alertname": "Ruled", "service": "payments-db", "severity": "critical"}) == "P5"
    # no rule priority: the tier sets impact (tier 1 -> high), the severity's urgency (warning -> medium)
    assert priority({"alertname": "X", "service": "payments-db", "severity": "warning"}) == "P2"
    # tier 4 -> low impact with a critical's high urgency
    assert priority({"alertname": "X", "instance": "x", "host": "rep-1", "severity": "critical"}) == "P3"
    # no tier (unknown service): the default for the severity (warning -> P3)
    assert priority({"alertname": "X", "service": "elsewhere", "severity": "warning"}) == "P3"


def test_without_tier_impact_priorities_are_unchanged(tmp_path):
    doc = yaml.safe_load(yaml.safe_dump(CATALOG))
    del doc["topology"]["tier_impact"]
    router = Router(_rules(tmp_path, doc), ("alertname", "service"))
    labels = {"alertname": "X", "service": "payments-db", "severity": "warning"}
    assert router.priority(router.route(labels), labels) == "P3"


def _errors(tmp_path: Path, doc: dict) -> list[str]:
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(doc))
    errors, _ = lint_directory(tmp_path)
    return [f"{e.path}: {e.message}" for e in errors]


def test_rules_check_reports_dangling_teams_business_services_bindings_unknown_keys_and_cycles(tmp_path):
    errors = _errors(tmp_path, {"topology": {
        "services": {
            "a": {"owner": "nobody", "business_services": ["shop"], "depends_on": ["b"]},
            "b": {"depends_on": ["a"], "owner": "ops"},
            "c": {"colour": "red"},
            "d": {"tier": 5, "links": {"runbook": "javascript:alert(1)"}},
        },
        "teams": {"ops": {}},
        "business_services": {"shop2": {"owner": "ghosts"}},
        "bindings": [{"name": "x", "match": ['instance="i"'], "service": "nowhere"}],
    }})
    text = "\n".join(errors)
    assert "topology.services.a.owner: 'a' is owned by unknown team 'nobody'" in text
    assert "topology.services.a.business_services[0]: 'a' supports unknown business service 'shop'" in text
    assert "topology cycle: a -> b -> a" in text
    assert "topology.services.c.colour: unknown key 'colour'" in text
    assert "topology.services.d.tier" in text
    assert "topology.services.d.links.runbook: invalid link" in text
    assert "business service 'shop2' is owned by unknown team 'ghosts'" in text
    assert "topology.bindings[0].service: binding 'x' names unknown service 'nowhere'" in text


def test_support_hours_name_a_defined_calendar_or_24x7(tmp_path):
    unknown = _errors(tmp_path, {"topology": {"services": {"a": {"support_hours": "business-hours"}}}})
    assert unknown == ["topology.services.a.support_hours: 'a' has support hours in unknown calendar "
                       "'business-hours'"]
    assert _errors(tmp_path, {"topology": {"services": {"a": {"support_hours": "24x7"}}}}) == []
    assert _errors(tmp_path, {"calendars": [{"name": "business-hours"}],
                              "topology": {"services": {"a": {"support_hours": "business-hours"}}}}) == []


def test_the_example_rules_carry_a_valid_catalog():
    rules = load_rule_set(EXAMPLES_DIR)
    catalog = Catalog(rules.topology)
    assert catalog.impact("orders-db") == ("fulfilment", "online-ordering")
    assert catalog.bind({"instance": "pg-orders-2"}).service == "orders-db"
