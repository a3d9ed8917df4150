"""The canonical alert: the one shape every source format is normalised into.

It lives in ``rules`` because it is the noun the whole house speaks: ingest produces it, the correlation
engine consumes it and the rule language matches on it. It is a frozen, slotted dataclass rather than a
pydantic model because one is built per alert on the hot path (tens of thousands a second); the
normalisers in ``ingest`` do the validation, with a field path in every error.

Times are float seconds since the epoch (UTC); the API renders them as RFC 3339.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from collections.abc import Mapping

Status = Literal["firing", "resolved"]

#: severities from least to most severe; unknown values rank as "none".
SEVERITY_ORDER: tuple[str, ...] = ("none", "info", "warning", "error", "critical")
_SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITY_ORDER)}
_SEVERITY_ALIASES = {
    "page": "critical",
    "crit": "critical",
    "fatal": "critical",
    "high": "error",
    "major": "error",
    "err": "error",
    "minor": "warning",
    "warn": "warning",
    "low": "info",
    "informational": "info",
    "debug": "info",
}


def normalise_severity(value: str | None) -> str:
    """Map a severity label value onto :data:`SEVERITY_ORDER` (``none`` when unknown or missing)."""
    if not value:
        return "none"
    lowered = value.lower()
    if lowered in _SEVERITY_RANK:
        return lowered
    return _SEVERITY_ALIASES.get(lowered, "none")


def severity_rank(severity: str) -> int:
    return _SEVERITY_RANK.get(severity, 0)


@dataclass(frozen=True, slots=True)
class Alert:
    labels: Mapping[str, str]
    status: Status
    starts_at: float
    received_at: float
    fingerprint: str
    source: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    ends_at: float | None = None
    generator_url: str = ""

    @property
    def severity(self) -> str:
        return normalise_severity(self.labels.get("severity"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "status": self.status,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "source": self.source,
            "generator_url": self.generator_url,
            "fingerprint": self.fingerprint,
            "received_at": self.received_at,
        }
