"""How a consumer reads the events that may start an action: lenient views of the contract's incident and problem
events (``events.models``), keeping only what the action runner relies on checked and everything else for templates.

Lenient on purpose: a view accepts events published before ``schema_version`` existed and fields added later;
what it does check (ids, types, a problem's incidents) fails as ``MalformedEvent`` with a stable reason, which the
runner dead-letters.
"""

from __future__ import annotations

from typing import Annotated, Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events.types import EscalationIncidentType, ProblemType, TriggerIncidentType

INCIDENT_ID = r"^INC-[0-9a-f]+-[0-9]+$"  # what a problem's incidents must look like to be looked up
View = TypeVar("View", bound=BaseModel)


class MalformedEvent(Exception):
    """An event a consumer cannot use; the runner dead-letters it with ``reason`` (a stable code) and ``detail``."""

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


class _EventView(BaseModel):
    """What an incident and a problem event have in common as the runner reads them: ``{event_id, type, reason, at,
    <subject>}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_id: str = Field(min_length=1, max_length=300)
    type: str
    reason: str = ""
    at: float = 0.0

    @property
    def kind(self) -> str:
        """The type without its subject: ``incident.created`` -> ``created``."""
        return self.type.partition(".")[2]

    @classmethod
    def parse(cls, raw: Any) -> Self:
        return _parse(cls, raw)


class IncidentEventView(_EventView):
    """An ``incident.created|updated|resolved|escalated`` event as the runner reads it."""

    type: TriggerIncidentType
    incident: EventIncident


class EventEscalation(BaseModel):
    """The part of an escalation step's event the runner relies on (``events.models.EscalationStepDoc``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    policy: str = Field(min_length=1, max_length=200)
    step: int = Field(ge=1)
    run: int = Field(ge=0)
    action: str = Field(min_length=1, max_length=200)


class EscalationStepView(_EventView):
    """An ``incident.escalation_step`` event as the runner reads it: the step names the action to start."""

    type: EscalationIncidentType
    incident: EventIncident
    escalation: EventEscalation

    @property
    def kind(self) -> str:
        return "escalation_step"

    @property
    def trigger_key(self) -> str:
        """One run per (incident, policy, step, run), however often the event is delivered or republished."""
        e = self.escalation
        return f"escalation:{e.policy}:{e.step}:{e.run}"


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


class ProblemEventView(_EventView):
    """A ``problem.*`` event as the runner reads it: ``{event_id, type, reason, at, problem: Problem.public()}``;
    its ``kind``: created | updated | known_error | resolved."""

    type: ProblemType
    problem: EventProblem


def _parse(model: type[View], raw: Any) -> View:
    """``raw`` validated, or MalformedEvent naming the first bad field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise MalformedEvent("invalid_event", f"{where}: {first['msg']}") from None


def parse_event(raw: Any) -> IncidentEventView | ProblemEventView | EscalationStepView:
    """An incident or a problem event, by its ``type``; MalformedEvent for anything else."""
    kind = raw.get("type") if isinstance(raw, dict) else None
    if isinstance(kind, str) and kind.startswith("problem."):
        return ProblemEventView.parse(raw)
    if kind == "incident.escalation_step":
        return EscalationStepView.parse(raw)
    return IncidentEventView.parse(raw)
