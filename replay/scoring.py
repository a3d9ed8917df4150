"""Grouping quality: how a replay's incidents compare with the incidents an SRE labelled. Pure; the figures are
defined in ``docs/quality.md`` (precision, recall and F1 over pairs of notifications, compression and its ideal,
splits and merges, problems found against labelled problems).

Inputs are parallel sequences, one item per scored notification: its truth id and the incident it was placed in
(``""``: none, e.g. still waiting or muted; such a notification is a group of its own).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WORST = 5  # offenders named per kind


@dataclass(frozen=True, slots=True)
class Pairwise:
    true_positive: int  # pairs grouped together that belong together
    predicted: int  # pairs grouped together
    actual: int  # pairs that belong together

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.actual if self.actual else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(truth: Sequence[str], placed: Sequence[str]) -> Pairwise:
    """Pair counts of a grouping (``placed``) against the truth; an unplaced notification ("") pairs with none."""
    if len(truth) != len(placed):
        raise ValueError("truth and placement differ in length")
    cells: Counter[tuple[str, str]] = Counter()
    groups: Counter[str] = Counter()
    for t, p in zip(truth, placed, strict=True):
        if p:
            cells[(p, t)] += 1
            groups[p] += 1
    return Pairwise(true_positive=sum(_pairs(n) for n in cells.values()),
                    predicted=sum(_pairs(n) for n in groups.values()),
                    actual=sum(_pairs(n) for n in Counter(truth).values()))


@dataclass(frozen=True, slots=True)
class Split:
    truth: str
    incidents: tuple[str, ...]  # the incidents its notifications went to, most notifications first


@dataclass(frozen=True, slots=True)
class Merge:
    incident: str
    title: str
    truths: tuple[str, ...]  # the truths among its notifications, most notifications first


@dataclass(frozen=True, slots=True)
class ProblemScore:
    labelled: int
    found: int
    matched: int  # labelled problems some found problem matches
    spurious: int  # found problems that match no labelled problem
    matches: dict[str, str] = field(default_factory=dict)  # found problem id -> labelled problem id


@dataclass(frozen=True, slots=True)
class Score:
    notifications: int
    incidents: int
    truths: int
    unplaced: int  # scored notifications placed in no incident (muted, waiting, held, unknown resolves)
    pairs: Pairwise
    splits: int  # extra incidents: sum over truths of (incidents it went to - 1)
    merges: int  # extra truths: sum over incidents of (truths in it - 1)
    worst_splits: tuple[Split, ...]
    worst_merges: tuple[Merge, ...]
    problems: ProblemScore

    @property
    def precision(self) -> float:
        return self.pairs.precision

    @property
    def recall(self) -> float:
        return self.pairs.recall

    @property
    def f1(self) -> float:
        return self.pairs.f1

    @property
    def compression(self) -> float:
        return self.notifications / self.incidents if self.incidents else float(self.notifications)

    @property
    def ideal_compression(self) -> float:
        return self.notifications / self.truths if self.truths else float(self.notifications)

    def public(self) -> dict[str, Any]:
        return {
            "notifications": self.notifications, "incidents": self.incidents, "truths": self.truths,
            "unplaced": self.unplaced, "precision": round(self.precision, 4), "recall": round(self.recall, 4),
            "f1": round(self.f1, 4), "pairs": {"true_positive": self.pairs.true_positive,
                                               "predicted": self.pairs.predicted, "actual": self.pairs.actual},
            "compression": round(self.compression, 2), "ideal_compression": round(self.ideal_compression, 2),
            "splits": self.splits, "merges": self.merges,
            "worst_splits": [{"truth": s.truth, "incidents": list(s.incidents)} for s in self.worst_splits],
            "worst_merges": [{"incident": m.incident, "title": m.title, "truths": list(m.truths)}
                             for m in self.worst_merges],
            "problems": {"labelled": self.problems.labelled, "found": self.problems.found,
                         "matched": self.problems.matched, "spurious": self.problems.spurious,
                         "matches": self.problems.matches},
        }


def score(truth: Sequence[str], placed: Sequence[str], *, incidents: int, titles: Mapping[str, str] | None = None,
          labelled_problems: Mapping[str, str] | None = None,
          found_problems: Mapping[str, Sequence[str]] | None = None) -> Score:
    """Every figure of ``docs/quality.md``. ``incidents``: how many the replay opened (compression counts them
    all); ``labelled_problems``: truth id -> labelled problem id; ``found_problems``: problem id -> its incidents."""
    titles = titles or {}
    by_truth: dict[str, Counter[str]] = defaultdict(Counter)
    by_incident: dict[str, Counter[str]] = defaultdict(Counter)
    for t, p in zip(truth, placed, strict=True):
        if p:
            by_truth[t][p] += 1
            by_incident[p][t] += 1
    splits = [Split(t, tuple(i for i, _ in c.most_common())) for t, c in by_truth.items() if len(c) > 1]
    merges = [Merge(i, titles.get(i, ""), tuple(t for t, _ in c.most_common()))
              for i, c in by_incident.items() if len(c) > 1]
    splits.sort(key=lambda s: (-len(s.incidents), s.truth))
    merges.sort(key=lambda m: (-len(m.truths), m.incident))
    majority = {i: c.most_common(1)[0][0] for i, c in by_incident.items()}
    return Score(
        notifications=len(truth), incidents=incidents, truths=len(set(truth)), unplaced=sum(not p for p in placed),
        pairs=pairwise(truth, placed),
        splits=sum(len(s.incidents) - 1 for s in splits), merges=sum(len(m.truths) - 1 for m in merges),
        worst_splits=tuple(splits[:WORST]), worst_merges=tuple(merges[:WORST]),
        problems=score_problems(labelled_problems or {}, found_problems or {}, majority),
    )


def score_problems(labelled: Mapping[str, str], found: Mapping[str, Sequence[str]],
                   majority: Mapping[str, str]) -> ProblemScore:
    """A found problem matches the labelled problem that more than half of its linked incidents' truths (each
    incident's majority truth) belong to; a labelled problem is matched when some found problem matches it."""
    matches: dict[str, str] = {}
    for problem_id, linked in found.items():
        votes = Counter(labelled.get(majority.get(i, ""), "") for i in linked)
        votes.pop("", None)
        if votes:
            best, n = votes.most_common(1)[0]
            if 2 * n > len(linked):
                matches[problem_id] = best
    names = set(labelled.values())
    return ProblemScore(labelled=len(names), found=len(found), matched=len(set(matches.values())),
                        spurious=len(found) - len(matches), matches=matches)
