"""Request bodies (strict: unknown keys are errors) and the documented response shapes of the API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoteBody(Strict):
    """Optional body of acknowledge / resolve / reopen."""

    comment: str = Field(default="", max_length=2000)


class AssignBody(Strict):
    assignee: str = Field(max_length=200, description="Who takes it; empty to unassign.")


class CommentBody(Strict):
    text: str = Field(min_length=1, max_length=10_000)


class PriorityBody(Strict):
    priority: Literal["P1", "P2", "P3", "P4", "P5"]


class SilenceBody(Strict):
    matchers: list[str] = Field(min_length=1, description='Alertmanager matchers, e.g. service="orders-db".')
    comment: str = Field(min_length=1, max_length=2000)
    duration: str | None = Field(default=None, description="e.g. 2h; or give ends_at.")
    starts_at: float | None = Field(default=None, description="Epoch seconds; default now.")
    ends_at: float | None = Field(default=None, description="Epoch seconds.")


class ChangeWindowBody(Strict):
    services: list[str] = Field(default=[], description="services it covers (alerts bound to them by the catalog)")
    matchers: list[str] = Field(default=[], description='and/or Alertmanager matchers, e.g. cluster="eu-1"')
    mode: Literal["mute", "annotate"] = "mute"
    summary: str = Field(default="", max_length=2000)
    duration: str | None = Field(default=None, description="e.g. 2h; or give ends_at.")
    starts_at: float | None = Field(default=None, description="Epoch seconds; default now.")
    ends_at: float | None = Field(default=None, description="Epoch seconds.")


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
    service: str = Field("", description="the service its first alert is bound to (docs/services.md)")
    binding: str = Field("", description="what bound it: binding:<rule> or label:<label name>")
    business_services: list[str] = Field([], description="business services it affects (impact roll-up)")
    changes: list[dict[str, Any]] | None = Field(None, description="probable causes: linked changes, best first")
    assignee: str | None
    acknowledged_by: str | None
    acknowledged_at: float | None
    resolved_by: str | None
    reopened_by: str | None


class IncidentDetail(Incident):
    members: list[dict[str, Any]]
    timeline: list[dict[str, Any]] = Field(description="at, kind, text, by (people's changes), fingerprint")
    symptoms: list[dict[str, Any]] = Field(default=[], description="alerts of other groups it explains: labels, "
                                                                    "kind (topology|inhibition), path, rule, at")
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


class Silence(BaseModel):
    id: str
    matchers: list[str]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float
    state: Literal["pending", "active", "expired"]


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


class Problem(BaseModel):
    id: str
    rule: str
    title: str
    status: Literal["open", "known_error", "resolved"]
    created_at: float
    updated_at: float
    team: str
    signature: dict[str, str]
    incidents: list[str]
    why: dict[str, Any]
    created_by: str
    resolved_at: float | None


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


class ReportCharts(BaseModel):
    window: dict[str, Any]
    charts: dict[str, str] = Field(description="chart name -> SVG document (no script, labels escaped)")
