"""What one ``decide`` call produces, and what it is given beyond the group's state. Values only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from correlation.core.catalog import Bound
from correlation.core.causes import Cause
from correlation.core.model import AlertState, Incident, parse_incident_id

PriorityOf = Callable[[Mapping[str, str]], str]
MutedBy = Callable[[Mapping[str, str]], str]
CauseOf = Callable[[Mapping[str, str], str, float, "float | None"], "Cause | None"]  # (labels, fp, now, since)
HoldOf = Callable[[Mapping[str, str]], float]
FeedsOf = Callable[[Mapping[str, str]], Sequence[str]]
FlapRuleOf = Callable[[Mapping[str, str]], Any]  # -> rules.schema.FlappingRule | None
ProblemsOf = Callable[[Mapping[str, str]], Sequence[tuple[str, dict[str, str]]]]
ServiceOf = Callable[[Mapping[str, str]], "Bound | None"]


@dataclass(frozen=True, slots=True)
class Context:
    """What the rule set says about alerts beyond their group's own rule, for one batch at one instant."""

    priority: PriorityOf | None = None  # an alert's ITIL priority under its group rule
    muted: MutedBy | None = None  # silences and maintenance windows
    cause: CauseOf | None = None  # inhibition and topology: the active cause of a label set, if any
    hold: HoldOf | None = None  # how long a possible symptom waits for its cause
    feeds: FeedsOf | None = None  # the cause keys an alert feeds while it is part of an incident
    flap_rule: FlapRuleOf | None = None
    problems: ProblemsOf | None = None  # recurrence problem rules an incident's first alert falls under
    team: str = ""  # the team of an incident whose rule names none and whose first alert has no team label
    merge_keys: FeedsOf | None = None  # the cause keys under which an incident's member is a late-merge candidate
    service: ServiceOf | None = None  # the catalog's binding of an incident's first alert (catalog.Catalog.bind)
    mute_until: Callable[[str], float | None] | None = None  # when a change:<id> mute ends (muting.Muter.until)
    annotate: Callable[[Mapping[str, str]], str] | None = None  # an annotate-mode change window covering labels


@dataclass(slots=True)
class Event:
    routing_key: str  # incident.created | incident.updated | incident.resolved | incident.merged
    incident_id: str
    reason: str
    at: float
    incident: dict[str, Any] = field(default_factory=dict)  # filled with the final record by finish()


@dataclass(frozen=True, slots=True)
class Symptom:
    """An alert kept out of incidents because another alert explains it: attach it to that alert's incident."""

    cause_incident: str
    group_id: str
    fingerprint: str
    labels: dict[str, str]
    kind: str  # inhibited | topology
    rule: str  # inhibit rule, or the root service
    path: tuple[str, ...]
    at: float
    merged_from: str = ""  # it was a member of this incident, which merged into its cause's (a late cause)
    evidence: str = ""  # topology: the evidence that chose its root (causes.Cause.evidence)

    def public(self) -> dict[str, Any]:
        doc = {"incident": self.cause_incident, "group": self.group_id, "fingerprint": self.fingerprint,
               "labels": self.labels, "kind": self.kind, "rule": self.rule, "path": list(self.path), "at": self.at}
        if self.merged_from:
            doc["merged_from"] = self.merged_from
        if self.evidence:
            doc["evidence"] = self.evidence
        return doc

    @classmethod
    def from_public(cls, doc: dict[str, Any]) -> Symptom:
        return cls(doc["incident"], doc["group"], doc["fingerprint"], dict(doc["labels"]), doc["kind"], doc["rule"],
                   tuple(doc["path"]), doc["at"], doc.get("merged_from", ""), doc.get("evidence", ""))


@dataclass(frozen=True, slots=True)
class Recurrence:
    """An incident opened under a recurrence problem rule: count it against its signature."""

    rule: str
    signature: dict[str, str]
    incident: str
    at: float
    title: str


@dataclass(slots=True)
class Stats:
    new: int = 0
    duplicates: int = 0
    changed: int = 0
    stale: int = 0
    resolved_unknown: int = 0
    muted: int = 0  # firing notifications recorded but kept out of incidents by a silence or maintenance window
    held: int = 0  # firing notifications held back until the group rule's threshold is met
    symptoms: int = 0  # firing notifications attached to another alert's incident (inhibition, topology)
    waiting: int = 0  # firing notifications waiting (hold) for a cause that may explain them
    flaps: int = 0  # resolutions of flapping alerts that did not resolve anything


@dataclass(slots=True)
class Decision:
    group_id: str
    alerts: dict[str, AlertState] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    new_members: dict[str, list[str]] = field(default_factory=dict)
    timeline: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    # firing notifications muted, by (reason, team, service): the reason "silence:<id>", "maintenance:<name>" or
    # "change:<id>", the team and service an incident of the alert would have (reports filter on them). ``decide``
    # only (a timer placing a stored alert again is no notification); published as one ``alert.muted`` per message
    mutes: dict[tuple[str, str, str], int] = field(default_factory=dict)
    muted_at: float = 0.0
    seq: int = 0
    current_incident: str = ""
    pending: dict[str, tuple[float, str]] = field(default_factory=dict)
    older: list[str] = field(default_factory=list)  # the group's older open incidents after this decision
    # (timer member, due): an incident id (held resolution), "h|<gid>|<fp>" (hold for a cause, or a symptom's
    # recheck when its recovered cause's grace runs out),
    # "q|<gid>|<fp>" (a flapping alert's quiet period), "x|<gid>|<fp>" (a firing alert's expiry) or
    # "m|<gid>|<incident>" (a late cause may now explain the incident: merge it)
    timers: list[tuple[str, float]] = field(default_factory=list)
    symptoms: list[Symptom] = field(default_factory=list)
    # cause index updates: (cause key, fingerprint, stamp, what follows the stamp in the entry: its incident, or
    # "incident|stopped" once it stopped: a stopped source explains for its rules' recovery grace; Entry.tail)
    sources: list[tuple[str, str, int, str]] = field(default_factory=list)
    recurrences: list[Recurrence] = field(default_factory=list)
    # symptom candidate index updates, as ``sources``: (cause key, fingerprint, stamp, its incident or "" once it is
    # no longer a firing member): a source firing later under the key may merge that incident (correlation.core.merging)
    candidates: list[tuple[str, str, int, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.alerts or self.incidents)


def hold_timer(group_id: str, fingerprint: str) -> str:
    return f"h|{group_id}|{fingerprint}"


def quiet_timer(group_id: str, fingerprint: str) -> str:
    return f"q|{group_id}|{fingerprint}"


def expiry_timer(group_id: str, fingerprint: str) -> str:
    return f"x|{group_id}|{fingerprint}"


def merge_timer(incident_id: str) -> str:
    """Look whether a late cause now explains every alert of this incident (correlation.core.merging)."""
    return f"m|{parse_incident_id(incident_id)[0]}|{incident_id}"


_TIMER_KINDS = {"h": "hold", "q": "quiet", "x": "expire", "m": "merge"}
TIMER_KINDS = ("resolve", *_TIMER_KINDS.values())  # the kinds of the engine's timers on the due-time service


def parse_timer(member: str) -> tuple[str, str, str]:
    """A timer member -> (kind, group id, argument): ("resolve", gid, incident id), ("hold"|"quiet"|"expire",
    gid, fp), ("merge", gid, incident id)."""
    if member[1:2] == "|" and member[:1] in _TIMER_KINDS:
        kind, gid, fp = member.split("|", 2)
        return _TIMER_KINDS[kind], gid, fp
    return "resolve", parse_incident_id(member)[0], member
