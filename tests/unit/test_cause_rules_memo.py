"""The cause rules' analysis, memoised by the labels it reads (``rules.memo.ByLabels``), answers exactly what a fresh
``CauseRules`` (nothing memoised yet) answers.

``CauseRules`` keys its memo by the values of the labels its inhibit rules (``source_match``, ``target_match``,
``equal``), the service binding (``Catalog.reads``, or the topology's service label), the topology's ``source_match``
and ``severity`` read, so a label set seen for the first time is a hit when those agree with one seen before. Each
property walks a stream of label sets that differ from the previous one in one label (the case a missing name in
the key gets wrong) through one set of rules and compares every answer with a fresh one's.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from correlation.core.causes import CauseRules, lookup_keys
from correlation.core.routing import Router
from rules.schema import RuleSet, Topology
from tests.unit.matcher_strategies import matcher_lists

NAMES = ("alertname", "service", "team", "severity", "instance", "env", "cluster")
VALUES = ("", "a", "b", "s0", "s1", "s2", "critical", "warning", "info")
PATTERNS = ("a|b", ".*", "s.*", "", "crit.*")
SERVICES = ("s0", "s1", "s2", "s3")

label_sets = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VALUES), max_size=len(NAMES))


def matchers(at_least: int = 0, at_most: int = 3) -> st.SearchStrategy[list[str]]:
    return matcher_lists(NAMES, VALUES, PATTERNS, at_least=at_least, at_most=at_most)


@st.composite
def rule_sets(draw: Any) -> RuleSet:
    inhibit = [{"name": f"i{i}", "source_match": draw(matchers(at_least=1)), "target_match": draw(matchers(at_least=1)),
                "equal": draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)),
                "hold": draw(st.sampled_from(("0s", "5s", "30s"))), "merge_late_symptoms": draw(st.booleans())}
               for i in range(draw(st.integers(0, 2)))]
    services = {name: {"depends_on": draw(st.lists(st.sampled_from(SERVICES), max_size=2, unique=True).map(
        lambda deps, own=name: [d for d in deps if d != own]))} for name in SERVICES}
    services["s1"]["depends_on"] = sorted({"s0", *services["s1"]["depends_on"]})  # s0 is always a dependency
    topology: dict[str, Any] = {
        "service_label": draw(st.sampled_from(("service", "team"))),
        "source_match": draw(matchers(at_most=2)),
        "min_severity": draw(st.sampled_from(("info", "warning", "critical"))),
        "hold": draw(st.sampled_from(("0s", "10s"))),
        "services": services if draw(st.integers(0, 3)) else {},
        "bindings": [{"name": f"b{i}", "match": draw(matchers(at_least=1, at_most=2)), "service": f"s{i}"}
                     for i in range(draw(st.integers(0, 2)))]}
    return RuleSet.model_validate({"inhibit": inhibit, "topology": topology})


@st.composite
def walks(draw: Any) -> list[dict[str, str]]:
    """Label sets, each the previous one with one label changed, added or removed."""
    labels = draw(label_sets)
    out = [labels]
    for _ in range(draw(st.integers(1, 40))):
        labels = dict(labels)
        name = draw(st.sampled_from(NAMES))
        value = draw(st.sampled_from((None, *VALUES)))
        if value is None:
            labels.pop(name, None)
        else:
            labels[name] = value
        out.append(labels)
    return out


def _answers(rules: CauseRules, labels: dict[str, str]) -> tuple[object, ...]:
    return (rules.feeds(labels), rules.lookups(labels), rules.hold(labels), rules.severity(labels),
            rules.merge_keys(labels), rules.reads(labels), lookup_keys(rules, [labels]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_set=rule_sets(), stream=walks())
def test_memoised_analysis_equals_a_fresh_one(rule_set: RuleSet, stream: list[dict[str, str]]) -> None:
    routed = Router(rule_set, ("alertname",)).causes  # the catalog's binding and the labels it reads
    built = CauseRules.from_rule_set(rule_set)  # builds its own catalog
    for labels in stream + stream:
        expected = _answers(CauseRules.from_rule_set(rule_set), labels)
        assert _answers(routed, labels) == expected
        assert _answers(built, labels) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_set=rule_sets(), stream=walks())
def test_a_service_of_whose_labels_are_unknown_is_memoised_by_the_whole_label_set(
        rule_set: RuleSet, stream: list[dict[str, str]]) -> None:
    """A ``service_of`` given without ``service_reads`` may read any label (here ``instance``, which no rule names):
    the analysis is then memoised by the whole label set, and still exact."""

    def service_of(labels: Any) -> str:
        return "s" + str(len(labels.get("instance", "")) % 3)

    def fresh() -> CauseRules:
        return CauseRules(rule_set.inhibit, rule_set.topology, rule_set.topology.hold, service_of=service_of)

    rules = fresh()
    for labels in stream + stream:
        assert _answers(rules, labels) == _answers(fresh(), labels)


def test_a_new_instance_is_a_hit_and_its_analysis_the_same() -> None:
    """Label sets that differ only in labels no rule reads share one memo entry."""
    rule_set = RuleSet.model_validate({
        "inhibit": [{"name": "down", "source_match": ['alertname="NodeDown"'], "target_match": ['alertname!="NodeDown"'],
                     "equal": ["cluster"]}],
        "topology": {"services": {"web": {"depends_on": ["db"]}, "db": {}}}})
    rules = CauseRules.from_rule_set(rule_set)
    first = {"alertname": "HighLatency", "service": "web", "cluster": "c1", "instance": "10.0.0.1"}
    analysed = _answers(rules, first)
    for n in range(2, 50):
        assert _answers(rules, {**first, "instance": f"10.0.0.{n}"}) == analysed
    assert len(rules._memo) == 1
    assert _answers(rules, {**first, "cluster": "c2"})[1] != analysed[1]  # an ``equal`` label is read
    assert len(rules._memo) == 2


def test_without_a_topology_the_service_label_is_not_read() -> None:
    rules = CauseRules(topology=Topology(services={}))
    assert rules.lookups({"service": "web"}) == rules.lookups({"service": "db"}) == ()
    assert len(rules._memo) == 1
