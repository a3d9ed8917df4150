"""``rules suggest``: candidates mined from episodes, with figures computed by hand on tiny recordings."""

from __future__ import annotations

import pytest

from replay import corpus
from replay.known import KnownRules
from replay.recordings import read_notifications
from replay.storms import Storm
from replay.suggest import Settings, episodes, suggest
from replay.suggest_draft import render
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


def _outages(s: Storm, cause: str, dependants: list[str], times: tuple[float, ...]) -> None:
    """``cause`` fails at each time; every dependant alerts seconds later and clears after it."""
    for k, t in enumerate(times):
        s.alert({"alertname": f"{cause}Down", "service": cause}, f"{cause}{k}", [(t, t + 600)])
        for n, dependant in enumerate(dependants):
            s.alert({"alertname": "Errors", "service": dependant}, f"{cause}{k}",
                    [(t + 10 + 5 * n, t + 650 + 10 * n)])


def test_two_dependants_of_one_cause_are_not_drafted_as_depending_on_each_other():
    s = Storm("t", "", "")
    _outages(s, "db", ["search", "checkout"], (0.0, 5000.0, 10000.0))
    found = suggest(s.ordered())
    assert sorted(c.name for c in found.topology) == ["checkout -> db", "search -> db"]
    aside = {c.name: c for c in found.set_aside}
    assert "checkout -> search" in aside or "search -> checkout" in aside
    assert all(c.detail["explained_by"] == ["db"] and c.support >= 2 for c in aside.values())
    assert "# Set aside" in render(found) and '"search": {depends_on: ["db"]}' in render(found)


def test_a_chain_stands_when_its_middle_fails_without_the_root():
    """web -> api -> db: db's outages take both down (explained by db alone), but api also fails on its own twice and
    web with it: that evidence no common cause explains, so web -> api is drafted."""
    s = Storm("t", "", "")
    _outages(s, "db", ["api", "web"], (0.0, 5000.0))
    for k, t in enumerate((10000.0, 15000.0)):
        s.alert({"alertname": "Errors", "service": "api"}, f"api{k}", [(t, t + 600)])
        s.alert({"alertname": "Slow", "service": "web"}, f"api{k}", [(t + 10, t + 650)])
    found = suggest(s.ordered())
    assert {"web -> api", "api -> db"} <= {c.name for c in found.topology}
    assert "web -> api" not in {c.name for c in found.set_aside}
    # with only db's outages in the recording, the middle edge cannot be told from two dependants of db
    alone = suggest(_only_db_outages().ordered())
    assert "web -> api" in {c.name for c in alone.set_aside}


def _only_db_outages() -> Storm:
    s = Storm("t", "", "")
    _outages(s, "db", ["api", "web"], (0.0, 5000.0))
    return s


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
    (tmp_path / "s.yaml").write_text(render(found))
    assert lint_directory(tmp_path) == ([], [])


def test_every_corpus_draft_checks_clean_and_loads(tmp_path):
    for directory in sorted(p for p in corpus.CORPUS_DIR.iterdir() if p.is_dir()):
        target = tmp_path / directory.name
        target.mkdir()
        (target / "suggested.yaml").write_text(render(suggest(read_notifications([directory / corpus.RECORDING]))))
        assert lint_directory(target) == ([], []), directory.name
        load_rule_set(target)


def test_default_grouping_plus_suggestions_reaches_the_target_on_every_storm():
    for directory in sorted(p for p in corpus.CORPUS_DIR.iterdir() if p.is_dir()):
        assert corpus.score_storm(directory, "suggested").f1 >= 0.9, directory.name


# --- against a rule set (`rules suggest --rules DIR`) ---------------------------------------------------------

KNOWN_RULES = """\
topology:
  hold: 30s
  services:
    db: {}
    api: {depends_on: [db]}
    web: {}
  bindings:
    - name: web-pods
      match: ['service="web-pods"']
      service: web
enrichment:
  - name: exporter-is-db
    match: ['job="db-exporter"']
    add_labels: {service: db}
groups:
  - name: suggested-refire-1          # a name a draft would pick: it must pick another
    match: ['alertname="Unrelated"']
  - name: disk
    match: ['alertname="DiskLow"']
    auto_resolve: {mode: after_hold, hold: 15m}
"""


def _known_storm() -> Storm:
    """db fails twice; api's and web's pods (labelled web-pods) fail with it each time; db's alert carries no
    service label (its exporter's job, which enrichment maps to db)."""
    s = Storm("t", "", "")
    for k, t in enumerate((0.0, 5000.0)):
        s.alert({"alertname": "DbDown", "job": "db-exporter", "severity": "critical"}, f"o{k}", [(t, t + 600)])
        s.alert({"alertname": "Errors", "service": "api", "severity": "warning"}, f"o{k}", [(t + 10, t + 650)])
        s.alert({"alertname": "Slow", "service": "web-pods", "pod": "1", "severity": "warning"}, f"o{k}",
                [(t + 20, t + 660)])
    for k in range(4):  # a disk that flaps, handled by the rule set's group rule
        s.alert({"alertname": "DiskLow", "service": "r"}, "d", [(9000.0 + 300 * k, 9000.0 + 300 * k + 200)])
    return s


def _known(tmp_path, text: str = KNOWN_RULES) -> KnownRules:
    (tmp_path / "rules.yaml").write_text(text)
    return KnownRules(load_rule_set(tmp_path))


def test_alerts_are_bound_through_the_rule_sets_enrichment_and_catalog(tmp_path):
    known = _known(tmp_path)
    eps = episodes(_known_storm().ordered(), known=known)
    assert {e.alertname: e.service for e in eps} == {"DbDown": "db", "Errors": "api", "Slow": "web", "DiskLow": "r"}
    # without the rule set, the raw label: the exporter's alert has no service, the pods' is a name no one knows
    assert {e.alertname: e.service for e in episodes(_known_storm().ordered())}["Slow"] == "web-pods"


def test_what_the_rule_set_says_is_already_known_and_the_rest_drafted_to_load_next_to_it(tmp_path):
    known = _known(tmp_path)
    found = suggest(_known_storm().ordered(), known=known)
    assert sorted(c.name for c in found.topology) == ["web -> db"]
    # web's pods failed only with db, which api depends on: db explains web's co-failures with api
    assert [(c.kind, c.name, c.detail["explained_by"]) for c in found.set_aside] == [
        ("topology", "web -> api", ["db"]), ("inhibit", "Errors mutes Slow", ["DbDown"])]
    said = {(c.kind, c.name): c.known for c in found.known}
    assert said[("topology", "api -> db")] == "in the topology"
    assert said[("inhibit", "DbDown mutes Errors")] == "the topology: api -> db"
    assert said[("group", "DiskLow")] == "group rule disk"
    assert all(c.known is None for c in found.all())
    draft = render(found)
    assert "service_label" not in draft and "web-pods" not in draft
    assert 'edges:\n    "web": ["db"]' in draft and "services:" not in draft
    assert "#   topology web -> api: support 2, confidence 1.00" in draft and "explained by db" in draft
    (tmp_path / "suggested.yaml").write_text(draft)
    assert lint_directory(tmp_path) == ([], [])
    assert load_rule_set(tmp_path).topology.services["web"].depends_on == ("db",)
    # once accepted, the same recording has nothing new to say
    again = suggest(_known_storm().ordered(), known=KnownRules(load_rule_set(tmp_path)))
    assert again.all() == [] and "Nothing new" in render(again)
    assert {c.name: c.known for c in again.known}["web -> db"] == "in the topology"


def _node_storm(pod_node: str) -> Storm:
    s = Storm("t", "", "")
    for k, t in enumerate((0.0, 5000.0)):
        s.alert({"alertname": "NodeDown", "service": "node", "node": f"n{k}"}, f"o{k}", [(t, t + 600)])
        s.alert({"alertname": "PodCrash", "service": "app", "node": pod_node.format(k=k)}, f"o{k}",
                [(t + 10, t + 650)])
    return s


def test_an_inhibit_rule_the_rule_set_has_is_known_with_its_equal_labels(tmp_path):
    rules = ("inhibit:\n  - name: node-down\n    source_match: ['alertname=\"NodeDown\"']\n"
             "    target_match: ['alertname=\"PodCrash\"']\n    equal: [node]\n")
    settings = Settings(min_support=1)
    (candidate,) = suggest(_node_storm("n{k}").ordered(), settings).inhibit
    assert candidate.name == "NodeDown mutes PodCrash"
    found = suggest(_node_storm("n{k}").ordered(), settings, _known(tmp_path, rules))
    assert found.inhibit == [] and [c.known for c in found.known] == ["inhibit rule node-down"]
    # the pods crash on another node than the one down: the rule's equal does not hold, so it explains nothing
    found = suggest(_node_storm("m{k}").ordered(), settings, _known(tmp_path, rules))
    assert [c.name for c in found.inhibit] == ["NodeDown mutes PodCrash"] and found.known == []


def test_an_edge_that_would_close_a_cycle_with_the_topology_is_not_drafted(tmp_path):
    s = Storm("t", "", "")
    for t in (0.0, 5000.0):  # api's alert first, db's ending with it: the evidence says db -> api
        s.alert({"alertname": "Errors", "service": "api"}, "x", [(t, t + 600)])
        s.alert({"alertname": "DbDown", "service": "db"}, "x", [(t + 5, t + 610)])
    assert [c.name for c in suggest(s.ordered()).topology] == ["db -> api"]
    found = suggest(s.ordered(), known=_known(tmp_path, "topology:\n  services:\n    db: {}\n    api: {depends_on: "
                                                        "[db]}\n"))
    assert found.topology == [] and found.known == []


def test_draft_rule_names_skip_those_the_rule_set_uses(tmp_path):
    s = Storm("t", "", "")
    s.alert({"alertname": "Unrelated", "service": "u"}, "x", [(300.0 * k, 300.0 * k + 200) for k in range(3)])
    s.alert({"alertname": "Flappy", "service": "f"}, "y", [(300.0 * k, 300.0 * k + 200) for k in range(3)])
    known = _known(tmp_path, "groups:\n  - name: suggested-refire-1\n    match: ['alertname=\"Other\"']\n")
    found = suggest(s.ordered(), known=known)
    assert [c.name for c in found.groups] == ["Flappy", "Unrelated"]
    (tmp_path / "suggested.yaml").write_text(render(found))
    assert lint_directory(tmp_path) == ([], [])
    assert [g.name for g in load_rule_set(tmp_path).groups] == [
        "suggested-refire-1", "suggested-refire-2", "suggested-refire-3"]


def test_rules_plus_accepted_suggestions_on_every_storm():
    # the workflow: suggest against a storm's own rules, drop the draft next to them, score the whole directory
    for directory in sorted(p for p in corpus.CORPUS_DIR.iterdir() if p.is_dir()):
        alone = corpus.score_storm(directory, "storm").f1
        assert corpus.score_storm(directory, "storm+suggested").f1 >= alone, directory.name
    partial = corpus.CORPUS_DIR / "partial-topology"
    assert corpus.score_storm(partial, "storm").f1 < 0.8
    assert corpus.score_storm(partial, "storm+suggested").f1 == 1.0
