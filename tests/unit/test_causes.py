"""Causes: inhibition keys and topology roll-up, pure (no Redis), plus holds through the simulation clock."""

from __future__ import annotations

from pathlib import Path

import yaml

from correlation.core.causes import CauseRules, Causes, Entry
from replay.simulation import Simulation
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import load_rule_set
from rules.schema import InhibitRule, Topology

TOPOLOGY = Topology.model_validate({"services": {
    "db": {}, "cache": {}, "api": {"depends_on": ["db", "cache"]}, "web": {"depends_on": ["api"]},
}})


def _inhibit(**extra) -> InhibitRule:
    return InhibitRule.model_validate({"name": "down-mutes-errors", "source_match": ['alertname="Down"'],
                                       "target_match": ['alertname="Errors"'], "equal": ["cluster"], **extra})


def _causes(rules: CauseRules, *sources: tuple[dict[str, str], str]) -> Causes:
    entries: dict[str, dict[str, Entry]] = {}
    for labels, incident in sources:
        for key in rules.feeds(labels):
            entries.setdefault(key, {})[fingerprint(labels)] = Entry(1, incident)
    return Causes(rules, entries)


def test_inhibition_needs_equal_labels_and_a_missing_label_equals_empty():
    rules = CauseRules([_inhibit()])
    down = {"alertname": "Down", "cluster": "eu"}
    causes = _causes(rules, (down, "INC-a-1"))
    errors_eu = {"alertname": "Errors", "cluster": "eu"}
    cause = causes(errors_eu, fingerprint(errors_eu), 0.0)
    assert cause is not None and (cause.kind, cause.rule, cause.incident) == ("inhibited", "down-mutes-errors",
                                                                                "INC-a-1")
    assert causes({"alertname": "Errors", "cluster": "us"}, "x", 0.0) is None
    assert causes({"alertname": "Errors"}, "x", 0.0) is None  # "" != "eu"
    nowhere = _causes(rules, ({"alertname": "Down"}, "INC-b-1"))
    assert nowhere({"alertname": "Errors"}, "x", 0.0) is not None  # both missing: equal, as in Alertmanager


def test_a_source_that_must_carry_the_equal_label_joins_no_target_without_it():
    # the shipped examples' choice (docs/rules/reference.md): missing = "" as in Alertmanager, required by a matcher
    rules = CauseRules([_inhibit(source_match=['alertname="Down"', 'cluster!=""'])])
    assert rules.feeds({"alertname": "Down"}) == ()  # a source without cluster explains nothing
    causes = _causes(rules, ({"alertname": "Down"}, "INC-b-1"), ({"alertname": "Down", "cluster": "eu"}, "INC-a-1"))
    assert causes({"alertname": "Errors"}, "x", 0.0) is None
    cause = causes({"alertname": "Errors", "cluster": "eu"}, "x", 0.0)
    assert cause is not None and cause.incident == "INC-a-1"


def test_an_alert_matching_source_and_target_does_not_inhibit_itself():
    rules = CauseRules([InhibitRule.model_validate({
        "name": "r", "source_match": ['severity="critical"'], "target_match": ['alertname=~".+"']})])
    labels = {"alertname": "Down", "severity": "critical"}
    causes = _causes(rules, (labels, "INC-a-1"))
    assert causes(labels, fingerprint(labels), 0.0) is None
    other = {"alertname": "Slow", "severity": "warning"}
    assert causes(other, fingerprint(other), 0.0) is not None


def test_a_stopped_source_explains_nothing():
    rules = CauseRules([_inhibit()])
    down = {"alertname": "Down", "cluster": "eu"}
    causes = Causes(rules, {key: {fingerprint(down): Entry(2, "")} for key in rules.feeds(down)})
    assert causes({"alertname": "Errors", "cluster": "eu"}, "x", 0.0) is None


def test_topology_rolls_up_to_the_deepest_failing_dependency_with_its_path():
    rules = CauseRules(topology=TOPOLOGY)
    assert rules.feeds({"service": "web"}) == ()  # nothing depends on web: it feeds no cause key
    web = {"alertname": "Errors", "service": "web"}
    only_api = _causes(rules, ({"service": "api"}, "INC-api-1"))
    cause = only_api(web, fingerprint(web), 0.0)
    assert cause is not None and (cause.incident, cause.path) == ("INC-api-1", ("web", "api"))
    both = _causes(rules, ({"service": "api"}, "INC-api-1"), ({"service": "db"}, "INC-db-1"))
    cause = both(web, fingerprint(web), 0.0)
    assert cause is not None and (cause.incident, cause.path) == ("INC-db-1", ("web", "api", "db"))
    assert cause.reason == "topology:web>api>db"
    assert both({"service": "db"}, "x", 0.0) is None  # the root itself depends on nothing
    assert both({"service": "unknown"}, "x", 0.0) is None


def _feed(sim: Simulation, labels: dict[str, str], at: float, status: str = "firing") -> None:
    sim.feed(Alert(labels=labels, status=status, starts_at=at, received_at=at, fingerprint=fingerprint(labels),
                   source="test"), at)


def test_a_symptom_waits_for_its_cause_then_opens_its_own_incident_when_none_comes(tmp_path: Path):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({
        "inhibit": [{"name": "down", "source_match": ['alertname="Down"'], "target_match": ['alertname="Errors"'],
                     "hold": "30s", "recovery_grace": "0s"}]}))  # no grace: a recovered cause explains nothing
    sim = Simulation(load_rule_set(tmp_path))
    _feed(sim, {"alertname": "Errors", "service": "web"}, 0.0)
    _feed(sim, {"alertname": "Errors", "service": "api"}, 0.0)
    _feed(sim, {"alertname": "Down", "service": "db"}, 10.0)
    sim.advance(29.0)
    (down,) = sim.incidents()
    assert down.title == "Down / db"
    sim.advance(30.0)
    assert [i.title for i in sim.incidents()] == ["Down / db"]  # both waited, then became its symptoms
    assert len(sim.symptoms_of(down.id)) == 2

    _feed(sim, {"alertname": "Down", "service": "db"}, 40.0, status="resolved")
    _feed(sim, {"alertname": "Errors", "service": "cache"}, 50.0)
    sim.advance(79.0)
    assert [i.title for i in sim.incidents()] == ["Down / db"]
    sim.advance(80.0)  # nothing explains it any more: after its hold it pages on its own
    assert [i.title for i in sim.incidents()] == ["Down / db", "Errors / cache"]


def test_without_a_grace_a_symptom_whose_cause_resolves_opens_its_own_incident_on_its_next_notification(
        tmp_path: Path):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({
        "inhibit": [{"name": "down", "source_match": ['alertname="Down"'], "target_match": ['alertname="Errors"'],
                     "recovery_grace": "0s"}]}))  # Alertmanager's behaviour (tests/unit/test_recovery_grace.py: 5m)
    sim = Simulation(load_rule_set(tmp_path))
    _feed(sim, {"alertname": "Down", "service": "db"}, 0.0)
    _feed(sim, {"alertname": "Errors", "service": "web"}, 1.0)
    assert [i.title for i in sim.incidents()] == ["Down / db"]
    _feed(sim, {"alertname": "Down", "service": "db"}, 60.0, status="resolved")
    _feed(sim, {"alertname": "Errors", "service": "web"}, 120.0)  # Prometheus re-sends: still firing
    assert [i.title for i in sim.incidents()] == ["Down / db", "Errors / web"]
