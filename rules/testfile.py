"""Rule test files (``stormwatch rules test``): input alerts at times, expected incidents at checkpoints.

In the spirit of ``promtool test rules``, but with state and time:

    rules: ../examples                 # the rules directory under test, relative to this file
    tests:
      - name: a database outage is one P1 incident for the DBAs
        alerts:
          - {at: 0s,  labels: {alertname: PostgresDown, service: orders-db, severity: critical}}
          - {at: 90s, labels: {alertname: PostgresDown, service: orders-db, severity: critical}, status: resolved}
        silences:
          - {matchers: ['service="checkout"'], from: 0s, until: 1h}
        expect:
          - at: 60s
            incidents:
              - {title: "database-outage: orders-db", status: open, priority: P1, team: dba, alerts: 1}
            muted: 0

Each checkpoint lists every incident that exists at that time (so a missing or an extra incident fails); an
expected incident gives only the fields it cares about. ``muted`` (optional) counts firing notifications kept out
of incidents by silences and maintenance windows so far. ``problems`` (optional) lists every problem that exists
at that time; an expected incident may give ``symptoms`` (how many alerts of other groups are attached to it by
inhibition or topology), ``symptom_paths`` (their topology paths), ``flapping`` (members flapping) and
``merged_into`` (the title of the incident it merged into when its cause fired late; "" for none).

Change events (``changes:``) and change windows (``change_windows:``) come at times beside the alerts, as the live
path takes them (docs/changes.md): an expected incident may give ``changes`` (the summaries of its probable causes,
best first) and ``change_window`` (the annotate window it opened in); a checkpoint may give ``muted_by``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from rules.schema import parse_duration


def _seconds(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return parse_duration(value)


Seconds = Annotated[float, BeforeValidator(_seconds)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputAlert(Strict):
    at: Seconds
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    status: Literal["firing", "resolved"] = "firing"
    starts_at: Seconds | None = None  # default: the first time this label set fired in the test


class InputChange(Strict):
    """A change event at a time: ``{at: -4m, service: orders-db, summary: "deploy v2"}`` (docs/changes.md)."""

    at: Seconds
    service: str
    summary: str
    kind: Literal["deploy", "config", "infrastructure", "feature-flag"] = "deploy"
    id: str | None = None  # default: change-<n>, by position
    environment: str = ""
    source: str = "rule test"


class TestChangeWindow(Strict):
    """A scheduled change window (docs/changes.md): ``{services: [orders-db], from: 0s, until: 30m}``; ``mode`` mute
    (alerts it covers are muted as ``change:<id>`` and placed again when it ends) or annotate."""

    id: str | None = None  # default: window-<n>, by position
    services: list[str] = []
    matchers: list[str] = []
    from_: Seconds = Field(default=0.0, alias="from")
    until: Seconds
    mode: Literal["mute", "annotate"] = "mute"
    summary: str = "rule test"


class TestSilence(Strict):
    matchers: list[str] = Field(min_length=1)
    from_: Seconds = Field(default=0.0, alias="from")
    until: Seconds
    comment: str = "rule test"


class PersonAction(Strict):
    """Something a person does at a time: ``{at: 30h, resolve: "batch-jobs: billing-export", by: alice}`` resolves
    an open incident; ``{at: 31h, problem: "<problem title>", status: known_error}`` moves a problem on."""

    at: Seconds
    resolve: str | None = None  # the title of the open incident to resolve
    acknowledge: str | None = None  # the title of the open incident to acknowledge (its respond SLA is met)
    problem: str | None = None  # the title of the problem to move on ...
    status: Literal["known_error", "resolved"] | None = None  # ... to this status
    by: str = "rule test"

    @model_validator(mode="after")
    def _one_thing(self) -> PersonAction:
        things = [self.resolve, self.acknowledge, self.problem]
        if sum(t is not None for t in things) != 1 or (self.problem is None) != (self.status is None):
            raise ValueError("give one of resolve: <incident title>, acknowledge: <incident title>, or problem: "
                             "<problem title> with status")
        return self


class ExpectedStep(Strict):
    """A run of an escalation step that started its action (docs/service-levels.md, "Escalation")."""

    step: int = Field(ge=1)  # 1-based, in the policy's order
    action: str
    repeat: int = Field(0, ge=0)  # 0: the step's first run; 1, 2, ...: its repeats


class ExpectedIncident(Strict):
    title: str
    status: Literal["open", "acknowledged", "resolved"] | None = None
    priority: str | None = None
    team: str | None = None
    severity: str | None = None
    rule: str | None = None
    alerts: int | None = None
    firing: int | None = None
    occurrences: int | None = None
    flapping: int | None = None  # members flapping
    symptoms: int | None = None  # alerts of other groups attached as symptoms (inhibition, topology)
    symptom_paths: list[str] | None = None  # topology paths of its symptoms, e.g. "checkout > orders-db"
    merged_into: str | None = None  # the title of the incident it merged into (a late cause), "" for none
    # the stage of each SLA record (docs/service-levels.md): running, warning, breached, met; "none" for no record
    sla: dict[Literal["respond", "resolve"], Literal["running", "warning", "breached", "met", "none"]] | None = None
    # every escalation step run started so far, in order ([] for none; docs/service-levels.md, "Escalation")
    escalation: list[ExpectedStep] | None = None
    service: str | None = None  # the service it is bound to (docs/services.md)
    business_services: list[str] | None = None
    changes: list[str] | None = None  # the summaries of the changes linked to it, best first (docs/changes.md)
    # the annotate-mode change window it opened in: its id (a recurring window's name matches its occurrences); ""
    change_window: str | None = None


class ExpectedProblem(Strict):
    title: str
    status: Literal["open", "known_error", "resolved"] | None = None
    incidents: int | None = None  # linked incidents
    rule: str | None = None


class ExpectedAction(Strict):
    """An action the rules start for an incident (the run itself is not simulated)."""

    action: str
    incident: str | None = None  # the incident's title ...
    problem: str | None = None  # ... or the problem's title (problem rules' actions)
    on: Literal["created", "updated", "resolved", "escalated", "known_error"] = "created"

    @model_validator(mode="after")
    def _one_subject(self) -> ExpectedAction:
        if (self.incident is None) == (self.problem is None):
            raise ValueError("give either incident: <title> or problem: <title>")
        return self

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, value: object) -> object:
        """YAML 1.1 reads an unquoted ``on:`` key as the boolean true."""
        if isinstance(value, dict) and True in value:
            value = {("on" if k is True else k): v for k, v in value.items()}
        return value


class Checkpoint(Strict):
    at: Seconds
    incidents: list[ExpectedIncident] = []
    problems: list[ExpectedProblem] | None = None  # when given: every problem that exists at that time
    actions: list[ExpectedAction] | None = None  # when given: every action started so far (updated: each time)
    muted: int | None = None
    # firing notifications muted so far, by what muted them: "change:<window id>" (a recurring window by its name),
    # "silence:<id>", "maintenance:<name>"; only the keys given are compared
    muted_by: dict[str, int] | None = None


class RuleTest(Strict):
    name: str
    alerts: list[InputAlert] = []
    changes: list[InputChange] = []
    change_windows: list[TestChangeWindow] = []
    silences: list[TestSilence] = []
    people: list[PersonAction] = []
    expect: list[Checkpoint] = Field(min_length=1)


class RuleTestFile(Strict):
    rules: str = "../examples"
    group_by: list[str] = ["alertname", "service"]
    tests: list[RuleTest] = Field(min_length=1)
