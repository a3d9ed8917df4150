"""Values the action runner passes around: the incident or problem event it reacts to (the event contract's views,
``events.consumed``), a planned run, an outcome."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from events.consumed import INCIDENT_ID, EventIncident, EventProblem, MalformedEvent, parse_event
from events.consumed import IncidentEventView as IncidentEvent
from events.consumed import ProblemEventView as ProblemEvent
from events.consumed import EscalationStepView as EscalationStepEvent
from events.types import TRIGGER_INCIDENT_TYPES as EVENT_TYPES

__all__ = ["EVENT_TYPES", "INCIDENT_ID", "EscalationStepEvent", "EventIncident", "EventProblem", "IncidentEvent",
           "MalformedEvent", "Outcome", "Planned", "ProblemEvent", "SkipReason", "parse_event", "run_id"]


def run_id(subject_id: str, action: str, trigger: str) -> str:
    """One run per (incident or problem, action, trigger): the same inputs always name the same run."""
    digest = hashlib.blake2b(f"{subject_id}\x00{action}\x00{trigger}".encode(), digest_size=10).hexdigest()
    return f"R-{digest}"


@dataclass(frozen=True, slots=True)
class Planned:
    """An action the rule says to start for an event."""

    action: str
    trigger: str  # created | updated | resolved | escalated (problems: created | updated | known_error | resolved),
    # escalation_step (a step of an escalation policy)
    trigger_key: str  # the trigger, or for `updated` the event id (every update is its own trigger)
    run_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt of an executor returned."""

    ok: bool
    detail: str = ""
    retryable: bool = False
    output: dict[str, Any] = field(default_factory=dict)


SkipReason = Literal["rate_limit", "breaker", "dry_run", "approval_pending", "shadow"]
