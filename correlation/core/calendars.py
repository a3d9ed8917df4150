"""Calendars over which service-level time counts, and the due-time arithmetic over them (pure: no clock).

A :class:`Calendar` is 24x7 (the default) or business hours: open on some weekdays from ``opens`` to ``closes``
(local wall-clock minutes in an IANA time zone), closed on holidays (local dates). Every instant is a Unix time;
local times are turned into instants with ``zoneinfo``, so a business day across a DST change is as long as the
wall clock says (an 08:00-18:00 day is 10 hours on both sides of the change; the night the clocks move is not
business time). A local opening time that does not exist (inside a spring-forward gap) is read with ``fold=0``,
as :mod:`datetime` does.

Pauses are wall-time intervals during which the clock stops (on hold, a maintenance window); an open pause has
``None`` as its end. :func:`elapsed` counts business time outside pauses; :func:`due_at` is the instant when a
target of business time has been counted, or None if it never is (the clock is paused for good, or the calendar
never opens within :data:`HORIZON_DAYS`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

#: the name of the calendar that is always open
ALWAYS = "24x7"
#: a due time further than this from its start is never reached (a calendar open on no day, or a holiday list
#: covering years)
HORIZON_DAYS = 3660
_DAY_MINUTES = 24 * 60

#: a wall-time interval ``(start, end)``; ``end`` None means it has not ended
Pause = tuple[float, float | None]


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class Calendar:
    """Business hours: ``weekdays`` (0 Monday .. 6 Sunday) open from ``opens`` to ``closes`` (minutes after local
    midnight, ``closes`` up to 1440), except on ``holidays``. The default is 24x7."""

    name: str = ALWAYS
    time_zone: str = "UTC"
    weekdays: frozenset[int] = frozenset(range(7))
    opens: int = 0
    closes: int = _DAY_MINUTES
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not 0 <= self.opens < self.closes <= _DAY_MINUTES:
            raise ValueError(f"calendar {self.name!r}: opens must be before closes, within a day")
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"calendar {self.name!r}: weekdays must be a non-empty set of 0..6")
        _zone(self.time_zone)  # an unknown zone fails here, not at the first due time

    @property
    def always_open(self) -> bool:
        return (self.weekdays == frozenset(range(7)) and self.opens == 0 and self.closes == _DAY_MINUTES
                and not self.holidays)

    def _instant(self, day: date, minutes: int) -> float:
        day_start = datetime.combine(day, time(0), tzinfo=_zone(self.time_zone))
        if minutes == _DAY_MINUTES:
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=_zone(self.time_zone)).timestamp()
        local = day_start.replace(hour=minutes // 60, minute=minutes % 60)
        return local.timestamp()

    def open_intervals(self, start: float, end: float = math.inf) -> Iterator[tuple[float, float]]:
        """The business intervals within ``[start, end)``, in order, as Unix times (at most HORIZON_DAYS)."""
        if end <= start:
            return
        if self.always_open:
            yield start, end
            return
        day = datetime.fromtimestamp(start, _zone(self.time_zone)).date() - timedelta(days=1)
        for _ in range(HORIZON_DAYS + 2):
            opens = self._instant(day, self.opens)
            if opens >= end:
                return
            if day.weekday() in self.weekdays and day not in self.holidays:
                closes = self._instant(day, self.closes)
                lo, hi = max(opens, start), min(closes, end)
                if lo < hi:
                    yield lo, hi
            day += timedelta(days=1)


def _merged(pauses: Sequence[Pause]) -> list[tuple[float, float]]:
    """Pauses sorted and merged into disjoint intervals (an open pause ends at infinity)."""
    spans = sorted((s, math.inf if e is None else e) for s, e in pauses if e is None or e > s)
    merged: list[tuple[float, float]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _counted(calendar: Calendar, start: float, end: float, pauses: Sequence[Pause]
             ) -> Iterator[tuple[float, float]]:
    """The intervals within ``[start, end)`` that count: business time outside every pause."""
    merged = _merged(pauses)
    i = 0
    for lo, hi in calendar.open_intervals(start, end):
        while i < len(merged) and merged[i][1] <= lo:
            i += 1
        cursor = lo
        j = i
        while j < len(merged) and merged[j][0] < hi:
            p_lo, p_hi = merged[j]
            if p_lo > cursor:
                yield cursor, p_lo
            cursor = max(cursor, p_hi)
            if cursor >= hi:
                break
            j += 1
        if cursor < hi:
            yield cursor, hi
        if merged and merged[-1][1] == math.inf and merged[-1][0] <= hi:
            return  # paused for good from here on


def elapsed(calendar: Calendar, start: float, end: float, pauses: Sequence[Pause] = ()) -> float:
    """Business seconds counted from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
    return sum(hi - lo for lo, hi in _counted(calendar, start, end, pauses))


def due_at(calendar: Calendar, start: float, target: float, pauses: Sequence[Pause] = ()) -> float | None:
    """The instant at which ``target`` business seconds have been counted since ``start``; None if never."""
    if target <= 0:
        return start
    left = target
    for lo, hi in _counted(calendar, start, math.inf, pauses):
        if hi - lo >= left:
            return lo + left
        left -= hi - lo
    return None
