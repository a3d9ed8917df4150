"""What a report covers: a time window (and the one before it, for the trend), its buckets, its filters, and the
business hours interruptions are judged against. Pure: no clock is read here (callers pass ``now``).

Buckets are UTC days, ISO weeks (Monday 00:00 UTC) or calendar months (the 1st, 00:00 UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rules.schema_types import PRIORITIES
from stormwatch.moments import parse_moment

PERIODS = ("day", "week", "month")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: longest window a report may cover (a bound on the rows one report reads)
MAX_WINDOW_SECONDS = 400 * 86400.0


class WindowError(ValueError):
    """A report parameter that cannot be used; ``field`` names it."""

    def __init__(self, field_name: str, detail: str) -> None:
        super().__init__(f"{field_name}: {detail}")
        self.field = field_name
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Filters:
    """Incidents counted: those of this team, service and priority (empty: any)."""

    team: str = ""
    service: str = ""
    priority: str = ""

    def public(self) -> dict[str, str]:
        return {"team": self.team, "service": self.service, "priority": self.priority}

    @property
    def any(self) -> bool:
        return bool(self.team or self.service or self.priority)


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open interval [since, until) in epoch seconds, bucketed by ``period``."""

    since: float
    until: float
    period: str = "day"
    filters: Filters = field(default_factory=Filters)

    @property
    def previous(self) -> Window:
        """The window of the same length just before this one (the trend's baseline)."""
        return Window(2 * self.since - self.until, self.since, self.period, self.filters)

    def buckets(self) -> list[tuple[float, float]]:
        """The period buckets covering the window, each clipped to it."""
        out: list[tuple[float, float]] = []
        start = bucket_start(self.since, self.period)
        while start < self.until:
            end = next_bucket(start, self.period)
            out.append((max(start, self.since), min(end, self.until)))
            start = end
        return out

    def public(self) -> dict[str, object]:
        return {"since": self.since, "until": self.until, "period": self.period, "filters": self.filters.public(),
                "previous": {"since": self.previous.since, "until": self.previous.until}}


def bucket_start(at: float, period: str) -> float:
    moment = datetime.fromtimestamp(at, UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return day.timestamp()


def next_bucket(start: float, period: str) -> float:
    moment = datetime.fromtimestamp(start, UTC)
    if period == "day":
        return (moment + timedelta(days=1)).timestamp()
    if period == "week":
        return (moment + timedelta(days=7)).timestamp()
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1).timestamp()


def parse_time(name: str, text: str, now: float) -> float:
    """A moment (:func:`stormwatch.moments.parse_moment`); WindowError naming ``name``."""
    try:
        return parse_moment(text, now)
    except ValueError as exc:
        raise WindowError(name, str(exc)) from None


def window(now: float, *, since: str = "30d", until: str = "", period: str = "", team: str = "", service: str = "",
           priority: str = "") -> Window:
    """The report window from its parameters as people write them (``since`` as a duration counts back from
    ``until``); WindowError naming the bad one."""
    end = parse_time("until", until, now) if until else now
    start = parse_time("since", since or "30d", end)  # a duration counts back from the window's end
    if not end > start:
        raise WindowError("since", "must be before until")
    if end - start > MAX_WINDOW_SECONDS:
        raise WindowError("since", f"a window of at most {MAX_WINDOW_SECONDS / 86400:g} days")
    if period and period not in PERIODS:
        raise WindowError("period", "day, week or month")
    if priority and priority not in PRIORITIES:
        raise WindowError("priority", "P1..P5")
    for name, value in (("team", team), ("service", service)):
        if len(value) > 200:
            raise WindowError(name, "at most 200 characters")
    chosen = period or ("day" if end - start <= 31 * 86400 else "week" if end - start <= 120 * 86400 else "month")
    return Window(start, end, chosen, Filters(team, service, priority))


# --- business hours -------------------------------------------------------------------------------------------

_HOURS = re.compile(r"(?P<days>[A-Za-z,-]+)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})(?:\s+(?P<tz>\S+))?")


OFFSET_STEP = 900
#: zone -> 15-minute step of UTC -> the zone's UTC offset then (seconds)
_OFFSETS: dict[str, dict[int, float]] = {}


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Weekdays and a daily span in one time zone (``Mon-Fri 09:00-17:00 Europe/Paris``); no holidays (service
    levels bring calendars)."""

    days: frozenset[int]  # 0 = Monday
    start_minute: int
    end_minute: int
    zone: str = "UTC"

    def contains(self, at: float) -> bool:
        local = at + self._offset(int(at // OFFSET_STEP))
        minute = int(local % 86400) // 60
        weekday = (int(local // 86400) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
        return weekday in self.days and self.start_minute <= minute < self.end_minute

    def _offset(self, step: int) -> float:
        """The zone's UTC offset (seconds) during a 15-minute step of UTC: every offset change in the time zone
        database falls on a quarter hour, so one look-up serves the whole step (reports ask for many)."""
        cache = _OFFSETS.setdefault(self.zone, {})
        offset = cache.get(step)
        if offset is None:
            moment = datetime.fromtimestamp(step * OFFSET_STEP, ZoneInfo(self.zone))
            offset = cache[step] = (moment.utcoffset() or timedelta()).total_seconds()
            if len(cache) > 1_000_000:
                cache.clear()
        return offset

    def describe(self) -> str:
        days = sorted(self.days)
        names = ",".join(DAYS[d].capitalize() for d in days)
        if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
            names = f"{DAYS[days[0]].capitalize()}-{DAYS[days[-1]].capitalize()}"
        return (f"{names} {self.start_minute // 60:02d}:{self.start_minute % 60:02d}-"
                f"{self.end_minute // 60:02d}:{self.end_minute % 60:02d} {self.zone}")


def parse_business_hours(text: str) -> BusinessHours:
    """``Mon-Fri 09:00-17:00 Europe/Paris`` (days as a range or a comma list; the zone defaults to UTC)."""
    match = _HOURS.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"business hours {text!r}: write e.g. 'Mon-Fri 09:00-17:00 Europe/Paris'")
    days: set[int] = set()
    for part in match["days"].lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"business hours {text!r}: days are Mon..Sun")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    start, end = (_minutes(text, match[name]) for name in ("start", "end"))
    if not start < end:
        raise ValueError(f"business hours {text!r}: the day's start must be before its end")
    zone = match["tz"] or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"business hours {text!r}: unknown time zone {zone!r}") from None
    return BusinessHours(frozenset(days), start, end, zone)


def _minutes(text: str, hhmm: str) -> int:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    if hours > 24 or minutes > 59 or hours * 60 + minutes > 1440:
        raise ValueError(f"business hours {text!r}: {hhmm} is not a time of day")
    return hours * 60 + minutes
