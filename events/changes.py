"""A change event (a deploy, a config change, an infrastructure change, a feature flag flipped), the second kind of
input besides alerts: the value every producer (``POST /api/v1/changes``, PagerDuty's ``/v2/change/enqueue``,
``stormwatch changes add``) builds and every consumer (the change store, probable-cause links) reads
(``docs/changes.md``). A JSON object on the wire (``public()`` / ``from_public()``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: what kind of change it is
KINDS: tuple[str, ...] = ("deploy", "config", "infrastructure", "feature-flag")


@dataclass(frozen=True, slots=True)
class Change:
    id: str  # the sender's id (idempotency: the same id on the same service is stored once), or one made up
    service: str
    summary: str
    at: float  # when the change happened (seconds since the epoch)
    kind: str = "deploy"
    environment: str = ""
    source: str = ""  # what sent it: a CI system, a host
    links: tuple[dict[str, str], ...] = ()  # {"href": ..., "text": ...}
    custom_details: dict[str, Any] = field(default_factory=dict)
    received_at: float = 0.0
    window: str = ""  # the change window it happened in, if any

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "service": self.service, "summary": self.summary, "at": self.at, "kind": self.kind,
                "environment": self.environment, "source": self.source, "links": [dict(x) for x in self.links],
                "custom_details": dict(self.custom_details), "received_at": self.received_at,
                "window": self.window}

    def body(self) -> dict[str, Any]:
        """As Stormwatch's own change JSON (``POST /api/v1/changes``), every field given: what goes on the queue."""
        return {"id": self.id, "service": self.service, "summary": self.summary, "at": self.at, "kind": self.kind,
                "environment": self.environment, "source": self.source, "links": [dict(x) for x in self.links],
                "custom_details": dict(self.custom_details)}

    @classmethod
    def from_public(cls, doc: dict[str, Any]) -> Change:
        return cls(id=doc["id"], service=doc["service"], summary=doc["summary"], at=float(doc["at"]),
                   kind=doc.get("kind", "deploy"), environment=doc.get("environment", ""),
                   source=doc.get("source", ""), links=tuple(doc.get("links") or ()),
                   custom_details=dict(doc.get("custom_details") or {}),
                   received_at=float(doc.get("received_at") or 0.0), window=doc.get("window", ""))
