"""The labelled corpus: its files are what replay.storms builds, docs/quality.md shows the figures the code
computes, and the scorer sees what each storm is built to show."""

from __future__ import annotations

import pytest
import yaml

from replay import corpus
from replay.placement import replay
from replay.recordings import read_notifications
from replay.storms import STORMS, corpus as build_corpus, large_storm
from rules.loader import lint_directory, load_rule_set


@pytest.fixture(scope="module")
def scores():
    return {(s.storm, s.rules): s.score for s in corpus.score_corpus()}


def test_corpus_files_are_what_the_storms_build():
    storms = build_corpus()
    assert len(storms) >= 6
    for storm in storms:
        directory = corpus.CORPUS_DIR / storm.name
        assert (directory / corpus.RECORDING).read_bytes() == corpus.recording_bytes(storm), \
            f"{storm.name}: run python -m replay.corpus write"
        assert (directory / "rules" / "rules.yaml").read_text() == storm.rules
    assert (corpus.CORPUS_DIR / "README.md").read_text() == corpus.readme(storms)


def test_every_storm_has_a_truth_per_line_and_rules_that_check_clean():
    for build in STORMS:
        directory = corpus.CORPUS_DIR / build().name
        assert all(n.truth for n in read_notifications([directory / corpus.RECORDING], truth=True))
        errors, warnings = lint_directory(directory / "rules")
        assert errors == [] and warnings == []


def test_the_quality_doc_shows_the_figures_the_code_computes(scores):
    text = corpus.QUALITY_DOC.read_text()
    begin, end = text.index(corpus.TABLE_BEGIN), text.index(corpus.TABLE_END)
    shown = text[begin + len(corpus.TABLE_BEGIN):end].strip()
    assert shown == corpus.table(corpus.score_corpus()), "run python -m replay.corpus doc"


def test_what_each_storm_is_built_to_show(scores):
    # a competent rule set from the topology groups a cascade, flapping and a recurring failure perfectly
    for storm in ("cascade", "flapping", "recurring-batch"):
        assert scores[(storm, "storm")].f1 == 1.0, storm
    assert scores[("cascade", "none")].splits > 0  # without topology a cascade pages per service
    assert scores[("flapping", "none")].splits > scores[("flapping", "storm")].splits
    batch = scores[("recurring-batch", "storm")].problems
    assert (batch.labelled, batch.found, batch.matched, batch.spurious) == (1, 1, 1, 0)
    assert scores[("recurring-batch", "none")].problems.found == 0
    # a late cause: its symptoms opened (and paged) an incident of their own before it arrived
    assert scores[("late-cause", "storm")].incidents >= 2 and scores[("late-cause", "none")].splits >= 1
    # a partial topology: what its rules cannot know still pages on its own (below)
    assert scores[("partial-topology", "storm")].splits == 1
    assert scores[("partial-topology", "storm")].f1 > scores[("partial-topology", "examples")].f1
    # a dependant's own failure, as grave as its dependency's and starting 40 s after it, is told apart by evidence
    # (correlation.core.causes: severity and time order); without the time order it is taken for a symptom
    assert scores[("unrelated", "storm")].f1 == 1.0
    assert scores[("unrelated", "storm")].merges == 0
    assert all(0.0 <= s.f1 <= 1.0 for s in scores.values())


def test_a_partial_topology_loses_only_the_edge_it_misses(tmp_path):
    # its rules bind checkout's pods (service="checkout-web") to checkout: their alerts roll up into the database's
    # incident along checkout -> orders-api -> orders-db. search's dependency on the database is in no rule written
    # from the topology, so search's alerts are the one split, and every pair lost is one of search's with the rest
    directory = corpus.CORPUS_DIR / "partial-topology"
    notifications = read_notifications([directory / corpus.RECORDING], truth=True)
    with_binding = replay(load_rule_set(directory / "rules"), notifications)
    where: dict[str, set[str]] = {}
    for n, incident in zip(notifications, with_binding.placed, strict=True):
        where.setdefault(n.alert.labels["service"], set()).add(incident)
    assert all(len(incidents) == 1 for incidents in where.values()) and "" not in set().union(*where.values())
    assert where["checkout-web"] == where["orders-api"] == where["orders-db"] != where["search"]
    score = with_binding.score()
    search = sum(n.alert.labels["service"] == "search" for n in notifications)
    assert score.pairs.actual - score.pairs.true_positive == search * (len(notifications) - search)
    assert score.precision == 1.0 and round(score.f1, 3) == 0.788

    # the same topology without the binding: checkout-web is a name it does not know, and pages on its own
    rules = yaml.safe_load((directory / "rules" / "rules.yaml").read_text())
    del rules["topology"]["bindings"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    without = replay(load_rule_set(tmp_path), notifications).score()
    assert without.splits == 2 and round(without.f1, 3) == 0.521


def test_the_large_storm_has_the_size_asked_and_one_truth_per_failure():
    storm = large_storm(5_000, seed=3)
    assert 5_000 <= len(storm.notifications) < 5_500
    truths = {n.truth for n in storm.notifications}
    roots = {n.truth for n in storm.notifications if n.alert.labels["alertname"] == "ServiceDown"}
    assert truths == roots and len(truths) > 5
    assert large_storm(5_000, seed=3).ordered() == storm.ordered()  # reproducible
