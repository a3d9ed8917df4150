"""PagerDuty integration keys: the ``routing_key`` of an Events API v2 event as the sender's credential.

PagerDuty's own clients (``pdpyras``, the ``pagerduty`` package, every monitoring tool's PagerDuty notifier)
authenticate with the routing key in the body and nothing else. ``STORMWATCH_PAGERDUTY_ROUTING_KEYS`` lists the keys
Stormwatch takes, each mapped to the alert's ``source`` and, optionally, a ``team`` and a ``service`` label:

    source:team:service:key,...            e.g.  payments-app:payments::0123456789abcdef0123456789abcdef
    [{"key": ..., "source": ..., "team": ..., "service": ...}, ...]   (JSON; team and service optional)

A key is a secret: only its SHA-256 is kept, it is never logged or echoed, and the event Stormwatch publishes
carries ``"<redacted>"`` in its place. Lookups hash the presented key and compare digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import orjson

__all__ = ["Integration", "Integrations", "parse_integrations"]

KEY_MIN_LENGTH = 16  # PagerDuty's integration keys are 32 characters
NAME_MAX_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Integration:
    """Where events sent with one routing key go."""

    source: str  #: the alert's source (as the Alertmanager or generic formats name theirs)
    team: str = ""  #: when set, the alert's ``team`` label (the incident's team)
    service: str = ""  #: when set, the alert's ``service`` label (else the event's component or source)
    digest: bytes = field(default=b"", repr=False)  #: SHA-256 of the key: the key itself is not kept

    def as_dict(self) -> dict[str, str]:
        """What the published event carries about its integration (no key)."""
        out = {"source": self.source}
        if self.team:
            out["team"] = self.team
        if self.service:
            out["service"] = self.service
        return out


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def _entries(text: str) -> list[tuple[int, str, str, str, str]]:
    if text.startswith("["):
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not a valid JSON list ({exc.msg})") from None
        if type(items) is not list:
            raise ValueError("expected a JSON list of {key, source, team, service} objects")
        out = []
        for n, item in enumerate(items):
            if type(item) is not dict or not all(type(item.get(k)) is str for k in ("key", "source")) or not all(
                    type(item.get(k, "")) is str for k in ("team", "service")):
                raise ValueError(f"entry {n}: expected an object with string key and source (team, service optional)")
            out.append((n, item["source"], item.get("team", ""), item.get("service", ""), item["key"]))
        return out
    out = []
    for n, raw in enumerate(p.strip() for p in text.replace("\n", ",").split(",")):
        if not raw:
            continue
        parts = raw.split(":", 3)
        if len(parts) != 4:
            raise ValueError(f"entry {n}: expected source:team:service:key (team and service may be empty)")
        out.append((n, parts[0], parts[1], parts[2], parts[3]))
    return out


def parse_integrations(text: str) -> Integrations:
    """The configured integrations; ValueError naming the bad entry by position and source (never its key)."""
    text = text.strip()
    if not text:
        return Integrations(())
    found: list[Integration] = []
    digests: set[bytes] = set()
    for n, source, team, service, key in _entries(text):
        if not source or len(source) > NAME_MAX_LENGTH or not source.isprintable():
            raise ValueError(f"entry {n}: the source must be 1-{NAME_MAX_LENGTH} printable characters")
        for what, value in (("team", team), ("service", service)):
            if len(value) > NAME_MAX_LENGTH or not value.isprintable():
                raise ValueError(f"entry {n} ({source}): the {what} must be at most {NAME_MAX_LENGTH} printable "
                                 "characters")
        if len(key) < KEY_MIN_LENGTH:
            raise ValueError(f"entry {n} ({source}): the routing key must be at least {KEY_MIN_LENGTH} characters")
        digest = _digest(key)
        if digest in digests:
            raise ValueError(f"entry {n} ({source}): the routing key is listed twice")
        digests.add(digest)
        found.append(Integration(source, team, service, digest))
    return Integrations(tuple(found))


class Integrations:
    """The configured routing keys; :meth:`find` says which integration a presented key belongs to."""

    __slots__ = ("_all",)

    def __init__(self, integrations: tuple[Integration, ...]) -> None:
        self._all = integrations

    def __bool__(self) -> bool:
        return bool(self._all)

    def __len__(self) -> int:
        return len(self._all)

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources the integrations name (each a metric label value of its own, as STORMWATCH_METRICS_SOURCES)."""
        return tuple(dict.fromkeys(i.source for i in self._all))

    def find(self, key: object) -> Integration | None:
        """The integration whose key is ``key``, or None; every configured digest is compared (constant time)."""
        if type(key) is not str or not key:
            return None
        digest = _digest(key)
        match = None
        for integration in self._all:
            if hmac.compare_digest(integration.digest, digest):
                match = integration
        return match
