"""The payload of every event on ``<ns>.events``, as pydantic models: the contract's one definition.

Producers build events with ``events.builders`` (plain dicts: the hot path builds one per incident change and
pays nothing for validation); these models give the JSON Schema (``docs/events.schema.json``) and let tests check
that every builder, and every event a real worker publishes, matches. ``extra="forbid"`` so a field added to a
producer without its model fails those tests instead of drifting out of the documentation.

Consumers that read events leniently (the action runner) use ``events.consumed``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from events.types import (
    ActionType, AlertType, ChangeIncidentType, CommandIncidentType, EscalationIncidentType, MergedIncidentType,
    ProblemType, PromotedIncidentType, RulesType, SilenceType, SlaCrossingType, SlaMetType, StatusUpdateType,
)

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class ChangeLinkDoc(BaseModel):
    """A change linked to an incident as a probable cause (``docs/changes.md``), best first."""

    model_config = _STRICT

    id: str
    service: str
    summary: str
    kind: Literal["deploy", "config", "infrastructure", "feature-flag"]
    at: float = Field(description="when the change happened")
    environment: str
    source: str
    links: list[dict[str, str]]
    relation: Literal["same_service", "dependency", "symptom"] = Field(
        description="the incident's own service, something it depends on, or a service of its symptoms")
    distance: int = Field(description="dependency distance from the incident's service (0: the same service)")
    reason: str = Field(description="why it is linked, in words")
    window: str = Field("", description="the change window it happened in, if any")


class IncidentDoc(BaseModel):
    """An incident as the API shows it (``correlation.core.model.Incident.public()``); the people's fields appear on the
    events of people's commands (``incident.acknowledged`` and the rest)."""

    model_config = _STRICT

    id: str = Field(description="INC-<group>-<n>")
    title: str
    status: Literal["open", "acknowledged", "resolved"]
    severity: str
    group_key: str
    group_labels: dict[str, str]
    created_at: float
    updated_at: float
    resolved_at: float | None
    alerts: int = Field(description="member alerts (fingerprints)")
    firing: int = Field(description="members firing now")
    occurrences: int = Field(description="notifications received for members while attached")
    rule: str = Field(description="the group rule that formed it")
    team: str = Field(description="assignment group")
    priority: str = Field(description="P1..P5, or empty when the rule sets no impact/urgency")
    why: dict[str, Any] = Field(description="why the alerts were grouped: rule, matchers, group_by, group labels")
    resolve_at: float | None = Field(description="auto_resolve after_hold: when it resolves unless an alert fires")
    flapping: int = Field(description="members flapping now")
    symptoms: int = Field(description="alerts of other groups attached as symptoms")
    merged_into: str = Field("", description="the incident it merged into when a late cause explained all its "
                                             "alerts (empty otherwise)")
    service: str = Field("", description="the service it is about: its first alert's binding (docs/services.md), "
                                         "or the one named when it was declared")
    binding: str = Field("", description="what bound it: binding:<rule> or label:<label name>")
    business_services: list[str] = Field([], description="business services it affects (impact roll-up)")
    changes: list[ChangeLinkDoc] | None = Field(None, description="probable causes: changes linked to it, best "
                                                               "first (docs/changes.md), on every event of the "
                                                               "incident once it has any; absent when none")
    assignee: str | None = Field(None, description="people's commands only, like the four below")
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    resolved_by: str | None = None
    reopened_by: str | None = None
    declared: bool | None = Field(None, description="true on an incident a person declared (absent otherwise, like "
                                                    "the five below and also_reported_by)")
    reporter: str | None = Field(None, description="who reported the declared incident")
    description: str | None = None
    impact: Literal["high", "medium", "low"] | None = None
    urgency: Literal["high", "medium", "low"] | None = None
    also_reported_by: list[str] | None = Field(None, description="people who reported it again while it was open")
    ticket: str | None = Field(None, description="<system>:<reference> of its ticket (the ticket action's; absent "
                                                 "until one exists)")
    major: bool | None = Field(None, description="true on a major incident (absent otherwise, like the six below)")
    major_at: float | None = Field(None, description="when it was declared or promoted major")
    commander: str | None = Field(None, description="the incident commander (empty until assigned)")
    communications_lead: str | None = Field(None, description="the communications lead (empty until assigned)")
    update_state: str | None = Field(None, description="the state its latest stakeholder update gave")
    status_updates: int | None = Field(None, description="stakeholder updates published so far")
    last_update_at: float | None = Field(None, description="when the latest was published")
    on_hold: str | None = Field(None, description="why people put it on hold (its SLA clock may stop); null when "
                                                  "not on hold")


class ProblemDoc(BaseModel):
    """A problem (``correlation.core.problems.Problem.public()``)."""

    model_config = _STRICT

    id: str = Field(description="PRB-<signature>-<n>")
    rule: str
    title: str
    status: Literal["open", "known_error", "resolved"]
    created_at: float
    updated_at: float
    team: str
    signature: dict[str, str]
    incidents: list[str]
    why: dict[str, Any]
    created_by: str = Field(description="the incident whose arrival opened it (empty when unknown)")
    resolved_at: float | None


class SilenceDoc(BaseModel):
    """A silence (``correlation.core.muting.Silence.public(now)``)."""

    model_config = _STRICT

    id: str
    matchers: list[str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float
    state: Literal["pending", "active", "expired"]


class RunDoc(BaseModel):
    """An action run as stored, every value a string; more fields appear as the run goes on (``attempts``,
    ``detail``, ``decided_by``, ``problem`` for a problem's action, ...)."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    __pydantic_extra__: dict[str, str] = Field(init=False)  # extra fields: strings too

    run_id: str
    incident: str = Field(description="the incident, or empty for a problem's action")
    action: str
    type: str
    rule: str
    trigger: str
    event_id: str
    state: str = Field(description="running, retrying (an attempt failed retryably; the next is due at retry_at), "
                       "succeeded, failed, skipped, pending_approval, approved, rejected or expired")


class ActionModeDoc(BaseModel):
    model_config = _STRICT

    mode: Literal["none", "live", "shadow", "dry-run"]
    summary: str
    actions: int
    dry_run: int


class RuleGroupDoc(BaseModel):
    model_config = _STRICT

    name: str
    team: str | None


class RulesDoc(BaseModel):
    """What is loaded (``GET /api/v1/rules``)."""

    model_config = _STRICT

    source: str
    kinds: dict[str, int]
    actions_mode: ActionModeDoc
    files: list[str]
    groups: list[RuleGroupDoc]
    counts: dict[str, int]


class EventEnvelope(BaseModel):
    """The fields every event has."""

    model_config = _STRICT

    event_id: str = Field(min_length=1, description="stable across redeliveries (also the AMQP message id): "
                                                    "drop repeats by it")
    schema_version: Literal[1] = Field(description="bumped only when a field is removed, renamed or changes meaning")
    reason: str = Field(description="why, in words")
    at: float = Field(description="when, in seconds since the epoch")


class IncidentEvent(EventEnvelope):
    type: Literal[ChangeIncidentType, CommandIncidentType, PromotedIncidentType]
    by: str | None = Field(None, description="who, on people's commands (absent on the engine's own changes)")
    incident: IncidentDoc


class IncidentMergedEvent(EventEnvelope):
    """``incident.merged``: a cause that fired after ``incident`` opened explains all its alerts; they are symptoms of
    ``into`` now and ``incident`` is resolved (its ``incident.resolved`` went out just before)."""

    type: MergedIncidentType
    incident: IncidentDoc = Field(description="the incident that merged (resolved; merged_into names into)")
    into: str = Field(description="the cause's incident, which took its alerts as symptoms")


class StatusUpdateDoc(BaseModel):
    """One stakeholder status update on a major incident."""

    model_config = _STRICT

    number: int = Field(ge=1, description="1, 2, ... per incident")
    state: Literal["investigating", "identified", "monitoring", "resolved"]
    text: str
    by: str = Field(description="who published it (the API token's name)")
    at: float


class StatusUpdateEvent(EventEnvelope):
    """``incident.status_update``: a stakeholder update on a major incident (issue 21); ``reason`` is its text. A
    trigger: notify actions ``on: [status_update]`` send each one (once per event)."""

    type: StatusUpdateType
    by: str
    incident: IncidentDoc
    update: StatusUpdateDoc
class SlaDoc(BaseModel):
    """One SLA record of an incident (``correlation.core.service_levels.SlaRecord``), as its event carries it."""

    model_config = _STRICT

    kind: Literal["respond", "resolve"] = Field(description="respond: until acknowledged; resolve: until resolved")
    policy: str = Field(description="the service-level policy (rule files' service_levels:) that set it")
    priority: str = Field(description="the priority whose target applies")
    target: float = Field(description="the target, in seconds of the calendar's business time")
    calendar: str = Field(description="the calendar the time counts over (24x7 or a name under calendars:)")
    started: float = Field(description="when the clock started (the incident's creation)")
    pauses: list[list[float | None]] = Field(description="[start, end] wall-time intervals the clock stopped "
                                                         "(end null: still paused)")
    pause_reasons: list[str] = Field(description="why, one per pause: on_hold, maintenance, resolved")
    warnings: list[float] = Field(description="the warning fractions of the target")
    warned: int = Field(description="checkpoints crossed so far (the warnings, then the breach)")
    stage: Literal["running", "warning", "breached", "met"]
    met_at: float | None = Field(description="when it was acknowledged / resolved (also on a breached record)")
    breached_at: float | None = Field(description="when the breach was recorded")
    due: float | None = Field(description="when the target falls due given the pauses (null while paused)")


class IncidentSlaEvent(EventEnvelope):
    """``incident.sla_warning`` / ``incident.sla_breached``: an SLA record of ``incident`` crossed ``fraction`` of
    its target at ``crossed_at``; ``sla`` is the record after the crossing."""

    type: SlaCrossingType
    incident: IncidentDoc
    sla: SlaDoc
    fraction: float = Field(description="the checkpoint crossed: a warning fraction, or 1.0 for the breach")
    crossed_at: float = Field(description="when the checkpoint fell due (at is when it was fired)")


class EscalationStepDoc(BaseModel):
    """A run of an escalation step (rule files' ``escalation_policies:``), as its event carries it."""

    model_config = _STRICT

    policy: str = Field(description="the escalation policy (escalation_policies:) the incident's group rule names")
    step: int = Field(ge=1, description="the step, 1-based in the policy's order")
    run: int = Field(ge=0, description="0: the step's first run; 1, 2, ...: its repeats")
    runs: int = Field(ge=1, description="how many runs the step has (1 + its repeat count)")
    action: str = Field(description="the action (actions:) the step starts; the action runner runs it")
    if_not: Literal["acknowledged", "resolved"] = Field(description="the step runs while the incident is not this")
    due: float = Field(description="when the run fell due (the incident's opening + after + run x interval)")
    missed: int = Field(0, ge=0, description="earlier runs of the step decided with this one without starting "
                                             "anything (no worker was polling when they fell due)")


class IncidentEscalationEvent(EventEnvelope):
    """``incident.escalation_step``: a step of ``incident``'s escalation policy fell due while the incident was not
    acknowledged (or not resolved) and started its action: the action runner runs ``escalation.action`` once per
    (incident, policy, step, run), with the action's safety checks."""

    type: EscalationIncidentType
    incident: IncidentDoc
    escalation: EscalationStepDoc


class IncidentSlaMetEvent(EventEnvelope):
    """``incident.sla_met``: an SLA record of ``incident`` was met (``sla.met_at``): stage ``met``, or ``breached``
    when it was met late. Published once per meeting (a reopened and resolved again ``resolve`` is met again), so a
    history keeps every record's outcome, including records that never warned."""

    type: SlaMetType
    incident: IncidentDoc
    sla: SlaDoc


class ProblemEvent(EventEnvelope):
    type: ProblemType
    by: str | None = Field(None, description="who, on people's changes (absent when correlation made it)")
    problem: ProblemDoc


class SilenceEvent(EventEnvelope):
    type: SilenceType
    by: str
    silence: SilenceDoc


class MuteDoc(BaseModel):
    """The firing notifications one reason muted (``alert.muted``)."""

    model_config = _STRICT

    reason: str = Field(min_length=1, description="silence:<id>, maintenance:<name> or change:<id>")
    kind: Literal["silence", "maintenance", "change"]
    notifications: int = Field(ge=1)
    team: str = Field("", description="the team an incident of these alerts would have: the group rule's team, "
                      "else the owner of the alert's catalog service, else its team label, else the default team")
    service: str = Field("", description="the group label service, else the alerts' service label (as an "
                         "incident's service in the history); empty: none")


class AlertMutedEvent(EventEnvelope):
    """The firing notifications of one message in one group that a silence, a maintenance window or a change window
    kept out of incidents, by reason. Its id is ``<message id>:<group>:muted``: a redelivered message republishes
    the same id, so a consumer counts it once."""

    type: AlertType
    group: str
    mutes: list[MuteDoc] = Field(min_length=1)


class ActionEvent(EventEnvelope):
    type: ActionType
    by: str
    run: RunDoc | None = Field(description="the run after the decision (null if it was gone by then)")


class RulesEvent(EventEnvelope):
    type: RulesType
    by: str
    rules: RulesDoc


MODELS: tuple[type[EventEnvelope], ...] = (IncidentEvent, IncidentMergedEvent, IncidentSlaEvent, IncidentSlaMetEvent,
                                           IncidentEscalationEvent, StatusUpdateEvent, ProblemEvent, SilenceEvent,
                                           AlertMutedEvent, ActionEvent, RulesEvent)
AnyEvent = Annotated[IncidentEvent | IncidentMergedEvent | IncidentSlaEvent | IncidentSlaMetEvent
                     | IncidentEscalationEvent | StatusUpdateEvent | ProblemEvent | SilenceEvent | AlertMutedEvent
                     | ActionEvent | RulesEvent, Field(discriminator="type")]


def event_adapter() -> TypeAdapter[Any]:
    """Validates any event by its ``type``: ``event_adapter().validate_python(doc)`` (or ``validate_json``)."""
    return TypeAdapter(AnyEvent)
