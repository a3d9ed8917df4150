"""Problems (ITIL problem management): recurring incidents, or one root cause across services. Pure, no I/O.

A problem rule counts incidents under a **signature** (the values of its ``signature`` labels):

* ``recurrence: {count: N, within: T}``: when the N-th incident with one signature opens within T of the
  earlier ones, a problem opens and links them all; later incidents with that signature link to it while it
  is not resolved.
* ``shared_root_cause: true``: when one incident has symptoms (inhibited or rolled-up alerts) on at least
  ``min_services`` services matching the rule, a problem opens for that root cause and links the incident.

A problem's lifecycle is ``open`` -> ``known_error`` -> ``resolved`` (set by people through the CLI or API).
The store (``problem_store``) applies the same rules atomically in Redis; ``ProblemBook`` applies them in
memory for rule tests and backtests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from collections.abc import Mapping

import orjson

from rules.fingerprint import labels_to_signature

PROBLEM_PREFIX = "PRB-"
PROBLEM_STATUSES = ("open", "known_error", "resolved")


def signature_id(rule: str, signature: Mapping[str, str]) -> str:
    """A short stable id for (rule, signature): 12 hex digits of the Alertmanager fingerprint hash."""
    signed = dict(signature)
    signed["\x00rule"] = rule  # not a valid label name: cannot collide with a real label
    return format(labels_to_signature(signed), "016x")[:12]


def problem_id(sig_id: str, seq: int) -> str:
    return f"{PROBLEM_PREFIX}{sig_id}-{seq}"


def parse_problem_id(value: str) -> tuple[str, int]:
    if not value.startswith(PROBLEM_PREFIX):
        raise ValueError(f"not a problem id: {value!r}")
    sig, _, seq = value[len(PROBLEM_PREFIX):].rpartition("-")
    if not sig or not seq.isdigit() or not all(c in "0123456789abcdef" for c in sig):
        raise ValueError(f"not a problem id: {value!r}")
    return sig, int(seq)


def title_of(rule: str, signature: Mapping[str, str]) -> str:
    values = [v for v in signature.values() if v]
    return f"{rule}: {' / '.join(values) if values else '(no signature labels)'}"


@dataclass(slots=True)
class Problem:
    id: str
    rule: str
    title: str
    status: str
    created_at: float
    updated_at: float
    team: str = ""
    signature: dict[str, str] = field(default_factory=dict)
    incidents: list[str] = field(default_factory=list)
    why: dict[str, Any] = field(default_factory=dict)
    created_by: str = ""  # the incident whose arrival opened it
    resolved_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def to_hash(self) -> dict[str, str]:
        return {
            "id": self.id, "rule": self.rule, "title": self.title, "status": self.status,
            "created_at": repr(self.created_at), "updated_at": repr(self.updated_at), "team": self.team,
            "signature": orjson.dumps(self.signature).decode(), "why": orjson.dumps(self.why).decode(),
            "created_by": self.created_by,
            "resolved_at": "" if self.resolved_at is None else repr(self.resolved_at),
        }

    @classmethod
    def from_hash(cls, h: Mapping[Any, Any], incidents: list[str] | None = None) -> Problem:
        d = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
             for k, v in h.items()}
        return cls(
            id=d["id"], rule=d["rule"], title=d["title"], status=d["status"],
            created_at=float(d["created_at"]), updated_at=float(d["updated_at"]), team=d.get("team", ""),
            signature=orjson.loads(d.get("signature") or "{}"), incidents=sorted(incidents or []),
            why=orjson.loads(d.get("why") or "{}"), created_by=d.get("created_by", ""),
            resolved_at=float(d["resolved_at"]) if d.get("resolved_at") else None,
        )


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One incident counted against a problem rule's signature."""

    rule: str
    signature: dict[str, str]
    incident: str
    at: float
    count: int  # how many incidents within ``within`` open the problem (1: at once)
    within: float  # 0: no window
    team: str = ""
    why: dict[str, Any] = field(default_factory=dict)
    title: str = ""  # default: the rule and the signature values

    @property
    def problem_title(self) -> str:
        return self.title or title_of(self.rule, self.signature)


@dataclass(frozen=True, slots=True)
class ProblemChange:
    """What one occurrence did: ``created`` or ``linked`` (with the problem), or nothing (``counted``)."""

    outcome: str  # created | linked | counted | dup
    problem: Problem | None = None


class ProblemBook:
    """Problems in memory, for rule tests and backtests: the same rules the Redis script applies."""

    def __init__(self) -> None:
        self.occurrences: dict[str, dict[str, float]] = {}
        self.current: dict[str, str] = {}  # signature id -> open problem id
        self.seq: dict[str, int] = {}
        self.problems: dict[str, Problem] = {}

    def record(self, o: Occurrence) -> ProblemChange:
        sig = signature_id(o.rule, o.signature)
        seen = self.occurrences.setdefault(sig, {})
        seen[o.incident] = o.at
        if o.within > 0:
            for iid in [i for i, at in seen.items() if at < o.at - o.within]:
                del seen[iid]
        open_id = self.current.get(sig)
        if open_id and self.problems[open_id].is_open:
            problem = self.problems[open_id]
            if o.incident in problem.incidents:
                return ProblemChange("dup", problem)
            problem.incidents.append(o.incident)
            problem.updated_at = o.at
            return ProblemChange("linked", problem)
        if len(seen) < o.count:
            return ProblemChange("counted")
        self.seq[sig] = self.seq.get(sig, 0) + 1
        problem = Problem(problem_id(sig, self.seq[sig]), o.rule, o.problem_title, "open", o.at, o.at,
                          o.team, dict(o.signature), sorted(seen), dict(o.why), o.incident)
        self.problems[problem.id] = problem
        self.current[sig] = problem.id
        return ProblemChange("created", problem)

    def set_status(self, problem_id_: str, status: str, now: float) -> Problem:
        problem = self.problems[problem_id_]
        problem.status = status
        problem.updated_at = now
        if status == "resolved":
            problem.resolved_at = now
        return problem


def recurrence_occurrence(rule: Any, signature: dict[str, str], incident: str, at: float) -> Occurrence:
    """An incident opened under a recurrence problem rule (``rules.schema.ProblemRule``)."""
    return Occurrence(rule.name, signature, incident, at, rule.recurrence.count, rule.recurrence.within,
                      rule.team or "", {"rule": rule.name, "kind": "recurrence", "signature": signature,
                                        "count": rule.recurrence.count, "within": rule.recurrence.within})


def shared_cause_occurrence(rule: Any, incident: str, services: set[str], at: float,
                            incident_title: str = "") -> Occurrence | None:
    """A root incident whose symptoms reached ``services``: a problem once they are ``min_services`` or more."""
    if len(services) < rule.min_services:
        return None
    return Occurrence(rule.name, {"incident": incident}, incident, at, 1, 0.0, rule.team or "",
                      {"rule": rule.name, "kind": "shared_root_cause", "root_incident": incident,
                       "services": sorted(services), "min_services": rule.min_services},
                      f"{rule.name}: {incident_title or incident}")
