"""Which actions an incident or problem event starts: a pure function of the rule, the defined actions and the event."""

from __future__ import annotations

from typing import Mapping, Sequence

from rules.action_schema import PRIORITIES, ActionTrigger

from actions.model import IncidentEvent, Planned, ProblemEvent, run_id


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

    ``updated`` triggers once per update event (keyed by its event id); the other kinds once per incident.
    Actions the rule names but the set does not define are ignored (``rules check`` reports them).
    """
    admitted = [t for t in triggers if meets(event.incident.priority, t.min_priority)]
    return _plan(admitted, defined, event.incident.id, event.kind, event.event_id)


def problem_runs(triggers: Sequence[ActionTrigger], defined: Mapping[str, object], event: ProblemEvent
                 ) -> list[Planned]:
    """The runs a problem event starts, in rule order: one per (problem, action, trigger).

    ``updated`` (an incident linked) triggers once per event (keyed by its event id); ``created``,
    ``known_error`` and ``resolved`` once per problem, however often the event is redelivered or published
    again. Problems have no priority: there is no minimum to meet. Undefined actions are ignored, as above.
    """
    return _plan(triggers, defined, event.problem.id, event.kind, event.event_id)


def _plan(triggers: Sequence[ActionTrigger], defined: Mapping[str, object], subject: str, kind: str, event_id: str
          ) -> list[Planned]:
    key = event_id if kind == "updated" else kind
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
