"""Router: the first matching group rule wins, tested only against rules its labels can match."""

from __future__ import annotations

from pathlib import Path

import yaml

from correlation.core.routing import DEFAULT_RULE, IncidentDefaults, Router, priority_rank
from rules.alert import Alert
from rules.schema import DEFAULT_PRIORITIES
from rules.loader import EXAMPLES_DIR, load_rule_set


def _rule_set(tmp_path: Path, doc: dict):
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(doc))
    return load_rule_set(tmp_path)


def test_first_matching_rule_wins_and_unmatched_alerts_use_the_default(tmp_path):
    rules = _rule_set(tmp_path, {"groups": [
        {"name": "db", "match": ['alertname=~"Postgres.*"'], "group_by": ["service"]},
        {"name": "db-again", "match": ['service="orders-db"'], "group_by": ["alertname"]},
        {"name": "everything-critical", "match": ['severity="critical"'], "group_by": ["..."]},
    ]})
    router = Router(rules, ("alertname", "service"))
    assert router.route({"alertname": "PostgresDown", "service": "orders-db"}).rule == "db"
    assert router.route({"alertname": "DiskFull", "service": "orders-db"}).rule == "db-again"
    assert router.route({"alertname": "X", "severity": "critical"}).rule == "everything-critical"
    assert router.route({"alertname": "X"}).rule == DEFAULT_RULE


def test_group_of_a_rule_uses_its_labels_and_never_collides_with_another_rule(tmp_path):
    rules = _rule_set(tmp_path, {"groups": [
        {"name": "a", "match": ['alertname="A"'], "group_by": ["service"]},
        {"name": "b", "match": ['alertname="B"'], "group_by": ["service"]},
        {"name": "all", "match": ['alertname="C"'], "group_by": ["..."]},
    ]})
    router = Router(rules, ("alertname", "service"))
    a = router({"alertname": "A", "service": "s", "pod": "1"})
    b = router({"alertname": "B", "service": "s"})
    assert a.labels == b.labels == {"service": "s"} and a.id != b.id
    assert router({"alertname": "A", "service": "s", "pod": "2"}).id == a.id
    c = router({"alertname": "C", "pod": "1"})
    assert c.labels == {"alertname": "C", "pod": "1"} and c.key == 'all:{alertname="C",pod="1"}'


def test_default_group_ids_do_not_change_when_rules_arrive():
    # incidents opened before a rule set was configured keep their group for unmatched alerts
    labels = {"alertname": "X", "service": "y"}
    assert Router(None, ("alertname", "service"))(labels).id == Router(load_rule_set(EXAMPLES_DIR),
                                                                       ("alertname", "service"))(labels).id


def test_an_alert_is_tested_only_against_rules_that_can_match_it(tmp_path):
    groups = [{"name": f"rule-{i}", "match": [f'alertname="Alert{i}"', 'severity=~"critical|warning"'],
               "group_by": ["service"]} for i in range(1000)]
    groups.append({"name": "no-equality", "match": ['team=~"db.*"']})
    router = Router(_rule_set(tmp_path, {"groups": groups}), ("alertname",))
    labels = {"alertname": "Alert777", "severity": "critical", "service": "s"}
    assert router.route(labels).rule == "rule-777"
    assert router.candidates_tested(labels) == 2  # its own rule and the one without an equality matcher
    assert router.route({"alertname": "Alert5000", "team": "dba"}).rule == "no-equality"


def test_priority_from_impact_and_urgency_through_the_matrix(tmp_path):
    rules = _rule_set(tmp_path, {"groups": [
        {"name": "p", "match": ['alertname="A"'],
         "priority": {"impact": {"from_label": "severity", "map": {"critical": "high"}, "default": "low"},
                      "urgency": "high"}},
        {"name": "none", "match": ['alertname="B"']},
    ]})
    router = Router(rules, ("alertname",))
    route = router.route({"alertname": "A"})
    assert router.priority(route, {"alertname": "A", "severity": "critical"}) == "P1"
    assert router.priority(route, {"alertname": "A", "severity": "info"}) == "P3"
    # a rule without a priority: the default for the alert's severity (no severity: medium x medium)
    assert router.priority(router.route({"alertname": "B"}), {"alertname": "B"}) == "P3"
    assert router.priority(router.route({"alertname": "B"}), {"alertname": "B", "severity": "warn"}) == "P3"
    assert sorted(["P3", "", "P1", "P5"], key=priority_rank) == ["P1", "P3", "P5", ""]


def test_defaults_give_every_incident_a_priority_from_its_severity_and_a_team():
    from correlation.core.engine import decide
    from correlation.core.model import GroupState

    assert DEFAULT_PRIORITIES == {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5", "none": "P3"}
    router = Router(None, ("alertname",))
    for severity, expected in (("critical", "P1"), ("page", "P1"), ("error", "P2"), ("warning", "P3"),
                               ("info", "P5"), ("", "P3"), ("bogus", "P3")):
        assert router.priority(router.default, {"alertname": "A", "severity": severity}) == expected, severity
    chosen = Router(None, ("alertname",), IncidentDefaults({**DEFAULT_PRIORITIES, "info": "P4"}, "noc"))
    assert chosen.priority(chosen.default, {"severity": "info"}) == "P4"
    group = chosen({"alertname": "A"})
    state = GroupState(group.id, group.key, group.labels, route=group.route)
    alert = Alert({"alertname": "A", "severity": "info"}, "firing", 1.0, 1.0, "f1", "test")
    decision = decide(state, [alert], 1.0, context=chosen.context(group.route))
    assert (state.incident.priority, state.incident.team) == ("P4", "noc")
    assert decision.opened == [state.incident.id]
    labelled = Alert({"alertname": "A", "team": "dba"}, "firing", 1.0, 1.0, "f2", "test")
    other = chosen({"alertname": "B"})
    state = GroupState(other.id, other.key, other.labels, route=other.route)
    decide(state, [labelled], 1.0, context=chosen.context(other.route))
    assert state.incident.team == "dba"  # the alert's team label wins over the default


def test_incident_takes_the_most_urgent_priority_and_records_why(tmp_path):
    from correlation.core.engine import decide
    from correlation.core.model import GroupState
    from rules.alert import Alert
    from rules.fingerprint import fingerprint

    rules = _rule_set(tmp_path, {"groups": [
        {"name": "api", "match": ['alertname="HighErrorRate"'], "group_by": ["service"], "team": "core",
         "priority": {"impact": {"from_label": "severity", "map": {"critical": "high", "warning": "low"}},
                      "urgency": "medium"}}]})
    router = Router(rules, ("alertname",))

    def alert(pod: str, severity: str) -> Alert:
        labels = {"alertname": "HighErrorRate", "service": "api", "pod": pod, "severity": severity}
        return Alert(labels=labels, status="firing", starts_at=1.0, received_at=1.0,
                     fingerprint=fingerprint(labels), source="test")

    group = router(alert("1", "warning").labels)
    state = GroupState(group.id, group.key, group.labels, route=group.route)
    priority = lambda labels: router.priority(group.route, labels)  # noqa: E731
    first = decide(state, [alert("1", "warning")], 10.0, priority)
    (incident,) = first.incidents.values()
    assert (incident.priority, incident.team, incident.rule) == ("P4", "core", "api")
    assert incident.why == {"rule": "api", "matchers": ['alertname="HighErrorRate"'], "group_by": ["service"],
                            "group_labels": {"service": "api"}}
    second = decide(state, [alert("2", "critical")], 20.0, priority)
    assert second.incidents[incident.id].priority == "P2"
    assert [e["text"] for e in second.timeline[incident.id] if e["kind"] == "priority"] == ["priority raised P4 -> P2"]
