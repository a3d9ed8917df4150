"""Where each notification went: a replay that remembers, per notification, the incident it counted in.

A notification counts in the incident its alert was placed in once the notification was decided: as a member, or as
a symptom of its cause's incident (``AlertState.cause``). One that was kept out for the moment (waiting for a cause,
held by a threshold) counts in the incident its alert is placed in next, if that happens before the alert's episode
ends (an episode runs from a firing notification of an alert that was not firing to the next such one); a resolved
notification counts where its episode was last placed. An incident merged into another (its ``merged_into``, once a
late cause merges) counts as that other. A notification whose alert was never placed (muted, still waiting or held
at the end, or a resolve of an alert never seen firing) is unplaced: ``""``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from replay.backtest import BacktestSummary, backtest
from correlation.core.change_windows import ChangeWindow
from correlation.core.decision import Decision, Symptom
from correlation.core.model import Incident
from correlation.core.problems import Problem
from replay.simulation import Simulation
from replay.recordings import Notification
from replay.scoring import Score, score
from rules.schema import RuleSet


@dataclass
class PlacingSimulation(Simulation):
    """A ``Simulation`` that also tracks where each notification it is fed is placed."""

    placed: list[str] = field(default_factory=list)  # per notification fed: its incident ("" unplaced so far)
    now_in: dict[str, str] = field(default_factory=dict)  # fingerprint -> its placement after the last decision
    last_in: dict[str, str] = field(default_factory=dict)  # fingerprint -> its episode's last placement
    waiting: dict[str, list[int]] = field(default_factory=dict)  # fingerprint -> its episode's unplaced notifications
    firing: set[str] = field(default_factory=set)  # fingerprints firing after the last decision that touched them

    def feed(self, alert: Any, now: float) -> None:
        super().feed(alert, now)
        fp = alert.fingerprint
        where = self.now_in.get(fp, "") or (self.last_in.get(fp, "") if alert.status == "resolved" else "")
        if not where:
            self.waiting.setdefault(fp, []).append(len(self.placed))
        self.placed.append(where)

    def _apply(self, decision: Decision, now: float) -> None:
        super()._apply(decision, now)
        firing, placed = self.firing, self.placed
        for fp, state in decision.alerts.items():
            if state.status == "firing":
                if fp not in firing:  # a new episode
                    firing.add(fp)
                    self.last_in.pop(fp, None)
                    self.waiting.pop(fp, None)
            else:
                firing.discard(fp)
            where = state.incident or state.cause
            self.now_in[fp] = where
            if where:
                self.last_in[fp] = where
                for n in self.waiting.pop(fp, ()):
                    placed[n] = where

    def placements(self) -> list[str]:
        """Per notification fed, in order: the incident it counts in ("" unplaced), merges followed (an incident a
        late cause's incident took over names it in ``merged_into``)."""
        merged = {i.id: into for i in self.all_incidents.values() if (into := getattr(i, "merged_into", ""))}

        def final(incident: str) -> str:
            seen = {incident}
            while incident in merged and merged[incident] not in seen:
                incident = merged[incident]
                seen.add(incident)
            return incident
        return [final(p) if p else "" for p in self.placed] if merged else list(self.placed)


@dataclass
class Replay:
    """One rule set's replay of a recording: the summary, each notification's incident, incidents and problems."""

    summary: BacktestSummary
    notifications: Sequence[Notification]
    placed: list[str]
    incidents: list[Incident]
    symptoms: dict[str, list[Symptom]]
    problems: list[Problem]

    def score(self) -> Score:
        truths = [n.truth or "" for n in self.notifications]
        labelled = {n.truth: n.problem for n in self.notifications if n.truth and n.problem}
        return score(truths, self.placed, incidents=len(self.incidents),
                     titles={i.id: i.title for i in self.incidents}, labelled_problems=labelled,
                     found_problems={p.id: p.incidents for p in self.problems})

    def incident_docs(self) -> list[dict[str, Any]]:
        """Every incident with its member notifications (file:line), symptoms and paths, and linking problems."""
        refs: dict[str, list[str]] = {}
        for n, where in zip(self.notifications, self.placed, strict=True):
            if where:
                refs.setdefault(where, []).append(n.ref)
        linked: dict[str, list[str]] = {}
        for p in self.problems:
            for i in p.incidents:
                linked.setdefault(i, []).append(p.id)
        return [{
            "id": i.id, "title": i.title, "rule": i.rule, "status": i.status, "priority": i.priority,
            "created_at": i.created_at, "resolved_at": i.resolved_at, "notifications": refs.get(i.id, []),
            "symptoms": [{"fingerprint": s.fingerprint, "labels": s.labels, "kind": s.kind, "rule": s.rule,
                          "path": list(s.path), "at": s.at, "evidence": s.evidence}
                         for s in self.symptoms.get(i.id, [])],
            "problems": linked.get(i.id, []),
        } for i in self.incidents]

    def unplaced(self) -> list[str]:
        return [n.ref for n, where in zip(self.notifications, self.placed, strict=True) if not where]

    def problem_docs(self) -> list[dict[str, Any]]:
        return [{"id": p.id, "title": p.title, "rule": p.rule, "incidents": list(p.incidents)} for p in self.problems]


def replay(rule_set: RuleSet | None, notifications: Sequence[Notification], *,
           default_group_by: Sequence[str] = ("alertname", "service"), settle: float = 3600.0,
           changes: Sequence[dict[str, Any]] = (), change_windows: Sequence[ChangeWindow] = ()) -> Replay:
    """``changes``, ``change_windows``: replayed beside the notifications (``replay.backtest.backtest``)."""
    sim = PlacingSimulation(rule_set, tuple(default_group_by))
    summary = backtest(rule_set, [(n.at, n.alert) for n in notifications], default_group_by=default_group_by,
                       settle=settle, sim=sim, changes=changes, change_windows=change_windows)
    incidents = sim.incidents()
    return Replay(summary, notifications, sim.placements(), incidents,
                  {i.id: sim.symptoms_of(i.id) for i in incidents}, sim.problems())
