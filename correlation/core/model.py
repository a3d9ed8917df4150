"""State records the correlation engine reads and writes: alert state, incident, group.

They know how to turn themselves into what Redis stores (JSON for alert state, a flat hash for an
incident) and back; they know nothing about Redis itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import orjson

IncidentStatus = str  # "open" | "acknowledged" | "resolved"
OPEN_STATUSES = frozenset({"open", "acknowledged"})
INCIDENT_PREFIX = "INC-"


def incident_id(group_id: str, seq: int) -> str:
    """A group's ``seq``-th incident: ``INC-<group id>-<n>``, so an id names the Cluster slot of its keys."""
    return f"{INCIDENT_PREFIX}{group_id}-{seq}"


def parse_incident_id(value: str) -> tuple[str, int]:
    """``INC-<group id>-<n>`` -> (group id, n); ValueError when it is not one."""
    if not value.startswith(INCIDENT_PREFIX):
        raise ValueError(f"not an incident id: {value!r}")
    group_id, _, seq = value[len(INCIDENT_PREFIX):].rpartition("-")
    if not group_id or not seq.isdigit() or not all(c in "0123456789abcdef" for c in group_id):
        raise ValueError(f"not an incident id: {value!r}")
    return group_id, int(seq)


@dataclass(slots=True)
class AlertState:
    """What the store remembers about one fingerprint."""

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    status: str
    starts_at: float
    ends_at: float | None
    first_seen: float
    last_seen: float
    count: int
    incident: str
    source: str
    generator_url: str = ""
    # why it is kept out of incidents: "silence:<id>", "maintenance:<name>", "threshold", "hold:<seconds>"
    # (waiting for a cause), "inhibited:<rule>" or "topology:<a>><b>" (a symptom of ``cause``)
    muted: str = ""
    cause: str = ""  # a symptom: the incident of its cause (in another group)
    # "hold:": when it stops waiting for a cause; a symptom of a recovered cause: when that cause's grace runs out
    hold_until: float | None = None
    changes: list[float] = field(default_factory=list)  # flap detection: recent status-change times
    flapping: bool = False
    rev: int = 0  # bumped on every write: orders this alert's updates to the shared cause index
    expires_at: float | None = None  # when its expiry timer is due (None: none armed); see engine.decide_timer
    expired: bool = False  # resolved by its rule's resolve_timeout, not by a notification

    # Stored as a JSON array in field order: about half the CPU of an object to write and parse, and ~50 bytes
    # less per alert. Stored states are read back by position, so new fields go at the end (with a default) and
    # fields are never reordered; tests/unit/test_model.py pins the layout.
    def to_json(self) -> bytes:
        return orjson.dumps([
            self.fingerprint, self.labels, self.annotations, self.status, self.starts_at, self.ends_at,
            self.first_seen, self.last_seen, self.count, self.incident, self.source, self.generator_url, self.muted,
            self.cause, self.hold_until, self.changes, self.flapping, self.rev, self.expires_at, self.expired,
        ])

    @classmethod
    def from_json(cls, raw: bytes | str) -> AlertState:
        return cls.from_row(orjson.loads(raw))

    @classmethod
    def from_row(cls, d: Any) -> AlertState:
        """A stored state as parsed JSON: the array layout (``ALERT_ROW``) or the older object layout."""
        if type(d) is list:
            return cls(*d)
        return cls._from_object(d)

    @classmethod
    def _from_object(cls, d: dict[str, Any]) -> AlertState:
        """The object layout written before the array one (states stored by earlier versions)."""
        return cls(
            fingerprint=d["fp"],
            labels=d["l"],
            annotations=d["an"],
            status=d["s"],
            starts_at=d["sa"],
            ends_at=d["ea"],
            first_seen=d["fs"],
            last_seen=d["ls"],
            count=d["n"],
            incident=d["i"],
            source=d["src"],
            generator_url=d.get("u", ""),
            muted=d.get("mu", ""),
            cause=d.get("c", ""),
            hold_until=d.get("hu"),
            changes=d.get("ch", []),
            flapping=d.get("fl", False),
            rev=d.get("r", 0),
        )

    def public(self) -> dict[str, Any]:
        return asdict(self)


#: positions in AlertState's stored array (``AlertState.to_json``): field name -> index
ALERT_ROW = {f.name: i for i, f in enumerate(fields(AlertState))}


@dataclass(slots=True)
class Incident:
    id: str
    title: str
    status: IncidentStatus
    severity: str
    group_key: str
    group_labels: dict[str, str]
    created_at: float
    updated_at: float
    resolved_at: float | None = None
    alerts: int = 0  # member fingerprints
    firing: int = 0  # members currently firing
    occurrences: int = 0  # notifications received for members while attached
    rule: str = "default"  # the group rule that formed it
    team: str = ""  # assignment group
    priority: str = ""  # ITIL P1..P5 ("" when the rule sets no impact/urgency)
    why: dict[str, Any] = field(default_factory=dict)  # rule, matchers, group_by, group labels
    resolve_at: float | None = None  # auto_resolve after_hold: when it resolves unless an alert fires again
    flapping: int = 0  # members currently flapping (their resolutions do not resolve the incident)
    # alerts of other groups attached as symptoms: counted by the store's symptom script, never written back
    # from here (so a decision cannot overwrite the count)
    symptoms: int = 0
    merged_into: str = ""  # a late cause explained all its alerts: the cause's incident, which took them as symptoms
    # the service catalog (correlation/core/catalog.py): the service its first alert is bound to, the binding
    # that chose it ("binding:<rule>" or "label:<label>"), and the business services it affects
    service: str = ""
    binding: str = ""
    business_services: list[str] = field(default_factory=list)
    # the changes linked to it as probable causes, best first (docs/changes.md): written to its hash by the store's
    # link script only (``changes``), never by a decision, so every event built from the record carries them
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_hash(self) -> dict[str, str]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "group_key": self.group_key,
            "group_labels": orjson.dumps(self.group_labels).decode(),
            "created_at": repr(self.created_at),
            "updated_at": repr(self.updated_at),
            "resolved_at": "" if self.resolved_at is None else repr(self.resolved_at),
            "alerts": str(self.alerts),
            "firing": str(self.firing),
            "occurrences": str(self.occurrences),
            "rule": self.rule,
            "team": self.team,
            "priority": self.priority,
            "why": orjson.dumps(self.why).decode(),
            "resolve_at": "" if self.resolve_at is None else repr(self.resolve_at),
            "flapping": str(self.flapping),
            "merged_into": self.merged_into,
            "service": self.service,
            "binding": self.binding,
            "business_services": orjson.dumps(self.business_services).decode(),
        }

    @classmethod
    def from_hash(cls, h: dict[Any, Any]) -> Incident:
        d = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
             for k, v in h.items()}
        return cls(
            id=d["id"],
            title=d["title"],
            status=d["status"],
            severity=d["severity"],
            group_key=d["group_key"],
            group_labels=orjson.loads(d["group_labels"]),
            created_at=float(d["created_at"]),
            updated_at=float(d["updated_at"]),
            resolved_at=float(d["resolved_at"]) if d.get("resolved_at") else None,
            alerts=int(d["alerts"]),
            firing=int(d["firing"]),
            occurrences=int(d["occurrences"]),
            rule=d.get("rule", "default"),
            team=d.get("team", ""),
            priority=d.get("priority", ""),
            why=orjson.loads(d["why"]) if d.get("why") else {},
            resolve_at=float(d["resolve_at"]) if d.get("resolve_at") else None,
            flapping=int(d.get("flapping") or 0),
            symptoms=int(d.get("symptoms") or 0),
            merged_into=d.get("merged_into", ""),
            service=d.get("service", ""),
            binding=d.get("binding", ""),
            business_services=orjson.loads(d["business_services"]) if d.get("business_services") else [],
            changes=orjson.loads(d["changes"]) if d.get("changes") else [],
        )

    def public(self) -> dict[str, Any]:
        """A plain dict for events and APIs (by hand: ``dataclasses.asdict`` deep-copies and cost ~0.5 ms here)."""
        doc = {name: getattr(self, name) for name in _INCIDENT_FIELDS}
        doc["group_labels"] = dict(self.group_labels)
        doc["why"] = dict(self.why)
        doc["business_services"] = list(self.business_services)
        if self.changes:  # absent when none (events.models.IncidentDoc)
            doc["changes"] = [dict(c) for c in self.changes]
        return doc


_INCIDENT_FIELDS = tuple(f.name for f in fields(Incident) if f.name != "changes")


@dataclass(slots=True)
class GroupState:
    """A group's state as read from the store, restricted to the fingerprints a batch touches."""

    group_id: str
    group_key: str
    group_labels: dict[str, str]
    version: int = 0
    seq: int = 0
    incident: Incident | None = None  # the group's latest incident (open or resolved)
    alerts: dict[str, AlertState] = field(default_factory=dict)
    route: Any = None  # correlation.core.routing.Route: the group rule (None: the default grouping)
    # alerts held back by the rule's threshold: fingerprint -> (first firing time, alertname)
    pending: dict[str, tuple[float, str]] = field(default_factory=dict)
    # older incidents still open but closed to new alerts (the rule's window ran out): id -> incident
    older: dict[str, Incident] = field(default_factory=dict)
    # member fingerprints of incidents as read with the state (only for a merge timer: correlation.core.merging)
    incident_members: dict[str, frozenset[str]] = field(default_factory=dict)

    def open_incident(self, incident_id: str) -> Incident | None:
        """The group's open incident with this id: the current one or an older one."""
        if self.incident is not None and self.incident.id == incident_id and self.incident.is_open:
            return self.incident
        incident = self.older.get(incident_id)
        return incident if incident is not None and incident.is_open else None
