"""The pure side of declared incidents (issue 21): their group, their priority, their record."""

from __future__ import annotations

import pytest

from correlation.core.declared import Declaration, declared_group, declared_priority, declared_record
from correlation.core.model import Incident
from correlation.core.routing import Router
from rules.schema import ITIL_MATRIX


def test_one_group_per_service_that_no_alert_group_can_share():
    assert declared_group("checkout").id == declared_group("checkout").id
    assert declared_group("checkout").id != declared_group("search").id
    # an alert grouped by service alone (the default rule) lands in another group
    assert Router(None, ["service"])({"service": "checkout"}).id != declared_group("checkout").id
    assert Router(None, ["__declared__", "service"])({"service": "checkout"}).id != declared_group("checkout").id


@pytest.mark.parametrize(("impact", "urgency", "priority"), [("high", "high", "P1"), ("high", "medium", "P2"),
                                                              ("low", "low", "P5"), ("medium", "low", "P4")])
def test_priority_is_itil_impact_by_urgency(impact, urgency, priority):
    assert declared_priority(ITIL_MATRIX, impact, urgency) == priority


def test_an_unknown_level_is_refused_naming_it():
    with pytest.raises(ValueError, match="urgency"):
        declared_priority(ITIL_MATRIX, "high", "now")


def test_the_record_is_an_incident_with_the_declaration():
    record = declared_record(Declaration("Checkout down", "checkout", "alice", "sre", major=True), "INC-ab-1", "P1",
                             100.0, "unassigned")
    incident = Incident.from_hash(record)
    assert (incident.status, incident.rule, incident.team, incident.severity) == ("open", "declared", "unassigned",
                                                                                 "critical")
    assert record["reporter"] == "alice" and record["declared"] == "1" and record["major"] == "1"


JOIN_RULES = """
topology:
  services:
    web: {depends_on: [checkout]}
    checkout: {depends_on: [payments]}
    payments: {}
groups:
  - name: shop
    match: ['team="shop"']
    group_by: [alertname, service]
    join_declared: true
  - name: only-payments
    match: ['team="pay"']
    join_declared: {services: [payments]}
  - name: own-service
    match: ['team="own"']
    join_declared: {topology: false}
  - name: plain
    match: ['team="plain"']
"""


def _router(tmp_path) -> Router:
    from rules.loader import load_rule_set

    (tmp_path / "rules.yaml").write_text(JOIN_RULES)
    return Router(load_rule_set(tmp_path), ["alertname", "service"])


def _place(router: Router, labels: dict[str, str], declared: dict[str, str]):
    from correlation.core.engine import decide
    from correlation.core.model import GroupState
    from rules.alert import Alert
    from rules.fingerprint import fingerprint

    group = router(labels)
    state = GroupState(group_id=group.id, group_key=group.key, group_labels=dict(group.labels), route=group.route)
    alert = Alert(labels=labels, status="firing", starts_at=100.0, received_at=100.0, fingerprint=fingerprint(labels),
                  source="test")
    return state, decide(state, [alert], 101.0, context=router.context(group.route, None, None, declared))


def test_join_targets_are_the_own_service_then_its_dependencies_nearest_first(tmp_path):
    router = _router(tmp_path)
    shop = router({"team": "shop", "service": "web"}).route
    assert router.join_targets(shop, {"team": "shop", "service": "web"}) == [
        ("web", ("web",)), ("checkout", ("web", "checkout")), ("payments", ("web", "checkout", "payments"))]
    only = router({"team": "pay"}).route
    assert router.join_targets(only, {"team": "pay", "service": "web"}) == [("payments", ("web", "checkout",
                                                                                           "payments"))]
    own = router({"team": "own"}).route
    assert router.join_targets(own, {"team": "own", "service": "web"}) == [("web", ("web",))]
    assert router.join_targets(router({"team": "plain"}).route, {"team": "plain", "service": "web"}) == []
    assert router.join_targets(shop, {"team": "shop"}) == []  # no service: nothing to join
    assert router.joins_declared


def test_an_alert_joins_the_declared_incident_of_its_service_or_a_dependency_as_a_symptom(tmp_path):
    router = _router(tmp_path)
    labels = {"alertname": "HighLatency", "team": "shop", "service": "web"}
    state, decision = _place(router, labels, {"checkout": "INC-aaaaaaaaaaaa-1"})
    assert decision.opened == [] and state.incident is None
    (symptom,) = decision.symptoms
    assert (symptom.cause_incident, symptom.kind, symptom.rule, symptom.path) == (
        "INC-aaaaaaaaaaaa-1", "declared", "checkout", ("web", "checkout"))
    assert state.alerts[symptom.fingerprint].muted == "declared:web>checkout"
    assert decision.stats.symptoms == 1
    # its own service's declared incident is nearer than a dependency's
    _, decision = _place(router, labels, {"checkout": "INC-aaaaaaaaaaaa-1", "web": "INC-bbbbbbbbbbbb-1"})
    assert decision.symptoms[0].cause_incident == "INC-bbbbbbbbbbbb-1"


def test_without_the_option_or_an_open_declared_incident_the_alert_opens_its_own(tmp_path):
    router = _router(tmp_path)
    _, decision = _place(router, {"alertname": "X", "team": "plain", "service": "web"}, {"web": "INC-b-1"})
    assert len(decision.opened) == 1 and decision.symptoms == []
    _, decision = _place(router, {"alertname": "X", "team": "shop", "service": "web"}, {"search": "INC-c-1"})
    assert len(decision.opened) == 1 and decision.symptoms == []
    _, decision = _place(router, {"alertname": "X", "team": "pay", "service": "web"}, {"checkout": "INC-a-1"})
    assert len(decision.opened) == 1  # only-payments: checkout's declared incident is not one it joins


def test_a_cause_of_the_rule_set_explains_before_a_declared_incident():
    from correlation.core.causes import Cause
    from correlation.core.declared import DeclaredJoin

    real = Cause("topology", "db", "INC-d-1", "fp", ("web", "db"))
    join = DeclaredJoin(lambda labels, fp, now, since: real, lambda labels: [("web", ("web",))], {"web": "INC-w-1"})
    assert join({"service": "web"}, "x", 1.0) is real
    join = DeclaredJoin(None, lambda labels: [("web", ("web",))], {"web": "INC-w-1"})
    assert join({"service": "web"}, "x", 1.0) == Cause("declared", "web", "INC-w-1", "", ("web",))


INHIBIT_RULES = """
inhibit:
  - name: checkout-down
    source_match: ['alertname="CheckoutDown"']
    target_match: ['alertname=~"CheckoutSlow|CartErrors"']
    equal: [service]
    join_declared: true
  - name: no-join
    source_match: ['alertname="DbDown"']
    target_match: ['alertname="DbSlow"']
    equal: [service]
"""


def test_an_inhibit_rules_target_joins_the_declared_incident_of_its_sources_service(tmp_path):
    """With ``join_declared`` on an inhibit rule, a target with no active source joins the open declared incident of
    the service it shares with the source (``equal`` holds the service label), whatever its group rule."""
    from rules.loader import load_rule_set

    (tmp_path / "rules.yaml").write_text(INHIBIT_RULES)
    router = Router(load_rule_set(tmp_path), ["alertname", "service"])
    assert router.joins_declared
    slow = {"alertname": "CheckoutSlow", "service": "checkout"}
    assert router.join_targets(router(slow).route, slow) == [("checkout", ("checkout",))]
    state, decision = _place(router, slow, {"checkout": "INC-aaaaaaaaaaaa-1"})
    assert decision.opened == [] and state.incident is None
    (symptom,) = decision.symptoms
    assert (symptom.cause_incident, symptom.kind, symptom.rule, symptom.path) == (
        "INC-aaaaaaaaaaaa-1", "declared", "checkout", ("checkout",))
    assert state.alerts[symptom.fingerprint].muted == "declared:checkout"
    # another service's declared incident, the rule's source itself, and a rule without the option: their own
    _, decision = _place(router, slow, {"cart": "INC-b-1"})
    assert len(decision.opened) == 1 and decision.symptoms == []
    for labels in ({"alertname": "CheckoutDown", "service": "checkout"}, {"alertname": "DbSlow", "service": "checkout"}):
        assert router.join_targets(router(labels).route, labels) == []
        _, decision = _place(router, labels, {"checkout": "INC-aaaaaaaaaaaa-1"})
        assert len(decision.opened) == 1 and decision.symptoms == []


def test_rules_check_refuses_an_inhibit_join_without_the_service_label_in_equal(tmp_path):
    from rules.loader import RuleSetInvalid, load_rule_set

    (tmp_path / "rules.yaml").write_text(INHIBIT_RULES.replace("equal: [service]\n    join_declared", "equal: [env]\n"
                                                               "    join_declared", 1))
    with pytest.raises(RuleSetInvalid) as refused:
        load_rule_set(tmp_path)
    assert "join_declared" in str(refused.value) and "'service'" in str(refused.value)
