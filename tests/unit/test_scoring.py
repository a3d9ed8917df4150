"""The truth scorer (docs/quality.md): hand-computed pair counts on tiny groupings, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.scoring import pairwise, score, score_problems


def test_hand_computed_pairs():
    # truth: a a a b b ; placed: X X Y Y Y
    truth = ["a", "a", "a", "b", "b"]
    placed = ["X", "X", "Y", "Y", "Y"]
    p = pairwise(truth, placed)
    # pairs together: X {01}, Y {23, 24, 34} = 4; belong together: a {01,02,12}, b {34} = 4; both: 01, 34 = 2
    assert (p.true_positive, p.predicted, p.actual) == (2, 4, 4)
    assert p.precision == 0.5 and p.recall == 0.5 and p.f1 == 0.5


def test_one_incident_for_everything_and_all_singletons():
    truth = ["a", "a", "b", "b"]
    merged = pairwise(truth, ["X"] * 4)
    assert (merged.true_positive, merged.predicted, merged.actual) == (2, 6, 2)
    assert merged.precision == pytest.approx(1 / 3) and merged.recall == 1.0 and merged.f1 == pytest.approx(0.5)
    apart = pairwise(truth, ["1", "2", "3", "4"])
    assert apart.precision == 1.0 and apart.recall == 0.0 and apart.f1 == 0.0


def test_unplaced_notifications_pair_with_nothing():
    p = pairwise(["a", "a", "a"], ["X", "", ""])
    assert (p.true_positive, p.predicted, p.actual) == (0, 0, 3)
    assert p.precision == 1.0 and p.recall == 0.0


def test_splits_merges_compression_and_worst_offenders():
    truth = ["a", "a", "a", "b", "c", "c"]
    placed = ["X", "Y", "Z", "Z", "W", ""]
    s = score(truth, placed, incidents=4, titles={"Z": "z title"})
    assert s.splits == 2 and [x.truth for x in s.worst_splits] == ["a"]
    assert set(s.worst_splits[0].incidents) == {"X", "Y", "Z"}
    assert s.merges == 1 and s.worst_merges[0].incident == "Z" and s.worst_merges[0].title == "z title"
    assert set(s.worst_merges[0].truths) == {"a", "b"}
    assert s.compression == 6 / 4 and s.ideal_compression == 6 / 3 and s.unplaced == 1
    assert s.public()["f1"] == round(s.f1, 4)


def test_problems_match_by_majority_of_linked_incidents():
    labelled = {"n1": "P", "n2": "P", "n3": "P", "other": "Q"}
    majority = {"I1": "n1", "I2": "n2", "I3": "other", "I4": "x"}
    found = {"PRB-1": ["I1", "I2", "I3"], "PRB-2": ["I3", "I4"], "PRB-3": ["I4"]}
    ps = score_problems(labelled, found, majority)
    assert ps.matches == {"PRB-1": "P"}  # PRB-2: Q has 1 of 2, not more than half
    assert (ps.labelled, ps.found, ps.matched, ps.spurious) == (2, 3, 1, 2)


labels = st.lists(st.sampled_from("abcde"), min_size=0, max_size=40)


@given(labels, st.data())
def test_f1_is_between_0_and_1(truth, data):
    placed = data.draw(st.lists(st.sampled_from(["", "X", "Y", "Z"]), min_size=len(truth), max_size=len(truth)))
    s = score(truth, placed, incidents=3)
    assert 0.0 <= s.precision <= 1.0 and 0.0 <= s.recall <= 1.0 and 0.0 <= s.f1 <= 1.0


@given(labels)
def test_perfect_grouping_scores_one(truth):
    s = score(truth, [f"INC-{t}" for t in truth], incidents=len(set(truth)))
    assert s.f1 == 1.0 and s.splits == 0 and s.merges == 0 and s.compression == s.ideal_compression


@given(labels, st.data())
def test_renaming_incidents_or_truths_changes_nothing(truth, data):
    placed = data.draw(st.lists(st.sampled_from(["", "X", "Y", "Z"]), min_size=len(truth), max_size=len(truth)))
    names = data.draw(st.permutations(["X", "Y", "Z"]))
    rename = dict(zip(["X", "Y", "Z"], names, strict=True))
    renamed = [rename.get(p, "") for p in placed]
    a, b = score(truth, placed, incidents=3), score(truth, renamed, incidents=3)
    assert (a.pairs, a.splits, a.merges, a.unplaced) == (b.pairs, b.splits, b.merges, b.unplaced)
    upper = score([t.upper() for t in truth], placed, incidents=3)
    assert upper.pairs == a.pairs
