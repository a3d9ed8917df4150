"""Backtest: replay a recorded alert stream through a rule set at full speed with simulated time. Pure.

The replay uses the same ``Simulation`` as rule tests: each alert is fed at its recorded receipt time, timers
fire at their due times in between, and after the last alert time runs on for ``settle`` seconds so holds and
quiet periods can finish. The summary says what the rule set would have done: incidents, what would have paged
(every incident opened pages its team; broken down by priority), problems, symptoms, silenced or maintenance
notifications, incidents merged into a late cause's incident, and the compression ratio (notifications per incident).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Sequence

from correlation.core.change_windows import ChangeWindow
from replay.simulation import Simulation
from rules.alert import Alert
from rules.schema import RuleSet


@dataclass
class BacktestSummary:
    notifications: int = 0
    firing: int = 0
    incidents: int = 0
    open_at_end: int = 0
    paged_by_priority: dict[str, int] = field(default_factory=dict)
    problems: int = 0
    symptoms: int = 0
    merged: int = 0  # incidents that paged, then merged into a late cause's incident (correlation.core.merging)
    muted: int = 0
    titles: Counter = field(default_factory=Counter)
    problem_titles: list[str] = field(default_factory=list)
    muted_by_change_windows: int = 0  # of muted: by change windows (docs/changes.md)
    changes: int = 0  # change events replayed beside the alerts
    incidents_with_changes: int = 0  # incidents that got a probable cause (docs/changes.md)

    @property
    def compression(self) -> float:
        return self.notifications / self.incidents if self.incidents else float(self.notifications)

    def public(self) -> dict[str, Any]:
        return {
            "notifications": self.notifications, "firing": self.firing, "incidents": self.incidents,
            "paged": self.incidents, "paged_by_priority": self.paged_by_priority, "open_at_end": self.open_at_end,
            "problems": self.problems, "problem_titles": self.problem_titles, "symptoms": self.symptoms,
            "merged": self.merged,
            "muted": self.muted, "compression": round(self.compression, 2), "incident_titles": dict(self.titles),
            "changes": self.changes, "incidents_with_changes": self.incidents_with_changes,
            "muted_by_change_windows": self.muted_by_change_windows,
        }


def backtest(rule_set: RuleSet | None, recording: Sequence[tuple[float, Alert]], *,
             default_group_by: Sequence[str] = ("alertname", "service"), settle: float = 3600.0,
             sim: Simulation | None = None, changes: Sequence[dict[str, Any]] = (),
             change_windows: Sequence[ChangeWindow] = ()) -> BacktestSummary:
    """``sim``: the simulation to replay through (one that also tracks placements, for scoring); a new one if None.
    ``changes``: change events (``events.changes.Change.public()`` documents) replayed at their ``at`` beside the
    alerts (a change before an alert at the same instant). ``change_windows``: one-off change windows (the API's),
    beside the rule set's recurring ones: they mute and annotate as they do live."""
    sim = sim if sim is not None else Simulation(rule_set, tuple(default_group_by))
    if change_windows:
        sim.change_windows = [*sim.change_windows, *change_windows]
    summary = BacktestSummary()
    pending = sorted(changes, key=lambda c: float(c["at"]))
    last = 0.0
    for at, alert in recording:
        while pending and float(pending[0]["at"]) <= at:
            change = pending.pop(0)
            sim.add_change(change, float(change["at"]))
        sim.feed(alert, at)
        summary.notifications += 1
        summary.firing += alert.status == "firing"
        last = at
    for change in pending:
        sim.add_change(change, float(change["at"]))
    summary.changes = len(changes)
    sim.advance(max([last + settle, *(float(c["at"]) for c in pending)]))
    incidents = sim.incidents()
    summary.incidents = len(incidents)
    summary.open_at_end = sum(i.is_open for i in incidents)
    summary.paged_by_priority = dict(sorted(Counter(i.priority or "none" for i in incidents).items()))
    summary.titles = Counter(i.title for i in incidents)
    summary.problems = len(sim.problems())
    summary.problem_titles = [p.title for p in sim.problems()]
    summary.symptoms = sim.symptom_count
    summary.merged = sim.merged
    summary.muted = sim.muted
    summary.muted_by_change_windows = sum(n for reason, n in sim.muted_by.items() if reason.startswith("change:"))
    summary.incidents_with_changes = sum(1 for i in incidents if sim.linked_changes.get(i.id))
    return summary
