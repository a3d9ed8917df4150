"""Change windows: scheduled times when changes are expected on some services (``docs/changes.md``). Pure.

A window has services (alerts bound to them by the catalog) and/or matchers, a start and an end, and a mode:

* ``mute``: firing alerts it covers are recorded and counted as ``muted: change:<id>`` and page nothing; resolves
  pass through as always; an alert still firing when the window ends is placed again then (a timer at the end), so it
  pages with the state it would have had, instead of staying silent for ever;
* ``annotate``: alerts page as usual; an incident opened inside the window says so on its timeline.

A change event that happens inside a window on one of its services is linked to it (``window_of``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from rules.matchers import Matcher, matches_all, parse_matcher
from rules.scalars import check_epoch

CHANGE_REASON = "change:"
MODES = ("mute", "annotate")
ServiceOf = Callable[[Mapping[str, str]], str]


@dataclass(frozen=True, slots=True)
class ChangeWindow:
    id: str
    starts_at: float
    ends_at: float
    mode: str = "mute"
    services: tuple[str, ...] = ()
    matchers: tuple[Matcher, ...] = ()
    summary: str = ""
    created_by: str = ""
    created_at: float = 0.0

    @classmethod
    def create(cls, window_id: str, starts_at: float, ends_at: float, *, mode: str = "mute",
               services: Sequence[str] = (), matchers: Sequence[Matcher] = (), summary: str = "", created_by: str = "",
               now: float = 0.0) -> ChangeWindow:
        """A checked new window (ValueError saying what is wrong); its id comes from the caller."""
        check_epoch(starts_at, "starts_at")
        check_epoch(ends_at, "ends_at")
        if mode not in MODES:
            raise ValueError(f"mode: {mode!r} is not a mode: use mute or annotate")
        if not services and not matchers:
            raise ValueError("services: a change window needs services or matchers (it would cover nothing)")
        if ends_at <= starts_at:
            raise ValueError("ends_at: a change window must end after it starts")
        return cls(window_id, starts_at, ends_at, mode, tuple(services), tuple(matchers), summary, created_by, now)

    @property
    def reason(self) -> str:
        return f"{CHANGE_REASON}{self.id}"

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def state(self, now: float) -> str:
        return "pending" if now < self.starts_at else "active" if now < self.ends_at else "expired"

    def covers(self, labels: Mapping[str, str], service: str) -> bool:
        """Whether it covers an alert with these labels, bound to ``service`` ("" when none)."""
        if self.matchers and matches_all(self.matchers, labels):
            return True
        return bool(service) and service in self.services

    def public(self, now: float | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "starts_at": self.starts_at, "ends_at": self.ends_at, "mode": self.mode,
                               "services": list(self.services), "matchers": [str(m) for m in self.matchers],
                               "summary": self.summary, "created_by": self.created_by, "created_at": self.created_at}
        if now is not None:
            doc["state"] = self.state(now)
        return doc

    def to_json(self) -> bytes:
        return orjson.dumps(self.public())

    @classmethod
    def from_json(cls, raw: bytes | str) -> ChangeWindow:
        """A stored window; ValueError when it is not one Stormwatch could have written (its times above all)."""
        d = orjson.loads(raw)
        return cls(str(d["id"]), check_epoch(d["starts_at"], "starts_at"), check_epoch(d["ends_at"], "ends_at"),
                   d.get("mode", "mute"), tuple(d.get("services") or ()),
                   tuple(parse_matcher(m) for m in d.get("matchers") or ()), d.get("summary", ""),
                   d.get("created_by", ""), d.get("created_at", 0.0))


@dataclass(slots=True)
class WindowMuter:
    """The change windows active at one instant, for one batch: which mutes or annotates a label set."""

    windows: Sequence[ChangeWindow]
    now: float
    service_of: ServiceOf | None = None

    def __post_init__(self) -> None:
        self.windows = [w for w in self.windows if w.active(self.now)]

    def __bool__(self) -> bool:
        return bool(self.windows)

    def _service(self, labels: Mapping[str, str]) -> str:
        return self.service_of(labels) if self.service_of is not None else ""

    def mute(self, labels: Mapping[str, str]) -> str:
        """``change:<id>`` of the first mute window covering the label set, or ""."""
        service = None
        for w in self.windows:
            if w.mode == "mute":
                service = self._service(labels) if service is None else service
                if w.covers(labels, service):
                    return w.reason
        return ""

    def annotation(self, labels: Mapping[str, str]) -> str:
        """The id of the first annotate window covering the label set, or ""."""
        service = None
        for w in self.windows:
            if w.mode == "annotate":
                service = self._service(labels) if service is None else service
                if w.covers(labels, service):
                    return w.id
        return ""

    def until(self, reason: str) -> float | None:
        """When the window behind a ``change:<id>`` reason ends (None: not a change window of this batch)."""
        return next((w.ends_at for w in self.windows if w.reason == reason), None)


def window_of(windows: Sequence[ChangeWindow], service: str, at: float) -> str:
    """The id of a window a change on ``service`` at ``at`` happened in (one naming the service), or ""."""
    return next((w.id for w in windows if w.active(at) and service in w.services), "")
