"""Service levels of an incident: which policy applies, its SLA records, and how they move (pure: ``now`` is an
argument, there is no I/O).

An incident gets one :class:`SlaRecord` per kind its policy has a target for at its priority: ``respond`` (met
when it is acknowledged) and ``resolve`` (met when it is resolved). The clock counts over the policy's calendar
(:mod:`correlation.core.calendars`) and stops during pauses (on hold, a maintenance window, when the policy says
so). A record has *checkpoints*: each warning fraction of the target, then the breach at 1.0; the due-time service
fires the next one (:meth:`SlaRecord.next_check`) and :func:`fire` decides what it crossed.

Outcomes, documented in ``docs/service-levels.md``:

- A record ends ``met`` or ``breached``, never both: whichever of the acknowledgement (or resolution) and the breach
  is *written* first wins; the other is recorded (``met_at`` on a breached record: when it was met late) but
  changes no stage. The store applies each under the incident's compare-and-set, so two workers cannot both win.
- Several checkpoints crossed at once (a worker was down) publish only the furthest: a breach supersedes the
  warnings it passed.
- A priority change retargets from the original start (as ServiceNow does): the start and the pauses stay, the
  target is the new priority's; warnings already published are not published again.
- A reopen resumes ``resolve``: the time the incident spent resolved is a pause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from correlation.core.calendars import ALWAYS, Calendar, Pause, due_at, elapsed
from correlation.core.muting import _minutes
from rules.matchers import matches_all
from rules.calendar_schema import (
    DEFAULT_WARNINGS,
    SLA_KINDS,
    WEEKDAYS,
    CalendarRule,
    MaintenanceWindow,
    ServiceLevelPolicy,
)
from rules.schema import RuleSet

RUNNING, WARNING, BREACHED, MET = "running", "warning", "breached", "met"
STAGES: tuple[str, ...] = (RUNNING, WARNING, BREACHED, MET)
#: why the clock stops
ON_HOLD, MAINTENANCE, RESOLVED = "on_hold", "maintenance", "resolved"


def calendar_from_rule(rule: CalendarRule) -> Calendar:
    return Calendar(name=rule.name, time_zone=rule.time_zone,
                    weekdays=frozenset(WEEKDAYS.index(d) for d in rule.weekdays),
                    opens=_minutes(rule.start), closes=_minutes(rule.end), holidays=frozenset(rule.holidays))


def calendars_by_name(rules: Sequence[CalendarRule]) -> dict[str, Calendar]:
    """The calendars of a rule set by name, with the built-in 24x7."""
    return {ALWAYS: Calendar(), **{r.name: calendar_from_rule(r) for r in rules}}


def incident_facts(priority: str, team: str, rule: str, group_labels: Mapping[str, str]) -> dict[str, str]:
    """What a policy's matchers see of an incident (its service is the ``service`` group label)."""
    return {"priority": priority, "team": team, "rule": rule, "service": group_labels.get("service", "")}


def select_policy(policies: Sequence[ServiceLevelPolicy], facts: Mapping[str, str]) -> ServiceLevelPolicy | None:
    """The first policy whose matchers all match; None: the incident has no SLA."""
    return next((p for p in policies if matches_all(p.match, facts)), None)


@dataclass(frozen=True, slots=True)
class Crossing:
    """A checkpoint a record crossed: a warning (``fraction`` < 1) or the breach."""

    kind: str
    stage: str  # warning | breached
    fraction: float
    at: float  # when the checkpoint fell due
    due: float | None  # when the target falls due


@dataclass(frozen=True, slots=True)
class SlaRecord:
    kind: str  # respond | resolve
    policy: str
    priority: str
    target: float  # business seconds
    calendar: str
    started: float
    pauses: tuple[Pause, ...] = ()
    pause_reasons: tuple[str, ...] = ()  # one per pause
    warnings: tuple[float, ...] = DEFAULT_WARNINGS
    warned: int = 0  # checkpoints already published (warnings, then the breach)
    stage: str = RUNNING
    met_at: float | None = None
    breached_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.stage in (MET, BREACHED) or self.met_at is not None

    @property
    def paused(self) -> bool:
        return any(end is None for _, end in self.pauses)

    def paused_seconds(self, now: float) -> float:
        return sum((now if end is None else end) - start for start, end in self.pauses if start < now)

    def due(self, calendar: Calendar, extra: Sequence[Pause] = ()) -> float | None:
        """When the target falls due given the pauses so far and ``extra`` ones (maintenance windows); None while
        paused and not yet due."""
        return due_at(calendar, self.started, self.target, (*self.pauses, *extra))

    def checkpoints(self) -> tuple[float, ...]:
        return (*self.warnings, 1.0)

    def next_check(self, calendar: Calendar, extra: Sequence[Pause] = ()) -> float | None:
        """When the due-time service must look at it next; None: never (finished, paused, or all crossed)."""
        if self.stage == BREACHED or self.met_at is not None or self.warned >= len(self.checkpoints()):
            return None
        return due_at(calendar, self.started, self.target * self.checkpoints()[self.warned], (*self.pauses, *extra))

    def time_left(self, calendar: Calendar, now: float, extra: Sequence[Pause] = ()) -> float | None:
        """Business seconds left before the breach (negative once breached); None when met."""
        if self.met_at is not None:
            return None
        return self.target - elapsed(calendar, self.started, now, (*self.pauses, *extra))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "policy": self.policy, "priority": self.priority, "target": self.target,
                "calendar": self.calendar, "started": self.started, "pauses": [list(p) for p in self.pauses],
                "pause_reasons": list(self.pause_reasons), "warnings": list(self.warnings), "warned": self.warned,
                "stage": self.stage, "met_at": self.met_at, "breached_at": self.breached_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlaRecord:
        return cls(kind=data["kind"], policy=data["policy"], priority=data["priority"], target=float(data["target"]),
                   calendar=data["calendar"], started=float(data["started"]),
                   pauses=tuple((float(s), None if e is None else float(e)) for s, e in data.get("pauses", ())),
                   pause_reasons=tuple(data.get("pause_reasons", ())),
                   warnings=tuple(float(f) for f in data.get("warnings", DEFAULT_WARNINGS)),
                   warned=int(data.get("warned", 0)), stage=data.get("stage", RUNNING),
                   met_at=data.get("met_at"), breached_at=data.get("breached_at"))

    def public(self, calendar: Calendar, now: float, extra: Sequence[Pause] = ()) -> dict[str, Any]:
        """The record as the API and CLI show it: with due, time left and paused seconds at ``now``."""
        return {**self.to_json(), "due": self.due(calendar, extra), "time_left": self.time_left(calendar, now, extra),
                "paused": self.paused, "paused_seconds": self.paused_seconds(now)}


def open_records(policy: ServiceLevelPolicy, priority: str, started: float) -> tuple[SlaRecord, ...]:
    """The records of a new incident under ``policy`` (none if it has no target for the priority)."""
    targets = policy.targets.get(priority)  # type: ignore[call-overload]
    if targets is None:
        return ()
    return tuple(SlaRecord(kind=kind, policy=policy.name, priority=priority, target=target,
                           calendar=policy.calendar, started=started, warnings=policy.warnings)
                 for kind in SLA_KINDS if (target := targets.of(kind)) is not None)


def fire(record: SlaRecord, calendar: Calendar, now: float, extra: Sequence[Pause] = ()
         ) -> tuple[SlaRecord, Crossing | None]:
    """Decide a due check at ``now``: the furthest checkpoint crossed and not yet published, if any. Idempotent:
    fired again, it finds nothing new. ``extra``: pauses not in the record (maintenance windows)."""
    if record.finished:
        return record, None
    points = record.checkpoints()
    crossed = record.warned
    at: float | None = None
    pauses = (*record.pauses, *extra)
    while crossed < len(points):
        when = due_at(calendar, record.started, record.target * points[crossed], pauses)
        if when is None or when > now:
            break
        at = when
        crossed += 1
    if at is None:
        return record, None
    fraction = points[crossed - 1]
    due = record.due(calendar, extra)
    if fraction >= 1.0:
        return (replace(record, warned=crossed, stage=BREACHED, breached_at=now),
                Crossing(record.kind, BREACHED, fraction, at, due))
    return replace(record, warned=crossed, stage=WARNING), Crossing(record.kind, WARNING, fraction, at, due)


def meet(record: SlaRecord, now: float) -> SlaRecord:
    """The incident was acknowledged (respond) or resolved (resolve) at ``now``. A breached record stays breached
    and records when it was met late; a met one keeps its first time."""
    if record.met_at is not None:
        return record
    if record.paused:
        record = resume(record, now)
    return replace(record, met_at=now, stage=BREACHED if record.stage == BREACHED else MET)


def pause(record: SlaRecord, now: float, reason: str) -> SlaRecord:
    """Stop the clock from ``now`` (already paused: unchanged)."""
    if record.finished or record.paused:
        return record
    return replace(record, pauses=(*record.pauses, (now, None)), pause_reasons=(*record.pause_reasons, reason))


def resume(record: SlaRecord, now: float) -> SlaRecord:
    """Start the clock again at ``now``."""
    if not record.paused:
        return record
    pauses = tuple((s, max(s, now)) if e is None else (s, e) for s, e in record.pauses)
    return replace(record, pauses=pauses)


def reopen(record: SlaRecord, now: float) -> SlaRecord:
    """A resolved incident opened again: a ``resolve`` record met at its resolution resumes, the time it was
    resolved being a pause; a breached one stays breached."""
    if record.kind != "resolve" or record.met_at is None or record.stage == BREACHED:
        return record
    resolved = record.met_at
    return replace(record, met_at=None, stage=WARNING if record.warned else RUNNING,
                   pauses=(*record.pauses, (resolved, max(resolved, now))),
                   pause_reasons=(*record.pause_reasons, RESOLVED))


def retarget(record: SlaRecord, policy: ServiceLevelPolicy, priority: str) -> SlaRecord | None:
    """The incident's priority changed: the new priority's target from the original start (None: the policy has
    no target of this kind for it, the record ends). A finished record keeps its outcome."""
    if record.finished:
        return record
    targets = policy.targets.get(priority)  # type: ignore[call-overload]
    target = None if targets is None else targets.of(record.kind)
    if target is None:
        return None
    return replace(record, priority=priority, target=target, policy=policy.name, calendar=policy.calendar,
                   warnings=policy.warnings, warned=min(record.warned, len(policy.warnings)))


# --- an incident's records against its state ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class IncidentClock:
    """What of an incident moves its SLA records."""

    status: str  # open | acknowledged | resolved
    priority: str
    acknowledged_at: float | None = None
    resolved_at: float | None = None
    on_hold: str = ""  # the reason people gave; "" when not on hold


def reconcile(records: Sequence[SlaRecord], clock: IncidentClock, policy: ServiceLevelPolicy | None, now: float
              ) -> tuple[SlaRecord, ...]:
    """The records after the incident's state at ``now``: an acknowledgement meets ``respond``, a resolution meets
    both, a reopen resumes ``resolve``, a new priority retargets, ``on_hold`` pauses (when the policy says so).
    Idempotent: reconciled again with the same state, nothing changes."""
    out: list[SlaRecord] = []
    for record in records:
        if clock.status == "resolved":
            record = meet(record, clock.resolved_at if clock.resolved_at is not None else now)
        else:
            if record.kind == "resolve":
                record = reopen(record, now)
            if clock.status == "acknowledged" and record.kind == "respond":
                record = meet(record, clock.acknowledged_at if clock.acknowledged_at is not None else now)
        if policy is not None and clock.priority and clock.priority != record.priority:
            retargeted = retarget(record, policy, clock.priority)
            if retargeted is None:
                continue
            record = retargeted
        hold = bool(clock.on_hold) and (policy is None or policy.pause.on_hold) and clock.status != "resolved"
        held = record.paused and record.pause_reasons[-1:] == (ON_HOLD,)
        if hold and not record.paused:
            record = pause(record, now, ON_HOLD)
        elif held and not hold:
            record = resume(record, now)
        out.append(record)
    return tuple(out)


# --- maintenance windows as pauses ----------------------------------------------------------------------------

def _window_calendars(window: MaintenanceWindow) -> tuple[Calendar, ...]:
    """A recurring window as calendars (one, or two when it runs past midnight: the evening and the morning)."""
    start, end = _minutes(window.start), _minutes(window.end)
    days = frozenset(WEEKDAYS.index(d) for d in window.weekdays)
    if start < end:
        return (Calendar(name=window.name, time_zone=window.time_zone, weekdays=days, opens=start, closes=end),)
    evening = Calendar(name=window.name, time_zone=window.time_zone, weekdays=days, opens=start)
    if end == 0:
        return (evening,)
    mornings = frozenset((d + 1) % 7 for d in days)
    return evening, Calendar(name=window.name, time_zone=window.time_zone, weekdays=mornings, opens=0, closes=end)


def maintenance_pauses(windows: Sequence[MaintenanceWindow], labels: Mapping[str, str], start: float, end: float
                       ) -> tuple[Pause, ...]:
    """The intervals within ``[start, end)`` when a maintenance window matching ``labels`` is open: pauses of the
    SLA clock for policies with ``pause: {maintenance: true}``."""
    spans: list[Pause] = []
    for window in windows:
        if matches_all(window.match, labels):
            for calendar in _window_calendars(window):
                spans.extend(calendar.open_intervals(start, end))
    return tuple(sorted(spans, key=lambda span: span[0]))


#: how far past now maintenance windows are laid out as pauses (a due time further out is recomputed when the
#: due-time service fires it)
MAINTENANCE_LOOKAHEAD = 14 * 86400.0


@dataclass(frozen=True, slots=True)
class ServiceLevels:
    """A rule set's service-level definitions: the policies in order, the calendars by name, the maintenance
    windows (pauses for policies that ask)."""

    policies: tuple[ServiceLevelPolicy, ...] = ()
    calendars: Mapping[str, Calendar] = field(default_factory=lambda: {ALWAYS: Calendar()})
    maintenance: tuple[MaintenanceWindow, ...] = ()

    @classmethod
    def of(cls, rules: RuleSet) -> ServiceLevels:
        return cls(rules.service_levels, calendars_by_name(rules.calendars), rules.maintenance)

    def policy(self, name: str) -> ServiceLevelPolicy | None:
        return next((p for p in self.policies if p.name == name), None)

    def calendar(self, name: str) -> Calendar:
        """The named calendar; 24x7 when the rule set no longer defines it."""
        return self.calendars.get(name) or Calendar()

    def pauses(self, record: SlaRecord, labels: Mapping[str, str], now: float) -> tuple[Pause, ...]:
        """The maintenance pauses of ``record`` (none when its policy does not pause for maintenance)."""
        policy = self.policy(record.policy)
        if policy is None or not policy.pause.maintenance or not self.maintenance:
            return ()
        return maintenance_pauses(self.maintenance, labels, record.started, now + MAINTENANCE_LOOKAHEAD)


def replay_records(levels: ServiceLevels, facts: Mapping[str, str], labels: Mapping[str, str], created: float,
                   acknowledged_at: float | None, resolved_at: float | None, now: float) -> tuple[SlaRecord, ...]:
    """An incident's records at ``now`` from its history, as the rule tests (``replay/``) see them: the checkpoints
    crossed before it was met, then met. A record met exactly at its due time is breached (the breach timer fires
    at the due time; the acknowledgement would have to be written before it). No reopen, hold or priority change."""
    policy = select_policy(levels.policies, facts)
    if policy is None:
        return ()
    out: list[SlaRecord] = []
    for record in open_records(policy, facts.get("priority", ""), created):
        met = acknowledged_at if record.kind == "respond" else None
        if resolved_at is not None:
            met = resolved_at if met is None else min(met, resolved_at)
        calendar = levels.calendar(record.calendar)
        extra = levels.pauses(record, labels, now)
        record, _ = fire(record, calendar, now if met is None or met > now else met, extra)
        if met is not None and met <= now:
            record = meet(record, met)
        out.append(record)
    return tuple(out)
