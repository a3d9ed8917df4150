"""Silences, maintenance windows and change windows: whether an alert is muted at a given time. Pure, no I/O, no clock.

A muted firing alert is recorded and counted but opens no incident and joins none (so nothing pages for it).
Muting is decided when an alert is not yet part of an open incident: a silence created after an incident
opened does not pull its alerts out of it. When the silence ends, the alert's next notification (Prometheus
re-sends firing alerts) opens or joins an incident as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from collections.abc import Mapping, Sequence

import orjson

from correlation.core.change_windows import ChangeWindow, WindowMuter
from rules.matchers import Matcher, matches_all, parse_matcher
from rules.scalars import check_epoch
from rules.calendar_schema import WEEKDAYS, MaintenanceWindow
from rules.catalog_schema import RecurringChangeWindow


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    created_at: float = 0.0

    @classmethod
    def create(cls, matchers: Sequence[Matcher], starts_at: float, ends_at: float, created_by: str, comment: str,
               now: float, *, silence_id: str) -> Silence:
        """A checked new silence; its id comes from the caller (the store makes them: ``new_silence_id``)."""
        check_epoch(starts_at, "starts_at")
        check_epoch(ends_at, "ends_at")
        if not matchers:
            raise ValueError("a silence needs at least one matcher")
        if ends_at <= starts_at:
            raise ValueError("a silence must end after it starts")
        if not created_by.strip():
            raise ValueError("a silence needs an author (created_by)")
        return cls(silence_id, tuple(matchers), starts_at, ends_at, created_by, comment, now)

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def state(self, now: float) -> str:
        return "pending" if now < self.starts_at else "active" if now < self.ends_at else "expired"

    def to_json(self) -> bytes:
        return orjson.dumps(self.public())

    def public(self, now: float | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "created_at": self.created_at,
        }
        if now is not None:
            doc["state"] = self.state(now)
        return doc

    @classmethod
    def from_json(cls, raw: bytes | str) -> Silence:
        """A stored silence; ValueError when it is not one Stormwatch could have written (its times above all)."""
        d = orjson.loads(raw)
        matchers = tuple(parse_matcher(m) for m in d["matchers"])
        starts, ends = check_epoch(d["starts_at"], "starts_at"), check_epoch(d["ends_at"], "ends_at")
        return cls(str(d["id"]), matchers, starts, ends, str(d["created_by"]), str(d["comment"]),
                   float(d.get("created_at") or 0.0))


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def window_active(window: MaintenanceWindow, now: float) -> bool:
    """Whether a recurring window is open at ``now``; an end before the start runs past midnight."""
    local = datetime.fromtimestamp(now, tz=window.zone)
    minute = local.hour * 60 + local.minute
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    start, end = _minutes(window.start), _minutes(window.end)
    if start < end:
        return today in window.weekdays and start <= minute < end
    return (today in window.weekdays and minute >= start) or (yesterday in window.weekdays and minute < end)


def recurring_change_window(rule: RecurringChangeWindow, now: float) -> ChangeWindow | None:
    """The occurrence of a recurring change window open at ``now`` (its id ``<name>@<start epoch>``), or None."""
    if not window_active(rule, now):
        return None
    zone = rule.zone
    local = datetime.fromtimestamp(now, tz=zone)
    start, end = _minutes(rule.start), _minutes(rule.end)
    day = local.date()
    if start >= end and local.hour * 60 + local.minute < end:  # past midnight: it opened yesterday
        day -= timedelta(days=1)
    opened = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=start)
    closes = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=end + (1440 if end <= start
                                                                                                else 0))
    starts_at = opened.timestamp()
    return ChangeWindow(f"{rule.name}@{int(starts_at)}", starts_at, closes.timestamp(), rule.mode,
                        tuple(rule.services), tuple(rule.match), rule.description, "rules", 0.0)


def change_windows_at(stored: Sequence[ChangeWindow], rules: Sequence[RecurringChangeWindow], now: float
                      ) -> list[ChangeWindow]:
    """The stored (API, CLI) windows and the occurrences of the rule files' recurring ones open at ``now``."""
    found = [w for w in (recurring_change_window(r, now) for r in rules) if w is not None]
    return [*stored, *found] if found else list(stored)


@dataclass(slots=True)
class Muter:
    """Answers "is this label set muted, and by what?" at one instant, for one batch."""

    silences: Sequence[Silence] = ()
    windows: Sequence[MaintenanceWindow] = ()
    now: float = 0.0
    changes: WindowMuter | None = None  # change windows active now (correlation/core/change_windows.py)
    _active: list[tuple[str, tuple[Matcher, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._active = [(f"silence:{s.id}", s.matchers) for s in self.silences if s.active(self.now)]
        self._active += [(f"maintenance:{w.name}", w.match) for w in self.windows if window_active(w, self.now)]
        if self.changes is not None and not self.changes:
            self.changes = None

    def __bool__(self) -> bool:
        return bool(self._active) or self.changes is not None

    def __call__(self, labels: Mapping[str, str]) -> str:
        """The muting reason (``silence:<id>``, ``maintenance:<name>`` or ``change:<id>``), or "" when not muted."""
        for reason, matchers in self._active:
            if matches_all(matchers, labels):
                return reason
        return self.changes.mute(labels) if self.changes is not None else ""

    def until(self, reason: str) -> float | None:
        """When a ``change:<id>`` mute ends (its window's end), so the alert is placed again then."""
        return self.changes.until(reason) if self.changes is not None else None

    def annotation(self, labels: Mapping[str, str]) -> str:
        """The annotate-mode change window covering the label set, or ""."""
        return self.changes.annotation(labels) if self.changes is not None else ""
