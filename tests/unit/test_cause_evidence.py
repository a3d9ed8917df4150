"""The topology's root chosen by evidence (severity, time order, depth) and the versioned cause index entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from correlation.core.causes import ENTRY_VERSION, CauseRules, Causes, Entry
from replay.corpus import CORPUS_DIR, RECORDING
from replay.placement import replay
from replay.recordings import read_notifications
from rules.alert import severity_rank
from rules.fingerprint import fingerprint
from rules.loader import load_rule_set
from rules.schema import SYMPTOM_LAG, Topology

TOPOLOGY = Topology.model_validate({"symptom_lag": "30s", "services": {
    "db": {}, "cache": {}, "api": {"depends_on": ["db", "cache"]}, "web": {"depends_on": ["api"]},
}})
CRITICAL, WARNING = severity_rank("critical"), severity_rank("warning")


def _causes(rules: CauseRules, *sources: tuple[dict[str, str], str, int, float | None]) -> Causes:
    entries: dict[str, dict[str, Entry]] = {}
    for labels, incident, severity, since in sources:
        for key in rules.feeds(labels):
            entries.setdefault(key, {})[fingerprint(labels)] = Entry(1, incident, None, severity, since)
    return Causes(rules, entries)


def _alert(service: str, severity: str, name: str = "Errors") -> dict[str, str]:
    return {"alertname": name, "service": service, "severity": severity}


def test_entries_of_both_versions_decode_and_v2_round_trips():
    assert Entry.decode(b"7|INC-a-1") == Entry(7, "INC-a-1")  # v1, firing: no evidence
    assert Entry.decode("8|INC-a-1|1767225600.5") == Entry(8, "INC-a-1", 1767225600.5)  # v1, stopped
    assert Entry.decode("9|") == Entry(9, "")  # v1 candidate that explains nothing
    entry = Entry(10, "INC-a-1", 1767225700.0, CRITICAL, 1767225600.25)
    assert entry.encode() == f"10|{ENTRY_VERSION}|INC-a-1|1767225700.0|{CRITICAL}|1767225600.25"
    assert Entry.decode(entry.encode()) == entry
    assert Entry.decode(Entry(11, "INC-a-1").encode()) == Entry(11, "INC-a-1")
    assert Entry.of_tail(12, Entry(0, "INC-b-1", severity=WARNING).tail()).firing
    assert not Entry.of_tail(13, "INC-b-1|5.0").firing


def test_v1_entries_carry_no_evidence_and_explain_as_before():
    rules = CauseRules(topology=TOPOLOGY)
    db = _alert("db", "warning")
    causes = Causes(rules, {"svc:db": {fingerprint(db): Entry.decode("3|INC-db-1")}})
    web = _alert("web", "critical")
    cause = causes(web, fingerprint(web), 0.0, 500.0)
    assert cause is not None and cause.incident == "INC-db-1"
    assert cause.evidence == "severity unknown, 2 deep"


def test_a_less_severe_source_does_not_explain_a_graver_alert():
    rules = CauseRules(topology=TOPOLOGY)
    causes = _causes(rules, (_alert("db", "warning"), "INC-db-1", WARNING, 0.0))
    assert causes(_alert("api", "critical"), "x", 0.0, 5.0) is None  # noise on a dependency captures no outage
    cause = causes(_alert("api", "warning"), "x", 0.0, 5.0)
    assert cause is not None and cause.incident == "INC-db-1"
    assert causes(_alert("api", "none"), "x", 0.0, 5.0) is not None  # an unknown severity is no evidence


def test_an_alert_as_severe_as_its_source_must_start_within_the_symptom_lag_of_it():
    rules = CauseRules(topology=TOPOLOGY)
    assert rules.symptom_lag == 30.0 and SYMPTOM_LAG is None  # off unless the topology sets it
    causes = _causes(rules, (_alert("db", "critical", "Down"), "INC-db-1", CRITICAL, 100.0))
    api = _alert("api", "critical")
    assert causes(api, "x", 0.0, 130.0) is not None
    assert causes(api, "x", 0.0, 140.0) is None  # as grave, 40 s after: a failure of its own
    assert causes(api, "x", 0.0, 60.0) is None  # as grave, failing 40 s before: not merged into it either
    assert causes(api, "x", 0.0, None) is not None  # its start unknown: no evidence
    late_warning = causes(_alert("api", "warning"), "x", 0.0, 1000.0)  # a lesser alert: a symptom however late
    assert late_warning is not None and late_warning.evidence == "critical, started 900s before it, 1 deep"
    unlimited = CauseRules(topology=TOPOLOGY.model_copy(update={"symptom_lag": None}))
    assert _causes(unlimited, (_alert("db", "critical"), "INC-db-1", CRITICAL, 100.0))(api, "x", 0.0, 900.0)


def test_the_root_is_the_deepest_failing_service_that_explains_the_failure_above_it():
    rules = CauseRules(topology=TOPOLOGY)
    web = _alert("web", "warning")
    # api failed on its own (critical, 10 minutes after db): the web errors are api's, not db's
    apart = _causes(rules, (_alert("db", "critical", "Down"), "INC-db-1", CRITICAL, 0.0),
                    (_alert("api", "critical", "Down"), "INC-api-1", CRITICAL, 600.0))
    cause = apart(web, "x", 0.0, 605.0)
    assert cause is not None and (cause.incident, cause.path) == ("INC-api-1", ("web", "api"))
    # api failed 5 s after db: db explains it, so db is the root (the path records the depth)
    chain = _causes(rules, (_alert("db", "critical", "Down"), "INC-db-1", CRITICAL, 0.0),
                    (_alert("api", "critical", "Down"), "INC-api-1", CRITICAL, 5.0))
    cause = chain(web, "x", 0.0, 8.0)
    assert cause is not None and (cause.incident, cause.path) == ("INC-db-1", ("web", "api", "db"))
    assert cause.evidence == "critical, started 8s before it, 2 deep"


def test_among_the_sources_of_one_service_the_most_severe_then_the_earliest_explains():
    rules = CauseRules(topology=TOPOLOGY)
    db_warn, db_crit, db_crit2 = (_alert("db", "warning", "Slow"), _alert("db", "critical", "Down"),
                                  _alert("db", "critical", "Gone"))
    causes = _causes(rules, (db_warn, "INC-w-1", WARNING, 0.0), (db_crit2, "INC-c2-1", CRITICAL, 20.0),
                     (db_crit, "INC-c-1", CRITICAL, 10.0))
    cause = causes(_alert("api", "warning"), "x", 0.0, 25.0)
    assert cause is not None and cause.incident == "INC-c-1"


def test_symptom_lag_of_several_files(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("topology:\n  symptom_lag: 2m\n  services: {db: {}}\n")
    (tmp_path / "b.yaml").write_text("topology:\n  services: {api: {depends_on: [db]}}\n")
    assert load_rule_set(tmp_path).topology.symptom_lag == 120.0
    (tmp_path / "b.yaml").write_text("topology:\n  symptom_lag: null\n  services: {api: {depends_on: [db]}}\n")
    assert load_rule_set(tmp_path).topology.symptom_lag is None


@pytest.mark.parametrize(("lag", "merged"), [("30s", False), ("null", True)])
def test_the_unrelated_storm_needs_the_time_order(tmp_path: Path, lag: str, merged: bool):
    rules = (CORPUS_DIR / "unrelated" / "rules" / "rules.yaml").read_text()
    (tmp_path / "rules.yaml").write_text(rules.replace("symptom_lag: 30s", f"symptom_lag: {lag}"))
    notifications = read_notifications([CORPUS_DIR / "unrelated" / RECORDING], truth=True)
    score = replay(load_rule_set(tmp_path), notifications).score()
    assert (score.merges > 0) is merged
    assert (score.f1 == 1.0) is not merged
