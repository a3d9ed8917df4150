"""``rules suggest``: candidates mined from episodes, with figures computed by hand on tiny recordings."""

from __future__ import annotations

import pytest

from replay import corpus
from replay.recordings import read_notifications
from replay.storms import Storm
from replay.suggest import Settings, episodes, suggest
from rules.loader import lint_directory, load_rule_set


def _storm() -> Storm:
    s = Storm("t", "", "")
    s.alert({"alertname": "DbDown", "service": "db"}, "x", [(0, 600)])
    s.alert({"alertname": "Errors", "service": "api", "pod": "1"}, "x", [(10, 650)])
    s.alert({"alertname": "Errors", "service": "api", "pod": "2"}, "x", [(40, 700)])
    s.alert({"alertname": "Slow", "service": "web"}, "y", [(20, 3000)])  # co-starts, ends far later: unrelated
    return s


def test_episodes_run_from_a_first_firing_to_its_resolve():
    eps = episodes(_storm().ordered())
    assert [(e.service, e.start - eps[0].start, e.end - eps[0].start if e.end else None) for e in eps] == [
        ("db", 0, 600), ("api", 10, 650), ("web", 20, 3000), ("api", 40, 700)]


def test_an_edge_with_hand_computed_support_confidence_and_lift():
    found = suggest(_storm().ordered())
    (edge,) = found.topology
    assert edge.name == "api -> db" and edge.support == 2 and edge.confidence == 1.0
    # chance: db's one end window (120 s) over the span (3000 s) plus the window
    assert edge.lift == pytest.approx(1.0 / (120 / 3120))
    assert len(edge.evidence) == 2 and found.hold == 0.0  # the symptoms started after their cause


def test_a_late_cause_sets_the_hold_and_a_weak_edge_is_dropped():
    s = Storm("t", "", "")
    s.alert({"alertname": "Errors", "service": "api"}, "x", [(0, 650)])
    s.alert({"alertname": "DbDown", "service": "db"}, "x", [(90, 600)])
    for k in range(4):  # api fails alone four more times: db explains a fifth of its episodes
        s.alert({"alertname": "Errors", "service": "api"}, "x", [(2000 + 1000 * k, 2100 + 1000 * k)])
    assert suggest(s.ordered()).topology == []  # one co-occurrence: under the default support of 2
    found = suggest(s.ordered(), Settings(min_support=1))
    (edge,) = found.topology
    assert edge.name == "api -> db" and edge.confidence == 0.2 and edge.detail["cause_confidence"] == 1.0
    assert found.hold == 100.0  # the symptom led its cause by 90 s, plus 10 s
    assert suggest(s.ordered(), Settings(min_support=1, min_confidence=1.0)).topology == [edge]
    assert suggest(s.ordered(), Settings(min_support=1, min_lift=100.0)).topology == []


def test_refires_and_recurrences():
    s = Storm("t", "", "")
    s.alert({"alertname": "DiskLow", "service": "r"}, "x", [(300.0 * k, 300.0 * k + 200) for k in range(5)])
    for day in range(3):
        s.alert({"alertname": "JobFailed", "job": "export"}, f"n{day}", [(86400.0 * day, 86400.0 * day + 60)])
    found = suggest(s.ordered())
    (group,) = found.groups
    assert group.name == "DiskLow" and group.support == 4 and group.detail["longest_gap"] == 100.0
    (problem,) = found.problems
    assert problem.name == "JobFailed" and problem.detail["signature"] == ["alertname", "job"]
    assert problem.support == 3


def test_edges_never_close_a_cycle(tmp_path):
    s = Storm("t", "", "")
    s.alert({"alertname": "A", "service": "a"}, "x", [(0, 100)])
    s.alert({"alertname": "B", "service": "b"}, "x", [(5, 100)])  # ends together: either may be the cause
    s.alert({"alertname": "C", "service": "c"}, "y", [(5000, 5100)])
    found = suggest(s.ordered(), Settings(min_support=1))
    assert len(found.topology) == 1
    (tmp_path / "s.yaml").write_text(found.draft())
    assert lint_directory(tmp_path) == ([], [])


def test_every_corpus_draft_checks_clean_and_loads(tmp_path):
    for directory in sorted(p for p in corpus.CORPUS_DIR.iterdir() if p.is_dir()):
        target = tmp_path / directory.name
        target.mkdir()
        (target / "suggested.yaml").write_text(suggest(read_notifications([directory / corpus.RECORDING])).draft())
        assert lint_directory(target) == ([], []), directory.name
        load_rule_set(target)


def test_default_grouping_plus_suggestions_reaches_the_target_on_every_storm():
    for directory in sorted(p for p in corpus.CORPUS_DIR.iterdir() if p.is_dir()):
        assert corpus.score_storm(directory, "suggested").f1 >= 0.9, directory.name
