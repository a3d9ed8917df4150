"""The rule language: pydantic models for one rule file (the whole-set checks are in ``rules/checks.py``).

A rule set is a directory of YAML files; each file is a mapping of optional sections (``groups``, ``inhibit``,
``maintenance``, ``topology``, ``flapping``, ``problems``, ``enrichment``, ``priority_matrix``, ``actions``,
``calendars``, ``service_levels``, ``escalation_policies``).
Every model forbids unknown keys and is frozen. Each field validates itself (durations, matchers, label names,
times, time zones); :func:`rules.checks.check_rule_set` then checks what only the whole set can tell (duplicate names,
dangling action and service references, topology cycles, an inhibit rule that mutes itself, two priority
matrices). ``rules/loader.py`` reads the files and turns every error into ``file:line: path: message``.

Reference for SREs: ``docs/rules/reference.md``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from collections.abc import Sequence

from pydantic import (AfterValidator, BeforeValidator, ConfigDict, Field, PlainValidator,
                      ValidationInfo, field_validator, model_validator)

from rules.action_schema import ActionConfig, ActionPolicies, ActionTriggerItem, ProblemTriggerItem, config_for
from rules.escalation_schema import EscalationPolicy
from rules.scalars import _fail
from rules.scalars import parse_duration as parse_duration  # re-exported: rule code imports it from here
from rules.schema_types import (
    LEVELS, Duration, LabelName, Level, Matchers, Name, PositiveDuration, PriorityName, RequiredMatchers, RuleModel,
    _label_name,
)
from rules.calendar_schema import CalendarRule, MaintenanceWindow, ServiceLevelPolicy
from rules.catalog_schema import BusinessService, RecurringChangeWindow, Service, ServiceBinding, Team


# --- groups ---------------------------------------------------------------------------------------------------

def _group_by(value: tuple[str, ...]) -> tuple[str, ...]:
    if "..." in value and len(value) > 1:
        raise _fail('"..." (group by all labels) must be alone')
    if not value:
        raise _fail('needs at least one label, or ["..."] for all labels')
    return value


def _group_by_item(value: object) -> str:
    return "..." if value == "..." else _label_name(value)


GroupBy = Annotated[tuple[Annotated[str, PlainValidator(_group_by_item)], ...], AfterValidator(_group_by)]


class Threshold(RuleModel):
    """Open the incident only when ``count`` alerts of the group fire within ``within``, or when any / all of
    the listed alertnames fire."""

    count: Annotated[int, Field(ge=1)] | None = None
    within: PositiveDuration | None = None
    any_of: tuple[str, ...] | None = None
    all_of: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Threshold:
        forms = [f for f, on in (("count/within", self.count is not None or self.within is not None),
                                 ("any_of", self.any_of is not None), ("all_of", self.all_of is not None)) if on]
        if len(forms) != 1:
            raise _fail("use exactly one of: count with within, any_of, all_of" +
                        (f" (found {', '.join(forms)})" if forms else ""))
        if forms[0] == "count/within" and (self.count is None or self.within is None):
            raise _fail("count and within go together")
        names = self.any_of if self.any_of is not None else self.all_of
        if names is not None and not names:
            raise _fail("needs at least one alertname")
        return self


class LevelSource(RuleModel):
    """An impact or urgency: a fixed level, or read from a label (optionally mapping its values to levels)."""

    value: Level | None = None
    from_label: LabelName | None = None
    map: dict[str, Level] = {}
    default: Level = "medium"

    @model_validator(mode="before")
    @classmethod
    def _fixed_level(cls, data: object) -> object:
        if isinstance(data, str):
            if data not in LEVELS:
                raise _fail(f"invalid level {data!r}: use high, medium or low, or {{from_label: LABEL, ...}}")
            return {"value": data}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> LevelSource:
        if (self.value is None) == (self.from_label is None):
            raise _fail("give a level (high, medium, low) or {from_label: LABEL, map: {...}, default: LEVEL}")
        if self.value is not None and self.map:
            raise _fail("map only goes with from_label")
        return self


class Priority(RuleModel):
    impact: LevelSource = LevelSource(value="medium")
    urgency: LevelSource = LevelSource(value="medium")


class AutoResolve(RuleModel):
    mode: Literal["all_resolved", "after_hold", "manual"] = "all_resolved"
    hold: PositiveDuration | None = None

    @model_validator(mode="after")
    def _hold_with_mode(self) -> AutoResolve:
        if self.mode == "after_hold" and self.hold is None:
            raise _fail("mode after_hold needs a hold, e.g. hold: 10m")
        if self.mode != "after_hold" and self.hold is not None:
            raise _fail(f"hold only goes with mode after_hold (mode is {self.mode})")
        return self


#: the reserved label of the groups of incidents people declare (``correlation.core.declared``): no alert carries it
DECLARED_LABEL = "__declared__"


class JoinDeclared(RuleModel):
    """Alerts of a group rule join the open incident people declared for their service (issue 21) instead of
    opening one of their own: listed among its symptoms (kind ``declared``). ``topology``: also the incident declared
    for a service theirs depends on (the topology's roll-up); ``services``: only incidents declared for these
    (default: any). ``join_declared: true`` is ``{topology: true}``. Reference: ``docs/service-desk.md``."""

    topology: bool = True
    services: tuple[Name, ...] = ()


def _join_declared(value: object) -> object:
    if value is True:
        return JoinDeclared()
    if value is False or value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(f"invalid join_declared {value!r}: use true, or {{topology: true|false, services: [...]}}")
    return value


class GroupRule(RuleModel):
    name: Name
    description: str = ""
    match: Matchers = ()
    group_by: GroupBy = ("alertname", "service")
    window: PositiveDuration | None = None
    threshold: Threshold | None = None
    priority: Priority | None = None
    team: str | None = None
    auto_resolve: AutoResolve = AutoResolve()
    # a firing alert not notified again for this long is resolved (Alertmanager's resolve_timeout), for senders
    # that repeat firing alerts and may stop without a resolve (Prometheus, scripts, heartbeats)
    resolve_timeout: PositiveDuration | None = None
    actions: tuple[ActionTriggerItem, ...] = ()  # a name, or {action, on: [...], min_priority} (action_schema.py)
    # how far back before its incident opened changes are linked as probable causes (docs/changes.md; default 2h)
    change_lookback: PositiveDuration | None = None
    # the escalation policy its incidents follow (escalation_policies:, docs/service-levels.md "Escalation")
    escalation: Name | None = None
    # its alerts join an incident people declared for their service (or one it depends on) instead of opening one
    join_declared: Annotated[JoinDeclared | None, BeforeValidator(_join_declared)] = None


# --- inhibition, maintenance ---------------------------------------------------------------------------------

#: default recovery_grace of inhibit rules and the topology: Alertmanager's default group_interval, the time a
#: symptom's resolved notification may take to arrive after the symptom cleared
RECOVERY_GRACE = 300.0
#: default symptom_lag of the topology: none, so a failing dependency explains a dependant's alert as severe as its own
#: whenever it started (as Alertmanager's inhibition does). With a lag set, such an alert starting later than the lag
#: after it is a failure of its own (correlation.core.causes: the root chosen by evidence). Off by default because
#: dependants' alerts often fire minutes after the cause (a ``for:`` of their own), and paging for each of them is
#: the cascade noise Stormwatch removes; an SRE who knows their alerts' timing sets it (30s in the corpus's storm)
SYMPTOM_LAG: float | None = None


class InhibitRule(RuleModel):
    name: Name
    description: str = ""
    source_match: RequiredMatchers
    target_match: RequiredMatchers
    equal: tuple[LabelName, ...] = ()
    hold: Duration = 0.0
    # a source that resolved still explains its targets this long (attached to its incident): symptoms clear
    # after their cause, and must not page for a cause that has just recovered (docs/rules/reference.md)
    recovery_grace: Duration = RECOVERY_GRACE
    # a source that fires after a target opened an incident of its own merges that incident into its own, when it
    # explains every alert still firing there (docs/rules/reference.md, "A late cause merges")
    merge_late_symptoms: bool = True
    # a target with no active source joins the open incident people declared for the service it shares with the
    # source (its service label, which must be in ``equal``), as a symptom (docs/service-desk.md)
    join_declared: bool = False



# --- topology, flapping, problems, enrichment ----------------------------------------------------------------


def _none_as_empty(value: object) -> object:
    """``orders-db:`` with nothing after it is a service without dependencies (YAML reads it as null)."""
    return {} if value is None else value


#: the severities ``min_severity`` names (``rules.alert.SEVERITY_ORDER`` but "none": an unknown severity always counts)
CauseSeverity = Literal["info", "warning", "error", "critical"]
CAUSE_SEVERITIES: tuple[str, ...] = ("info", "warning", "error", "critical")


class Topology(RuleModel):
    """The service dependency graph. ``service_label`` names the alert label holding the service. An alert makes its
    service *failing* for its dependants when it matches ``source_match`` and its severity is at least
    ``min_severity`` (an alert without a known severity counts: nothing says it is noise)."""

    service_label: LabelName = "service"
    hold: Duration = 0.0  # how long an alert on a dependant waits for its dependency's alert before it may page
    recovery_grace: Duration = RECOVERY_GRACE  # how long a recovered dependency still explains its dependants
    merge_late_symptoms: bool = True  # a dependency failing after its dependants opened incidents merges them
    source_match: Matchers = ()  # which alerts can make their service failing (default: any)
    min_severity: CauseSeverity = "warning"  # an info notice is not a failure
    # an alert as severe as its dependency's that started longer after it is a failure of its own (None: no limit)
    symptom_lag: Duration | None = SYMPTOM_LAG
    services: Annotated[dict[Name, Annotated[Service, BeforeValidator(_none_as_empty)]],
                        BeforeValidator(_none_as_empty)] = {}
    # the catalog around the graph (docs/services.md)
    teams: Annotated[dict[Name, Annotated[Team, BeforeValidator(_none_as_empty)]],
                     BeforeValidator(_none_as_empty)] = {}
    business_services: Annotated[dict[Name, Annotated[BusinessService, BeforeValidator(_none_as_empty)]],
                                 BeforeValidator(_none_as_empty)] = {}
    bindings: tuple[ServiceBinding, ...] = ()
    # dependencies added to services defined under ``services`` in any file: a fragment (a ``rules suggest`` draft)
    # that extends a topology defined elsewhere without redefining its services (merged into their ``depends_on``)
    edges: Annotated[dict[Name, tuple[Name, ...]], BeforeValidator(_none_as_empty)] = {}
    # tier -> ITIL impact, for incidents whose group rule gives no priority (rule, then tier, then the default)
    tier_impact: dict[Annotated[int, Field(ge=1, le=4)], Level] = {}


def _symptom_lag(topologies: Sequence[Topology]) -> float | None:
    """The symptom_lag of several files: the longest one a file gives, none if a file lifts the limit (null)."""
    given = [t.symptom_lag for t in topologies if "symptom_lag" in t.model_fields_set]
    if any(lag is None for lag in given):
        return None
    return max((lag for lag in given if lag is not None), default=SYMPTOM_LAG)


def _with_edges(services: dict[str, Service], topologies: Sequence[Topology]) -> dict[str, Service]:
    """The services with every file's ``edges`` added to their ``depends_on`` (in file order, each once)."""
    for topology in topologies:
        for name, dependencies in topology.edges.items():
            service = services.get(name)
            if service is not None:
                added = tuple(d for d in dict.fromkeys(dependencies) if d not in service.depends_on)
                services[name] = service.model_copy(update={"depends_on": (*service.depends_on, *added)})
    return services


class FlappingRule(RuleModel):
    """An alert that changes state more than ``changes`` times within ``within`` is flapping until it has
    been stable for ``quiet``."""

    name: Name
    description: str = ""
    match: Matchers = ()
    changes: Annotated[int, Field(ge=2)]
    within: PositiveDuration
    quiet: PositiveDuration


class Recurrence(RuleModel):
    count: Annotated[int, Field(ge=2)]
    within: PositiveDuration


class ProblemRule(RuleModel):
    """Incidents with the same ``signature`` recurring ``count`` times within ``within`` (recurrence), or one
    root cause producing incidents on at least ``min_services`` services (shared_root_cause), become a problem."""

    name: Name
    description: str = ""
    match: Matchers = ()
    signature: GroupBy = ("alertname", "service")
    recurrence: Recurrence | None = None
    shared_root_cause: bool = False
    min_services: Annotated[int, Field(ge=2)] = 2
    team: str | None = None
    actions: tuple[ProblemTriggerItem, ...] = ()  # a name, or {action, on: [created|updated|known_error|resolved]}

    @model_validator(mode="after")
    def _one_trigger(self) -> ProblemRule:
        if (self.recurrence is None) == (not self.shared_root_cause):
            raise _fail("use exactly one of: recurrence: {count, within}, or shared_root_cause: true")
        return self


class LookupRow(RuleModel):
    labels: dict[LabelName, str] = {}
    annotations: dict[LabelName, str] = {}


class Lookup(RuleModel):
    """A static map keyed by the value of one label: ``from_label: service``, ``table: {orders-db: {...}}``."""

    from_label: LabelName
    table: dict[str, LookupRow]


class EnrichmentRule(RuleModel):
    name: Name
    description: str = ""
    match: Matchers = ()
    add_labels: dict[LabelName, str] = {}
    add_annotations: dict[LabelName, str] = {}
    lookup: Lookup | None = None

    @model_validator(mode="after")
    def _adds_something(self) -> EnrichmentRule:
        if not (self.add_labels or self.add_annotations or self.lookup):
            raise _fail("adds nothing: give add_labels, add_annotations or lookup")
        return self


# --- priority matrix, actions ---------------------------------------------------------------------------------

#: ITIL's usual 3x3 matrix: impact (rows) x urgency (columns) -> priority
ITIL_MATRIX: dict[str, dict[str, str]] = {
    "high": {"high": "P1", "medium": "P2", "low": "P3"},
    "medium": {"high": "P2", "medium": "P3", "low": "P4"},
    "low": {"high": "P3", "medium": "P4", "low": "P5"},
}


#: an alert's severity (normalised, ``rules.alert.SEVERITY_ORDER``) read as ITIL impact x urgency, for incidents
#: whose group rule gives no priority (and alerts no rule matches): a critical alert is wide and urgent, an error
#: wide but less pressing, a warning medium on both, info low on both; an alert without a known severity is
#: medium/medium, as a rule's ``priority`` without impact or urgency.
SEVERITY_IMPACT_URGENCY: dict[str, tuple[str, str]] = {
    "critical": ("high", "high"),
    "error": ("high", "medium"),
    "warning": ("medium", "medium"),
    "info": ("low", "low"),
    "none": ("medium", "medium"),
}
#: severity -> priority through ITIL's matrix: critical P1, error P2, warning P3, info P5, none P3
DEFAULT_PRIORITIES: dict[str, str] = {
    severity: ITIL_MATRIX[impact][urgency] for severity, (impact, urgency) in SEVERITY_IMPACT_URGENCY.items()
}
#: the team of an incident whose rule names none and whose alert has no ``team`` label
DEFAULT_TEAM = "unassigned"


class PriorityMatrix(RuleModel):
    """``impact -> urgency -> P1..P5``; every one of the nine cells must be given."""

    high: dict[Level, PriorityName] = {}
    medium: dict[Level, PriorityName] = {}
    low: dict[Level, PriorityName] = {}

    @model_validator(mode="after")
    def _complete(self) -> PriorityMatrix:
        missing = [f"{impact}/{urgency}" for impact in LEVELS for urgency in LEVELS
                   if urgency not in getattr(self, impact)]
        if missing:
            raise _fail(f"missing cells (impact/urgency): {', '.join(missing)}; every impact needs high, medium "
                        f"and low urgency")
        return self

    def priority(self, impact: str, urgency: str) -> str:
        row: dict[str, str] = getattr(self, impact)
        return row[urgency]




class Action(ActionPolicies):
    """A named action rules can refer to: its type, the typed ``config`` for that type, and its safety policies
    (approval, dry_run, rate_limit, breaker, retry, verify). Reference: ``docs/actions.md``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    type: Literal["http", "command", "runbook", "notify", "ticket"]
    description: str = ""
    config: ActionConfig | None = None  # required to run; `rules check` reports an action without one

    @field_validator("config", mode="before")
    @classmethod
    def _typed_config(cls, value: object, info: ValidationInfo) -> object:
        if "type" not in info.data:
            return value  # the type itself is invalid and reported
        return config_for(info.data["type"], value)


# --- one file, the whole set ----------------------------------------------------------------------------------

class RuleFile(RuleModel):
    groups: tuple[GroupRule, ...] = ()
    inhibit: tuple[InhibitRule, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    topology: Topology | None = None
    flapping: tuple[FlappingRule, ...] = ()
    problems: tuple[ProblemRule, ...] = ()
    enrichment: tuple[EnrichmentRule, ...] = ()
    priority_matrix: PriorityMatrix | None = None
    actions: tuple[Action, ...] = ()
    calendars: tuple[CalendarRule, ...] = ()
    service_levels: tuple[ServiceLevelPolicy, ...] = ()
    change_windows: tuple[RecurringChangeWindow, ...] = ()
    escalation_policies: tuple[EscalationPolicy, ...] = ()


#: the sections holding lists of named rules
NAMED_SECTIONS: tuple[str, ...] = ("groups", "inhibit", "maintenance", "flapping", "problems", "enrichment", "actions",
                                   "calendars", "service_levels", "change_windows", "escalation_policies")


class RuleSet(RuleModel):
    """Every file of a rule directory merged, in file order, after the whole-set checks passed."""

    files: tuple[str, ...] = ()
    groups: tuple[GroupRule, ...] = ()
    inhibit: tuple[InhibitRule, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    topology: Topology = Topology()
    flapping: tuple[FlappingRule, ...] = ()
    problems: tuple[ProblemRule, ...] = ()
    enrichment: tuple[EnrichmentRule, ...] = ()
    priority_matrix: PriorityMatrix = PriorityMatrix.model_validate(ITIL_MATRIX)
    actions: tuple[Action, ...] = ()
    calendars: tuple[CalendarRule, ...] = ()
    service_levels: tuple[ServiceLevelPolicy, ...] = ()
    change_windows: tuple[RecurringChangeWindow, ...] = ()
    escalation_policies: tuple[EscalationPolicy, ...] = ()

    @classmethod
    def merge(cls, files: Sequence[tuple[str, RuleFile]]) -> RuleSet:
        """Merge files that passed :func:`check_rule_set` (conflicts are not re-checked here)."""
        merged: dict[str, Any] = {"files": tuple(name for name, _ in files)}
        for section in NAMED_SECTIONS:
            merged[section] = tuple(rule for _, f in files for rule in getattr(f, section))
        topologies = [f.topology for _, f in files if f.topology is not None]
        if topologies:
            merged["topology"] = Topology.model_construct(
                # the label a file sets (the check refuses two that differ), so a fragment without one adds to it
                service_label=next((t.service_label for t in topologies if "service_label" in t.model_fields_set),
                                   topologies[0].service_label),
                hold=max(t.hold for t in topologies),
                # the settings a file gives (the default when none does): the longest grace, off if any file says so
                recovery_grace=max((t.recovery_grace for t in topologies if "recovery_grace" in t.model_fields_set),
                                   default=RECOVERY_GRACE),
                merge_late_symptoms=all(t.merge_late_symptoms for t in topologies),
                symptom_lag=_symptom_lag(topologies),
                # which alerts can be a cause: every file's matchers apply; the strictest severity
                source_match=tuple(m for t in topologies for m in t.source_match),
                min_severity=max((t.min_severity for t in topologies if "min_severity" in t.model_fields_set),
                                 key=CAUSE_SEVERITIES.index, default="warning"),
                services=_with_edges({name: svc for t in topologies for name, svc in t.services.items()},
                                     topologies),
                teams={name: team for t in topologies for name, team in t.teams.items()},
                business_services={name: b for t in topologies for name, b in t.business_services.items()},
                bindings=tuple(b for t in topologies for b in t.bindings),
                tier_impact={tier: level for t in reversed(topologies) for tier, level in t.tier_impact.items()})
        matrices = [f.priority_matrix for _, f in files if f.priority_matrix is not None]
        if matrices:
            merged["priority_matrix"] = matrices[0]
        return cls.model_construct(**merged)

    def action(self, name: str) -> Action:
        return next(a for a in self.actions if a.name == name)
