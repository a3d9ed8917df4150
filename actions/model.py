"""Values the action runner passes around: the incident or problem event it reacts to, a planned run, an outcome."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

EVENT_TYPES = ("incident.created", "incident.updated", "incident.resolved", "incident.escalated")
INCIDENT_ID = r"^INC-[0-9a-f]+-[0-9]+$"  # what a problem's incidents must look like to be looked up


class MalformedEvent(Exception):
    """An event the runner cannot use; it is dead-lettered with ``reason`` (a stable code) and ``detail``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class EventIncident(BaseModel):
    """The part of an event's incident the runner relies on; everything else is kept for templates."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    rule: str = "default"
    priority: str = ""
    status: str = ""
    title: str = ""


class IncidentEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    event_id: str = Field(min_length=1, max_length=300)
    type: Literal["incident.created", "incident.updated", "incident.resolved", "incident.escalated"]
    reason: str = ""
    at: float = 0.0
    incident: EventIncident

    @property
    def kind(self) -> str:
        """created | updated | resolved | escalated"""
        return self.type.removeprefix("incident.")

    @classmethod
    def parse(cls, raw: Any) -> IncidentEvent:
        return _parse(cls, raw)


class EventProblem(BaseModel):
    """The part of an event's problem the runner relies on; everything else is kept for templates."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=5, max_length=200, pattern=r"^PRB-")
    rule: str = Field(min_length=1)
    status: str = ""
    title: str = ""
    team: str = ""
    signature: dict[str, str] = {}
    incidents: tuple[Annotated[str, Field(pattern=INCIDENT_ID)], ...] = ()
    created_by: Annotated[str, Field(pattern=f"^$|{INCIDENT_ID}")] = ""  # the incident whose arrival opened it

    @property
    def opened_by(self) -> str:
        """The incident templates see as ``incident``: the one that opened the problem, else its first."""
        return self.created_by or (self.incidents[0] if self.incidents else "")


class ProblemEvent(BaseModel):
    """``problem.*`` from ``<ns>.events``: ``{event_id, type, reason, at, problem: Problem.public()}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_id: str = Field(min_length=1, max_length=300)
    type: Literal["problem.created", "problem.updated", "problem.known_error", "problem.resolved"]
    reason: str = ""
    at: float = 0.0
    problem: EventProblem

    @property
    def kind(self) -> str:
        """created | updated | known_error | resolved"""
        return self.type.removeprefix("problem.")

    @classmethod
    def parse(cls, raw: Any) -> ProblemEvent:
        return _parse(cls, raw)


def _parse(model: Any, raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise MalformedEvent("invalid_event", f"{where}: {first['msg']}") from None


def parse_event(raw: Any) -> IncidentEvent | ProblemEvent:
    """An incident or a problem event, by its ``type``; MalformedEvent for anything else."""
    kind = raw.get("type") if isinstance(raw, dict) else None
    if isinstance(kind, str) and kind.startswith("problem."):
        return ProblemEvent.parse(raw)
    return IncidentEvent.parse(raw)


def run_id(subject_id: str, action: str, trigger: str) -> str:
    """One run per (incident or problem, action, trigger): the same inputs always name the same run."""
    digest = hashlib.blake2b(f"{subject_id}\x00{action}\x00{trigger}".encode(), digest_size=10).hexdigest()
    return f"R-{digest}"


@dataclass(frozen=True, slots=True)
class Planned:
    """An action the rule says to start for an event."""

    action: str
    trigger: str  # created | updated | resolved | escalated (problems: created | updated | known_error | resolved)
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
