"""The correlation engine run in memory with simulated time: no Redis, no RabbitMQ, no clock.

Used by ``stormwatch rules test`` and ``stormwatch backtest``: alerts are fed in time order through the same
enrichment, routing, muting, causes and ``decide`` as the worker uses; timers fire at their due times; the
cause index, symptoms and problems are kept in memory with the same rules the Redis scripts apply. The
incidents and problems can be inspected at any instant.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping, Sequence

from actions.model import IncidentEvent, ProblemEvent
from actions.triggers import planned_runs, problem_runs
from correlation.core.causes import Causes, Entry
from correlation.core.live_keys import LiveKeys
from correlation.core.change_windows import ChangeWindow, WindowMuter, window_of
from correlation.core.probable_cause import DEFAULT_LOOKBACK, probable_causes, rank
from correlation.core.decision import Context, Decision, Symptom, hold_timer, merge_timer, parse_timer
from correlation.core.engine import decide, decide_manual_resolve, decide_timer
from correlation.core.merging import IndexUpdate, rehomed, to_check, to_replace
from correlation.core.model import GroupState, Incident
from correlation.core.muting import Muter, Silence, change_windows_at
from correlation.core.problems import (
    Occurrence, Problem, ProblemBook, recurrence_occurrence, shared_cause_occurrence,
)
from correlation.core.routing import Route, Router
from rules.alert import Alert
from events.builders import incident_change, problem_event
from rules.schema import RuleSet


@dataclass
class Simulation:
    rule_set: RuleSet | None
    default_group_by: Sequence[str] = ("alertname", "service")
    silences: list[Silence] = field(default_factory=list)
    change_windows: list[ChangeWindow] = field(default_factory=list)
    groups: dict[str, GroupState] = field(default_factory=dict)
    muted: int = 0
    duplicates: int = 0
    symptom_count: int = 0
    all_incidents: dict[str, Incident] = field(default_factory=dict)
    cause_index: dict[str, dict[str, Entry]] = field(default_factory=dict)
    candidate_index: dict[str, dict[str, Entry]] = field(default_factory=dict)  # correlation.core.merging
    members: dict[str, set[str]] = field(default_factory=dict)  # incident -> member fingerprints
    merged: int = 0  # incidents merged into a late cause's incident
    symptoms: dict[str, dict[tuple[str, str], Symptom]] = field(default_factory=dict)  # cause incident -> ...
    timers: dict[str, float] = field(default_factory=dict)  # member -> due (the latest scheduling wins)
    _heap: list[tuple[float, str]] = field(default_factory=list)
    problem_book: ProblemBook = field(default_factory=ProblemBook)
    problem_events: list[tuple[str, str]] = field(default_factory=list)  # (problem.created|linked, problem id)
    # actions the rules would start: (action, incident id, trigger), in order (nothing runs in a simulation)
    actions_started: list[tuple[str, str, str]] = field(default_factory=list)
    acknowledged: dict[str, float] = field(default_factory=dict)  # incident id -> when a person acknowledged it
    # change events fed so far (documents of events.changes.Change), and the ones linked to each incident (ranked)
    changes: list[dict[str, Any]] = field(default_factory=list)
    linked_changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # firing notifications muted, by reason ("change:<id>" with a recurring window's "@<start>" left out)
    muted_by: dict[str, int] = field(default_factory=dict)
    change_window_of: dict[str, str] = field(default_factory=dict)  # incident -> annotate window it opened in

    def __post_init__(self) -> None:
        self.router = Router(self.rule_set, self.default_group_by)
        self._group_rules = {r.name: r for r in (self.rule_set.groups if self.rule_set is not None else ())}
        self._defined = {a.name: a for a in (self.rule_set.actions if self.rule_set is not None else ())}
        # the cause index's live keys, told of every write (``_apply``): a long replay's index keeps every key
        self._live = LiveKeys(self.cause_index, self.router.causes.longest_grace)
        self._causes = Causes(self.router.causes, self.cause_index, self._live) if self.router.causes else None
        self._contexts: dict[int, tuple[Route | None, Context]] = {}  # id(route) -> (route, its context unmuted)

    def _context(self, state: GroupState, now: float) -> Context:
        muter = self._muter(now)
        if muter is not None:
            return self.router.context(state.route, muter, self._causes)
        # nothing mutes: the context of a route is the same at every instant (its causes read the live index)
        route, context = self._contexts.get(id(state.route), (None, None))
        if route is not state.route or context is None:
            context = self.router.context(state.route, None, self._causes)
            self._contexts[id(state.route)] = (state.route, context)  # the route kept: its id stays its own
        return context

    def _muter(self, now: float) -> _Counting | None:
        """Silences, maintenance windows and the change windows open at ``now``; None when nothing can mute."""
        if not (self.silences or self.router.maintenance or self.change_windows or self.router.change_windows):
            return None
        catalog = self.router.catalog

        def service_of(labels: Mapping[str, str]) -> str:
            bound = catalog.bind(labels)
            return bound.service if bound is not None else ""

        open_windows = change_windows_at(self.change_windows, self.router.change_windows, now)
        windows = WindowMuter(open_windows, now, service_of) if open_windows else None
        muter = Muter(self.silences, self.router.maintenance, now, windows)
        return _Counting(muter, self.muted_by) if muter else None

    def advance(self, now: float) -> None:
        """Fire every timer due by ``now``, in due order, each at its due time (as the shared index would)."""
        while self._heap and self._heap[0][0] <= now:
            at, member = heapq.heappop(self._heap)
            if self.timers.get(member) != at:
                continue  # rescheduled or already fired
            del self.timers[member]
            kind, gid, arg = parse_timer(member)
            state = self.groups.get(gid)
            if state is not None:
                if kind == "merge":  # as the store reads it for a merge timer: the incident's member set
                    state.incident_members = {arg: frozenset(self.members.get(arg, ()))}
                self._apply(decide_timer(state, member, at, self._context(state, at)), at)

    def feed(self, alert: Alert, now: float) -> None:
        self.advance(now)
        alert = self.router.enrich(alert) if self.router.enrich else alert
        group = self.router(alert.labels)
        state = self.groups.get(group.id)
        if state is None:
            state = self.groups[group.id] = GroupState(group.id, group.key, group.labels, route=group.route)
        self._apply(decide(state, [alert], now, context=self._context(state, now)), now)

    def add_change(self, change: dict[str, Any], now: float) -> None:
        """A change event arrives: kept, and linked to the open incidents that watch its service (as the worker's
        ``ChangeStore.link_arrived`` does)."""
        self.advance(now)
        if not change.get("window"):  # inside a change window on its service: linked to it (ChangesService.handle)
            windows = change_windows_at(self.change_windows, self.router.change_windows, float(change["at"]))
            window = window_of(windows, change["service"], float(change["at"]))
            if window:
                change = {**change, "window": window}
        self.changes.append(change)
        catalog = self.router.catalog
        for incident in self.all_incidents.values():
            if incident.is_open and incident.service:
                self._link(incident, [change], catalog.lookback(incident.rule, DEFAULT_LOOKBACK))

    def _link(self, incident: Incident, changes: list[dict[str, Any]], lookback: float) -> None:
        symptoms = [self.router.catalog.service(s.labels) for s in self.symptoms_of(incident.id)]
        found = probable_causes(self.router.catalog, incident.service, symptoms, incident.created_at, lookback,
                                changes)
        if found:
            self.linked_changes[incident.id] = rank([*self.linked_changes.get(incident.id, []), *found])
            incident.changes = self.linked_changes[incident.id]  # its later events carry them, as the store's do

    def resolve(self, title: str, now: float, who: str) -> bool:
        """A person resolves the open incident with this title; False when there is none."""
        self.advance(now)
        for state in self.groups.values():
            for incident in [state.incident, *state.older.values()]:
                if incident is not None and incident.is_open and incident.title == title:
                    self._apply(decide_manual_resolve(state, incident.id, now, who), now)
                    return True
        return False

    def acknowledge(self, title: str, now: float) -> bool:
        """A person acknowledges the open incident with this title (the simulation keeps when, for its SLA)."""
        self.advance(now)
        for incident in self.incidents():
            if incident.is_open and incident.title == title:
                self.acknowledged.setdefault(incident.id, now)
                return True
        return False

    def _apply(self, decision: Decision, now: float) -> None:
        """What the store and the follow-ups do after a decision is written."""
        self.muted += decision.stats.muted
        self.duplicates += decision.stats.duplicates
        self.all_incidents.update(decision.incidents)
        for iid, entries in decision.timeline.items():
            for entry in entries:
                if entry.get("kind") == "change_window":  # "opened during change window <id> (annotate)"
                    text = str(entry["text"]).removeprefix("opened during change window ")
                    self.change_window_of.setdefault(iid, text.rpartition(" (")[0])
        for n, event in enumerate(decision.events):
            rule = self._group_rules.get(event.incident.get("rule", ""))
            if rule is not None and rule.actions:
                built = incident_change(f"{decision.group_id}:{now!r}:{n}", event.routing_key, event.reason,
                                        event.at, event.incident)
                parsed = IncidentEvent.model_validate(built)
                for run in planned_runs(rule.actions, self._defined, parsed):
                    self.actions_started.append((run.action, event.incident_id, run.trigger))
        if decision.events:
            self.merged += sum(e.routing_key == "incident.merged" for e in decision.events)
        for incident_id, fps in decision.new_members.items():
            self.members.setdefault(incident_id, set()).update(fps)
        if decision.sources or decision.candidates:  # (most decisions change neither: the replay's hot path)
            _record(self.cause_index, decision.sources)
            self._live.changed({key for key, *_ in decision.sources})
            _record(self.candidate_index, decision.candidates)
            for incident_id in to_check(decision.sources, decision.candidates, self.candidate_index,
                                        self.cause_index):
                self._schedule(merge_timer(incident_id), now)  # due now: fires at the next advance
            for group_id, fp in to_replace(decision.sources, self.candidate_index):
                self._schedule(hold_timer(group_id, fp), now)  # a better cause may have appeared: place it again
        for member, due in decision.timers:
            self._schedule(member, due)
        occurrences: list[Occurrence] = []
        for r in decision.recurrences:
            occurrences.append(recurrence_occurrence(self.router.problem_rules[r.rule], r.signature, r.incident, r.at))
        gained: set[str] = set()  # incidents that gained symptoms (their services' changes are linked below)
        for s in decision.symptoms + self._rehomed(decision):
            attached = self.symptoms.setdefault(s.cause_incident, {})
            if (s.group_id, s.fingerprint) in attached:
                continue
            attached[(s.group_id, s.fingerprint)] = s
            gained.add(s.cause_incident)
            self.symptom_count += 1
            for problem_rule in self.router.shared_cause:
                services = self.router.symptom_services(problem_rule, [x.labels for x in attached.values()])
                o = shared_cause_occurrence(problem_rule, s.cause_incident, services, now,
                                            self._title(s.cause_incident))
                if o is not None:
                    occurrences.append(o)
        if self.changes:  # probable causes, as the worker's link_opened and link_symptoms find them
            for iid in [*decision.opened, *sorted(gained - set(decision.opened))]:
                incident = self.all_incidents.get(iid)
                if incident is not None and incident.is_open and incident.service:
                    self._link(incident, self.changes, self.router.catalog.lookback(incident.rule, DEFAULT_LOOKBACK))
        for o in occurrences:
            change = self.problem_book.record(o)
            if change.outcome in ("created", "linked") and change.problem is not None:
                self.problem_events.append((f"problem.{change.outcome}", change.problem.id))
                kind = "created" if change.outcome == "created" else "updated"
                self._problem_actions(change.problem, kind, f"{change.problem.id}:{kind}:{o.incident}", now)

    def _rehomed(self, decision: Decision) -> list[Symptom]:
        """The symptoms of the incidents this decision merged, for the incidents they merged into (as ``Links``)."""
        merges = {e.incident_id: e.incident["merged_into"] for e in decision.events
                  if e.routing_key == "incident.merged"}
        if not merges:
            return []
        attached = {m: [s.public() for s in self.symptoms.get(m, {}).values()] for m in merges}
        return [Symptom.from_public(doc) for doc in rehomed(merges, attached, [s.public() for s in decision.symptoms])]

    def _schedule(self, member: str, due: float) -> None:
        self.timers[member] = due
        heapq.heappush(self._heap, (due, member))

    def set_problem_status(self, title: str, status: str, now: float) -> bool:
        """A person moves the problem with this title on (known_error, resolved); False when there is none."""
        self.advance(now)
        for problem in self.problems():
            if problem.title == title and problem.is_open:
                self.problem_book.set_status(problem.id, status, now)
                self._problem_actions(problem, status, f"{problem.id}:{status}", now)
                return True
        return False

    def _problem_actions(self, problem: Problem, kind: str, event_id: str, now: float) -> None:
        rule = self.router.problem_rules.get(problem.rule)
        if rule is None or not rule.actions:
            return
        event = ProblemEvent.model_validate(problem_event(event_id, f"problem.{kind}", "", now, problem.public()))
        for run in problem_runs(rule.actions, self._defined, event):
            self.actions_started.append((run.action, problem.id, run.trigger))

    def _title(self, incident_id: str) -> str:
        incident = self.all_incidents.get(incident_id)
        return incident.title if incident is not None else ""

    def incidents(self) -> list[Incident]:
        """Every incident so far, oldest first."""
        return sorted(self.all_incidents.values(), key=lambda i: (i.created_at, i.id))

    def problems(self) -> list[Problem]:
        return sorted(self.problem_book.problems.values(), key=lambda p: (p.created_at, p.id))

    def symptoms_of(self, incident_id: str) -> list[Symptom]:
        return sorted(self.symptoms.get(incident_id, {}).values(), key=lambda s: (s.at, s.fingerprint))


def _record(index: dict[str, dict[str, Entry]], updates: Sequence[IndexUpdate]) -> None:
    """Index updates as ``cause_update.lua`` applies them: the newest stamp of each fingerprint wins."""
    for key, fp, stamp, tail in updates:
        entries = index.setdefault(key, {})
        if fp not in entries or entries[fp].stamp < stamp:
            entries[fp] = Entry.of_tail(stamp, tail)


class _Counting:
    """A muter that also counts what it mutes, by reason (a recurring change window's occurrence under its name):
    ``decide`` asks once per firing alert it places, and counts a mute exactly then."""

    def __init__(self, muter: Muter, counts: dict[str, int]) -> None:
        self.muter = muter
        self.counts = counts
        self.until = muter.until
        self.annotation = muter.annotation

    def __bool__(self) -> bool:
        return bool(self.muter)

    def __call__(self, labels: Mapping[str, str]) -> str:
        reason = self.muter(labels)
        if reason:
            key = reason.partition("@")[0]
            self.counts[key] = self.counts.get(key, 0) + 1
        return reason
