"""Which actions an incident or problem event starts: a pure function of the rule, the defined actions and the event."""

from __future__ import annotations

from typing import Any
from collections.abc import Callable, Mapping, Sequence

from rules.action_schema import ActionTrigger
from rules.schema_types import PRIORITIES
from rules.schema import RuleSet

from actions.model import EscalationStepEvent, IncidentEvent, Planned, ProblemEvent, run_id
from events.types import ACTION_KINDS, PER_EVENT_KINDS


def meets(priority: str, minimum: str | None) -> bool:
    """P1 is the highest: ``min_priority: P2`` admits P1 and P2; an incident without a priority meets no minimum."""
    if minimum is None:
        return True
    if priority not in PRIORITIES:
        return False
    return PRIORITIES.index(priority) <= PRIORITIES.index(minimum)


def planned_runs(triggers: Sequence[ActionTrigger], defined: Mapping[str, object], event: IncidentEvent
                 ) -> list[Planned]:
    """The runs an event starts, in rule order, one per run id (an action listed twice runs once per trigger).

    ``updated``, ``status_update`` and people's commands trigger once per event (keyed by its event id);
    ``resolved`` once per resolution (keyed by the incident's ``resolved_at``: an incident reopened and resolved
    again runs its ``resolved`` actions again, a redelivered event does not); the other kinds once per incident.
    Actions the rule names but the set does not define are ignored (``rules check`` reports them).
    """
    admitted = [t for t in triggers if meets(event.incident.priority, t.min_priority)]
    return _plan(admitted, defined, event.incident.id, event.kind, event.event_id,
                 resolution_key(event.kind, (event.incident.model_extra or {}).get("resolved_at")))


def resolution_key(kind: str, resolved_at: object) -> str | None:
    """The trigger key of one resolution, ``resolved@<resolved_at>``: every resolution of an incident has its own
    ``resolved_at`` and every copy of its event the same one. None (keyed ``resolved``, as before) without it."""
    if kind != "resolved" or not isinstance(resolved_at, (int, float)) or isinstance(resolved_at, bool):
        return None
    return f"resolved@{float(resolved_at)!r}"


def problem_runs(triggers: Sequence[ActionTrigger], defined: Mapping[str, object], event: ProblemEvent
                 ) -> list[Planned]:
    """The runs a problem event starts, in rule order: one per (problem, action, trigger).

    ``updated`` (an incident linked) triggers once per event (keyed by its event id); ``created``,
    ``known_error`` and ``resolved`` once per problem, however often the event is redelivered or published
    again. Problems have no priority: there is no minimum to meet. Undefined actions are ignored, as above.
    """
    return _plan(triggers, defined, event.problem.id, event.kind, event.event_id)


def escalation_run(defined: Mapping[str, object], event: EscalationStepEvent) -> Planned | None:
    """The run an escalation step starts: its action, once per (incident, policy, step, run). None when the rule set
    does not define the action (any more: ``rules check`` refuses a step naming an unknown action)."""
    action = event.escalation.action
    if action not in defined:
        return None
    return Planned(action, event.kind, event.trigger_key, run_id(event.incident.id, action, event.trigger_key))


def _plan(triggers: Sequence[ActionTrigger], defined: Mapping[str, object], subject: str, kind: str, event_id: str,
          key_of_kind: str | None = None) -> list[Planned]:
    key = event_id if kind in PER_EVENT_KINDS else (key_of_kind or kind)
    seen: set[str] = set()
    planned: list[Planned] = []
    for trigger in triggers:
        if kind not in trigger.on or str(trigger) not in defined:
            continue
        rid = run_id(subject, str(trigger), key)
        if rid not in seen:
            seen.add(rid)
            planned.append(Planned(str(trigger), kind, key, rid))
    return planned


ESCALATION_KIND = "escalation_step"  # incident.escalation_step: the step names the action, not the rule's on:
KINDS = ACTION_KINDS  # subject -> the kinds of its events that may start an action (the event contract's)


class ActionIndex:
    """Which (subject, rule) pairs start an action on which event kinds, for one rule set.

    The runner uses it to skip events cheaply; the worker uses it to send the runner only the events that can start
    something (``actionable``), so an alert storm's ``incident.updated`` events never queue ahead of a trigger."""

    def __init__(self, rule_set: RuleSet | None) -> None:
        self.rule_set = rule_set
        kinds: dict[tuple[str, str], frozenset[str]] = {}
        if rule_set is not None:
            kinds = {("incident", g.name): frozenset(k for t in g.actions for k in t.on)
                     for g in rule_set.groups if g.actions}
            kinds.update({("problem", p.name): frozenset(k for t in p.actions for k in t.on)
                          for p in rule_set.problems if p.actions})
        self.kinds = kinds

    def starts_on(self, subject: str, rule: str) -> frozenset[str]:
        return self.kinds.get((subject, rule), frozenset())

    def actionable(self, event: Mapping[str, Any]) -> bool:
        """True when the event's rule starts some action on its kind, or when the event is not one this index can
        judge (malformed events must still reach the runner, to be dead-lettered with a reason)."""
        try:
            subject, _, kind = event["type"].partition(".")
        except (KeyError, TypeError, AttributeError):
            return True
        if kind not in KINDS.get(subject, ()):
            return False  # silence.*, action.*, incident.acknowledged, ...: nothing starts on them
        if kind == ESCALATION_KIND:
            return True  # the step names its action itself
        try:
            rule = event[subject]["rule"]
        except (KeyError, TypeError):
            return True
        return not isinstance(rule, str) or kind in self.starts_on(subject, rule)


class CurrentActionIndex:
    """``actionable`` against whatever rule set is current (rebuilt when a reload swaps it)."""

    def __init__(self, rules: Callable[[], RuleSet | None]) -> None:
        self.rules = rules
        self._index = ActionIndex(None)

    def index(self) -> ActionIndex:
        rule_set = self.rules()
        if self._index.rule_set is not rule_set:
            self._index = ActionIndex(rule_set)
        return self._index

    def __call__(self, event: Mapping[str, Any]) -> bool:
        return self.index().actionable(event)
