"""Request bodies (strict: unknown keys are errors) and the documented response shapes of the API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from events.models import ProblemDoc, SilenceDoc
from rules.scalars import EPOCH_LATEST
from rules.schema_types import PriorityName

#: a time a request gives: finite epoch seconds from 1970 (JSON has no NaN, but "nan" and 1e400 would coerce)
EpochSeconds = Annotated[float, Field(ge=0, lt=EPOCH_LATEST, allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NoteBody(Strict):
    """Optional body of acknowledge / resolve / reopen."""

    comment: str = Field(default="", max_length=2000)


class AssignBody(Strict):
    assignee: str = Field(max_length=200, description="Who takes it; empty to unassign.")


class CommentBody(Strict):
    text: str = Field(min_length=1, max_length=10_000)


class PriorityBody(Strict):
    priority: PriorityName


class HoldBody(Strict):
    reason: str = Field(max_length=2000, description="Why it waits (a vendor, a change); empty to take it off hold.")


class SilenceBody(Strict):
    matchers: list[str] = Field(min_length=1, description='Alertmanager matchers, e.g. service="orders-db".')
    comment: str = Field(min_length=1, max_length=2000)
    duration: str | None = Field(default=None, description="e.g. 2h; or give ends_at.")
    starts_at: EpochSeconds | None = Field(default=None, description="Epoch seconds; default now.")
    ends_at: EpochSeconds | None = Field(default=None, description="Epoch seconds.")


class ChangeWindowBody(Strict):
    services: list[str] = Field(default=[], description="services it covers (alerts bound to them by the catalog)")
    matchers: list[str] = Field(default=[], description='and/or Alertmanager matchers, e.g. cluster="eu-1"')
    mode: Literal["mute", "annotate"] = "mute"
    summary: str = Field(default="", max_length=2000)
    duration: str | None = Field(default=None, description="e.g. 2h; or give ends_at.")
    starts_at: EpochSeconds | None = Field(default=None, description="Epoch seconds; default now.")
    ends_at: EpochSeconds | None = Field(default=None, description="Epoch seconds.")


class ChangeWindow(BaseModel):
    id: str
    starts_at: float
    ends_at: float
    mode: str
    services: list[str]
    matchers: list[str]
    summary: str
    created_by: str
    created_at: float
    state: str


class Error(BaseModel):
    error: str
    detail: str
    field: str | None = None
    reason: str | None = Field(default=None, description="401/403/429 only: no_tokens_configured, missing_token, "
                               "malformed, unknown_token, role (or, for signed ingest, a signature problem); "
                               "too_many_failures (429)")


class Whoami(BaseModel):
    name: str
    role: Literal["ingest", "read", "respond", "admin"]
    capabilities: list[str]


class IngestAnswer(BaseModel):
    status: str
    accepted: int | None = None
    error: str | None = None
    rejected: list[dict[str, Any]] | None = Field(default=None, description="index, field, reason, detail")


class PagerDutyAnswer(BaseModel):
    status: str
    message: str
    dedup_key: str | None = None
    errors: list[str] | None = None


class Incident(BaseModel):
    id: str
    title: str
    status: Literal["open", "acknowledged", "resolved"]
    severity: str
    priority: str
    team: str
    rule: str
    group_key: str
    group_labels: dict[str, str]
    created_at: float
    updated_at: float
    resolved_at: float | None
    resolve_at: float | None
    alerts: int
    firing: int
    occurrences: int
    why: dict[str, Any]
    service: str = Field("", description="the service it is about: its first alert's binding (docs/services.md), "
                                         "or the one named when it was declared")
    binding: str = Field("", description="what bound it: binding:<rule> or label:<label name>")
    business_services: list[str] = Field([], description="business services it affects (impact roll-up)")
    changes: list[dict[str, Any]] | None = Field(None, description="probable causes: linked changes, best first")
    assignee: str | None
    acknowledged_by: str | None
    acknowledged_at: float | None
    resolved_by: str | None
    reopened_by: str | None
    declared: bool | None = Field(None, description="declared incidents only, like the fields below")
    reporter: str | None = None
    description: str | None = None
    impact: str | None = None
    urgency: str | None = None
    also_reported_by: list[str] | None = None
    ticket: str | None = Field(None, description="<system>:<reference> of its ticket, once the ticket action made one")
    major: bool | None = Field(None, description="major incidents only, like the fields below")
    major_at: float | None = None
    commander: str | None = None
    communications_lead: str | None = None
    update_state: str | None = None
    status_updates: int | None = None
    last_update_at: float | None = None
    on_hold: str | None = Field(default=None, description="why it is on hold; null when not")
    sla: list[dict[str, Any]] = Field(default=[], description="its SLA records (docs/service-levels.md): kind, "
                                      "policy, priority, target, calendar, started, pauses, stage, met_at, "
                                      "breached_at, due, time_left (seconds until due; null when met, breached "
                                      "or paused), paused")
    sla_stage: Literal["ok", "at_risk", "breached", "none"] = Field(
        default="none", description="breached (a record breached), at_risk (one warned), ok, none (no SLA)")


class IncidentDetail(Incident):
    members: list[dict[str, Any]]
    timeline: list[dict[str, Any]] = Field(description="at, kind, text, by (people's changes), fingerprint")
    symptoms: list[dict[str, Any]] = Field(default=[], description="alerts of other groups it explains: labels, "
                                                                    "kind (topology|inhibition|attached), path, rule, "
                                                                    "at, by (attached)")
    actions: list[dict[str, Any]] = Field(default=[], description="its action runs, newest first (up to 50)")


class ServiceIncident(BaseModel):
    id: str
    title: str
    status: str
    priority: str
    team: str
    service: str
    binding: str
    business_services: list[str]
    created_at: float


class Service(BaseModel):
    name: str
    known: bool = Field(description="false: named by alerts (their service label) but not in the catalog")
    description: str
    owner: str = Field(description="owner team (topology.teams)")
    tier: int | None = Field(description="1 (most critical) .. 4")
    business_services: list[str] = Field(description="business services it supports directly")
    affects: list[str] = Field(description="business services an incident on it affects (its own and its "
                                           "dependants')")
    links: dict[str, str] = Field(description="runbook, dashboard, repository")
    support_hours: str = Field(description="a calendar name")
    depends_on: list[str]
    dependants: list[str]
    health: Literal["operational", "degraded", "outage"]
    open_incidents: list[ServiceIncident]
    changes: list[dict[str, Any]] = Field([], description="its recent changes, newest first (detail only)")


class ServiceList(BaseModel):
    items: list[Service]
    truncated: bool = Field(description="health read from the newest 5000 open incidents only")


class BusinessService(BaseModel):
    name: str
    description: str
    owner: str
    services: list[str] = Field(description="catalog services supporting it directly")
    health: Literal["operational", "degraded", "outage"]
    open_incidents: list[ServiceIncident]


class BusinessServiceList(BaseModel):
    items: list[BusinessService]
    truncated: bool


class ChangeBody(BaseModel):
    """A change event (docs/changes.md); unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, description="idempotency: the same id on the same service is stored once "
                                             "(default: made up)")
    summary: str = Field(description="what changed, at most 1024 characters")
    service: str = Field(description="the service it changed (unknown services are accepted and kept)")
    environment: str | None = None
    kind: Literal["deploy", "config", "infrastructure", "feature-flag"] = "deploy"
    source: str | None = Field(None, description="what sent it (a CI system, a host)")
    at: str | float | None = Field(None, description="when it happened: RFC 3339 or epoch seconds (default: now)")
    links: list[dict[str, str]] = Field([], description="{href, text}, at most 20")
    custom_details: dict[str, Any] = Field({}, description="anything else, at most 16 KiB as JSON")


class ChangeAnswer(BaseModel):
    status: str
    id: str
    service: str


class PagerDutyChangeAnswer(BaseModel):
    status: str = Field(description='"success", or "invalid event"')
    message: str
    id: str | None = None
    errors: list[str] | None = None


class Change(BaseModel):
    id: str
    service: str
    summary: str
    at: float
    kind: str
    environment: str
    source: str
    links: list[dict[str, str]]
    custom_details: dict[str, Any]
    received_at: float
    window: str


class ChangeList(BaseModel):
    items: list[Change]


class IncidentPage(BaseModel):
    items: list[Incident]
    next_cursor: str | None


class CommandAnswer(BaseModel):
    incident: Incident
    changed: bool
    event_published: bool


class Silence(SilenceDoc):
    # the event contract's silence (one definition), documented as a response: not strict, extra keys allowed
    model_config = ConfigDict(extra="ignore", strict=False, frozen=False)


class ActionsMode(BaseModel):
    mode: Literal["none", "live", "shadow", "dry-run"] = Field(
        description="none: no action rules; shadow: STORMWATCH_ACTIONS_SHADOW (recorded, nothing runs); dry-run: "
                    "every action has dry_run; live: at least one action runs for real")
    summary: str = Field(description="The mode, naming a mixed set: 'live (2 dry-run)'.")
    actions: int
    dry_run: int


class RulesSummary(BaseModel):
    source: str = Field(description="STORMWATCH_RULES: none, examples or the rules directory.")
    files: list[str]
    groups: list[dict[str, Any]]
    counts: dict[str, int]
    kinds: dict[str, int] = Field(description="Rules by kind: group, cause (inhibit rules and topology services), "
                                              "problem, action.")
    actions_mode: ActionsMode


class RuleErrors(BaseModel):
    valid: bool
    errors: list[str]


class LinkBody(Strict):
    """Body of a problem's link / unlink."""

    incident: str = Field(min_length=1, max_length=200, description="An incident id, e.g. INC-8013e334484b-1.")


class PreviewBody(Strict):
    matchers: list[str] = Field(min_length=1, max_length=50,
                                description='Alertmanager matchers, e.g. service="orders-db".')


class Problem(ProblemDoc):
    # the event contract's problem (one definition), documented as a response: not strict, extra keys allowed
    model_config = ConfigDict(extra="ignore", strict=False, frozen=False)


class ProblemDetail(Problem):
    timeline: list[dict[str, Any]] = Field(description="at, kind, text, by (people's changes), incident")
    linked_incidents: list[Incident]


class ProblemPage(BaseModel):
    items: list[Problem]
    next_cursor: str | None


class ProblemAnswer(BaseModel):
    problem: Problem
    changed: bool
    event_published: bool


class ActionRun(BaseModel):
    model_config = ConfigDict(extra="allow")

    run_id: str
    state: str
    action: str | None = None
    type: str | None = None
    incident: str | None = None


class ActionRunList(BaseModel):
    items: list[ActionRun]


class DecisionAnswer(BaseModel):
    run: ActionRun
    event_published: bool = False


class PreviewMatch(BaseModel):
    incident: str
    fingerprint: str
    labels: dict[str, str]
    status: str


class PreviewAnswer(BaseModel):
    matched: list[PreviewMatch]
    incidents_scanned: int
    truncated: bool = Field(description="True when more open incidents exist than were scanned")


class HistoryIncident(BaseModel):
    """An incident as the history holds it (docs/history.md): the latest state its events gave, and first times."""

    id: str
    title: str
    status: str
    severity: str
    priority: str
    rule: str
    team: str
    service: str
    group_key: str
    group_labels: dict[str, str]
    created_at: float
    updated_at: float
    resolved_at: float | None
    first_acknowledged_at: float | None
    first_resolved_at: float | None
    alerts: int
    occurrences: int
    symptoms: int
    assignee: str | None
    acknowledged_by: str | None
    resolved_by: str | None


class HistoryPage(BaseModel):
    incidents: list[HistoryIncident]
    more: bool = Field(description="more incidents match: raise limit or offset, or narrow the search")


class HistoryIncidentDetail(HistoryIncident):
    model_config = ConfigDict(extra="allow")

    members: list[dict[str, Any]] = Field(description="member alerts: fingerprint, status, labels, first_seen, "
                                                      "last_seen, notifications, flapping")
    symptom_alerts: list[dict[str, Any]] = Field(description="alerts of other groups attached as symptoms")
    timeline: list[dict[str, Any]] = Field(description="one entry per event: at, type, by, reason, event_id")
    runs: list[dict[str, Any]]
    problems: list[str]
class ReportFigure(BaseModel):
    value: float | None
    previous: float | None
    change: float | None
    relative_change: float | None


class Report(BaseModel):
    """A report over the history (docs/reports.md defines each figure)."""

    window: dict[str, Any]
    business_hours: str
    figures: dict[str, ReportFigure]
    series: list[dict[str, Any]]
    by_team: list[dict[str, Any]]
    by_service: list[dict[str, Any]]
    by_priority: list[dict[str, Any]]
    alerts: dict[str, list[dict[str, Any]]]
    automation: dict[str, Any]
    problems: list[dict[str, Any]]
    not_recorded: dict[str, str]
    major_incidents: dict[str, Any] = Field(default_factory=dict, description=(
        "major incidents (issue 21): figures (each value, previous, change, relative_change) and incidents"))
    muted: dict[str, Any] = Field(default_factory=dict, description=(
        "muted notifications (issue 17): figures (each value, previous, change, relative_change), the top "
        "reasons (reason, kind, name, notifications, previous, change), filtered (the report's priority filter was "
        "set: it does not apply here, a muted notification opening no incident; team and service do apply)"))


class ReportCharts(BaseModel):
    window: dict[str, Any]
    charts: dict[str, str] = Field(description="chart name -> SVG document (no script, labels escaped)")
#: an alert's fingerprint: Alertmanager's 16 hex digits, or a sender's own key (PagerDuty's dedup_key)
Fingerprint = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._:@/+=-]+$")]


class DeclareBody(Strict):
    """``POST /api/v1/incidents``: a person declares an incident (issue 21)."""

    title: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")
    service: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f\"\\{}]+$",
                         description="The service it is about; a second report while one is open for it joins it.")
    description: str = Field(default="", max_length=10_000)
    impact: Literal["high", "medium", "low"] = "medium"
    urgency: Literal["high", "medium", "low"] = "medium"
    team: str = Field(default="", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
    reporter: str = Field(default="", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$",
                          description="Who reports it; default the API token's name.")
    alerts: list[Fingerprint] = Field(default_factory=list, max_length=100,
                              description="Fingerprints of alerts (members of open incidents) to attach.")
    major: bool = False


class AlertLinkBody(Strict):
    """``POST /api/v1/incidents/{id}/attach`` and ``/detach``."""

    fingerprint: Fingerprint


class DeclareAnswer(BaseModel):
    incident: Incident
    joined: bool = Field(description="true: an incident was open for the service; the report joined it")
    event_published: bool
    not_attached: list[str] | None = Field(None, description="alerts whose incident closed between the check and "
                                                             "the attachment (rare)")


PersonName = Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


class MajorBody(Strict):
    """``POST /api/v1/incidents/{id}/major``: promote to a major incident, optionally naming its roles."""

    commander: PersonName = ""
    communications_lead: PersonName = ""
    comment: str = Field(default="", max_length=2000)


class RolesBody(Strict):
    """``POST /api/v1/incidents/{id}/roles``: a major incident's roles (a field left out is unchanged; "" unassigns)."""

    commander: PersonName | None = None
    communications_lead: PersonName | None = None


class StatusUpdateBody(Strict):
    """``POST /api/v1/incidents/{id}/updates``: a stakeholder status update on a major incident."""

    text: str = Field(min_length=1, max_length=5000)
    state: Literal["investigating", "identified", "monitoring", "resolved"] = "investigating"


class StatusUpdateAnswer(BaseModel):
    incident: Incident
    update: dict[str, Any] = Field(description="number, state, text, by, at")
    event_published: bool


class ShareAnswer(BaseModel):
    url: str = Field(description="the status page: /status/{id}?token=... (read-only, this incident only)")
    token: str
