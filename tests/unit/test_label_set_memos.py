"""The alert path's memos answer exactly what the rules answer when computed afresh.

``Router.placed`` keeps one entry per label set (enrichment and group); the route, the enrichment additions, the
flapping rule and the catalog binding are memoised by the labels their rules read (``rules.memo.ByLabels``), so one
entry serves every label set that agrees on those. Each property runs a stream of label sets through one router
(memo hits across label sets) and compares every answer with a fresh router's (nothing memoised yet).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from correlation.core.routing import Router
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.memo import ByLabels
from rules.schema import RuleSet
from tests.unit.matcher_strategies import matcher_lists

NAMES = ("alertname", "service", "team", "severity", "instance", "env")
VALUES = ("", "a", "b", "orders-db", "checkout", "critical")
PATTERNS = ("a|b", ".*", "orders-.*", "", "c.*")

label_sets = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VALUES), max_size=len(NAMES))


def matchers(at_most: int = 3) -> st.SearchStrategy[list[str]]:
    return matcher_lists(NAMES, VALUES, PATTERNS, at_most=at_most)


@st.composite
def rule_sets(draw: Any) -> RuleSet:
    adds = st.dictionaries(st.sampled_from(NAMES + ("tier", "owner")), st.sampled_from(VALUES[1:]), max_size=2)
    enrichment = []
    for i in range(draw(st.integers(0, 4))):
        rule: dict[str, Any] = {"name": f"e{i}", "match": draw(matchers()), "add_labels": draw(adds),
                                "add_annotations": draw(st.dictionaries(st.sampled_from(("runbook", "summary")),
                                                                        st.sampled_from(("x", "y")), max_size=1))}
        if draw(st.booleans()):
            rule["lookup"] = {"from_label": draw(st.sampled_from(NAMES + ("tier",))),
                              "table": {v: {"labels": draw(adds)} for v in VALUES[1:4]}}
        if not (rule["add_labels"] or rule["add_annotations"] or "lookup" in rule):
            rule["add_labels"] = {"owner": "x"}
        enrichment.append(rule)
    groups = [{"name": f"g{i}", "match": draw(matchers()),
               "group_by": draw(st.sampled_from((["service"], ["alertname", "team"], ["..."])))}
              for i in range(draw(st.integers(0, 4)))]
    flapping = [{"name": f"f{i}", "match": draw(matchers()), "changes": 3, "within": "10m", "quiet": "5m"}
                for i in range(draw(st.integers(0, 2)))]
    bindings = [{"name": f"b{i}", "match": draw(matchers(at_most=2)) or ['instance="a"'], "service": f"s{i}"}
                for i in range(draw(st.integers(0, 2)))]
    return RuleSet.model_validate({"enrichment": enrichment, "groups": groups, "flapping": flapping,
                                   "topology": {"services": {"s0": {"tier": 1}}, "bindings": bindings}})


def _alert(labels: dict[str, str], annotations: dict[str, str] | None = None) -> Alert:
    return Alert(labels=labels, status="firing", starts_at=1.0, received_at=1.0, fingerprint=fingerprint(labels),
                 source="test", annotations=annotations or {"summary": "sent"})


def _fresh(rules: RuleSet) -> Router:
    return Router(rules, ("alertname", "service"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_sets(), stream=st.lists(label_sets, min_size=1, max_size=30))
def test_memoised_answers_equal_fresh_ones(rules: RuleSet, stream: list[dict[str, str]]) -> None:
    router = _fresh(rules)
    for labels in stream + stream:  # every label set twice: the second time from the per-label-set entry
        alert = _alert(labels)
        fresh = _fresh(rules)
        enriched, group = router.placed(alert)
        expected = fresh.enrich(alert)
        assert (enriched.labels, enriched.annotations) == (expected.labels, expected.annotations)
        assert enriched.fingerprint == alert.fingerprint  # identity as sent
        assert group == fresh(expected.labels)
        assert router.route(labels) == fresh.route(labels)
        assert router.flap_rule(labels) == fresh.flap_rule(labels)
        assert router.catalog.bind(labels) == fresh.catalog.bind(labels)


@settings(max_examples=100, deadline=None)
@given(rules=rule_sets(), labels=label_sets)
def test_the_names_a_memo_reads_are_all_its_answer_depends_on(rules: RuleSet, labels: dict[str, str]) -> None:
    """Labels outside a memo's names never change its answer: two label sets that agree on the names share one
    entry, so this is what makes sharing exact."""
    router = _fresh(rules)
    other = dict(labels)
    for name in ("zone", "pod"):
        other[name] = "elsewhere"
    fresh = _fresh(rules)
    assert fresh.route(other) == _fresh(rules).route(labels)
    assert fresh.flap_rule(other) == _fresh(rules).flap_rule(labels)
    assert fresh.catalog.bind(other) == _fresh(rules).catalog.bind(labels)
    sent = router.enrich.additions(labels)
    elsewhere = _fresh(rules).enrich.additions(other)
    assert (elsewhere[0] or other).items() - other.items() == (sent[0] or labels).items() - labels.items()
    assert elsewhere[1] == sent[1]


def test_the_sender_keeps_its_annotations_and_its_labels_under_the_per_label_set_entry() -> None:
    rules = RuleSet.model_validate({"enrichment": [
        {"name": "db", "match": ['service="orders-db"'], "add_labels": {"team": "dba"},
         "add_annotations": {"runbook": "https://runbooks/pg"}}]})
    router = _fresh(rules)
    labels = {"alertname": "DiskFull", "service": "orders-db"}
    first, _ = router.placed(_alert(labels, {"summary": "disk at 91%"}))
    again, _ = router.placed(_alert(labels, {"summary": "disk at 97%", "runbook": "mine"}))
    assert first.labels == again.labels == {**labels, "team": "dba"}
    assert first.annotations == {"summary": "disk at 91%", "runbook": "https://runbooks/pg"}
    assert again.annotations == {"summary": "disk at 97%", "runbook": "mine"}
    own = _alert({**labels, "team": "web"})
    assert router.placed(own)[0].labels["team"] == "web"  # the sender's word wins
    plain = _alert({"alertname": "X"})
    assert router.placed(plain)[0] is plain  # nothing added: the alert itself


def test_a_reloaded_rule_set_answers_from_its_own_rules_not_the_previous_memos() -> None:
    """A reload builds a new Router (``stormwatch.app``, swapped whole into the pipeline): its memos start empty,
    so a label set the old router memoised is placed by the new rules."""
    before = _fresh(RuleSet.model_validate({"enrichment": [
        {"name": "owners", "match": ['service="api"'], "add_labels": {"team": "core"}}]}))
    after = _fresh(RuleSet.model_validate({
        "enrichment": [{"name": "owners", "match": ['service="api"'], "add_labels": {"team": "payments"}}],
        "groups": [{"name": "api-errors", "match": ['alertname="HighErrorRate"'], "group_by": ["service"]}]}))
    alert = _alert({"alertname": "HighErrorRate", "service": "api", "pod": "1"})
    for _ in range(2):
        enriched, group = before.placed(alert)
        assert enriched.labels["team"] == "core" and group.route.rule == "default"
    enriched, group = after.placed(alert)
    assert enriched.labels["team"] == "payments" and group.route.rule == "api-errors"


def test_by_labels_keys_on_the_named_labels_and_remembers_none() -> None:
    calls = []

    def compute(labels: Any) -> str | None:
        calls.append(dict(labels))
        return labels.get("service")

    memo = ByLabels(("service",), compute)
    assert memo({"service": "api", "pod": "1"}) == "api"
    assert memo({"service": "api", "pod": "2"}) == "api"  # the same entry: pod is not read
    assert memo({"pod": "3"}) is None and memo({"pod": "4"}) is None  # None remembered, absent told from ""
    assert memo({"service": "", "pod": "5"}) == ""
    assert len(calls) == 3 and len(memo) == 3


def test_by_labels_stays_bounded() -> None:
    memo = ByLabels(("n",), lambda labels: labels["n"], limit=100)
    for i in range(10_000):
        memo({"n": str(i)})
    assert len(memo) <= 100


def test_a_fingerprint_keeps_its_first_group_while_enrichment_follows_the_labels() -> None:
    """As the group memo by fingerprint did: a PagerDuty event from an integration (not sender-keyed by its source)
    resolves by its dedup key with other labels than its trigger's, and lands in its trigger's group."""
    rules = RuleSet.model_validate({"enrichment": [
        {"name": "owners", "match": ['service="api"'], "add_labels": {"team": "core"}}]})
    router = _fresh(rules)
    trigger = Alert(labels={"alertname": "Down", "service": "api"}, status="firing", starts_at=1.0, received_at=1.0,
                    fingerprint="payments/cards", source="payments-app")
    resolve = Alert(labels={"alertname": "pagerduty", "dedup_key": "payments/cards"}, status="resolved",
                    starts_at=1.0, received_at=2.0, fingerprint="payments/cards", source="payments-app")
    enriched, group = router.placed(trigger)
    assert enriched.labels["team"] == "core"
    resolved, same = router.placed(resolve)
    assert same == group and "team" not in resolved.labels
