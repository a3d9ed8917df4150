"""Rule files' time: weekdays and clock times, maintenance windows, business-hours calendars and service-level
policies (``calendars:``, ``service_levels:``, ``maintenance:``; docs/service-levels.md)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AfterValidator, BeforeValidator, PlainValidator,
                      model_validator)

from rules.scalars import _fail
from rules.schema_types import (Matchers, Name, PositiveDuration, PriorityName, RequiredMatchers, RuleModel)


WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_INDEX = {**{d: i for i, d in enumerate(WEEKDAYS)}, **{d[:3]: i for i, d in enumerate(WEEKDAYS)}}


def _weekdays(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise _fail("expected a list of weekdays, e.g. [monday, tuesday] or [monday:friday]")
    days: set[int] = set()
    for item in value:
        parts = item.lower().split(":") if isinstance(item, str) else [item]
        index = [_WEEKDAY_INDEX.get(p) if isinstance(p, str) else None for p in parts]
        if len(parts) > 2 or None in index:
            raise _fail(f"unknown weekday {item!r}: use monday..sunday (or mon..sun), or a range like monday:friday")
        first, last = index[0], index[-1]
        assert first is not None and last is not None
        if last < first:
            raise _fail(f"weekday range {item!r} runs backwards: write it from the earlier day, e.g. monday:friday")
        days.update(range(first, last + 1))
    return tuple(WEEKDAYS[i] for i in sorted(days))


def _clock(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00", value):
        raise _fail(f"invalid time {value!r}: use HH:MM in 24-hour time, quoted, e.g. \"22:00\"")
    return value


def _time_zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(f"invalid time zone {value!r}: use an IANA name such as Europe/Paris or UTC")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(f"unknown time zone {value!r}: use an IANA name such as Europe/Paris or UTC") from None
    return value


class MaintenanceWindow(RuleModel):
    """A recurring window: on ``weekdays``, from ``start`` to ``end`` (local time in ``time_zone``); an end
    earlier than the start runs past midnight into the next day."""

    name: Name
    description: str = ""
    match: RequiredMatchers
    weekdays: Annotated[tuple[str, ...], BeforeValidator(_weekdays)] = WEEKDAYS
    start: Annotated[str, PlainValidator(_clock)]
    end: Annotated[str, PlainValidator(_clock)]
    time_zone: Annotated[str, PlainValidator(_time_zone)] = "UTC"

    @model_validator(mode="after")
    def _not_empty(self) -> MaintenanceWindow:
        if self.start == "24:00":
            raise _fail("start must be before 24:00 (write 00:00)")
        if self.start == self.end:
            raise _fail(f"start and end are the same time ({self.start}): the window would be empty")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


# --- calendars, service levels ------------------------------------------------------------------------------

#: the calendar that is always open; a policy without ``calendar`` counts over it (it needs no definition)
ALWAYS_CALENDAR = "24x7"
#: the facts of an incident a service-level policy's matchers may name
SLA_MATCH_NAMES: tuple[str, ...] = ("priority", "team", "service", "rule")
SLA_KINDS: tuple[str, ...] = ("respond", "resolve")
#: warnings at these fractions of a target unless a policy says otherwise; the breach is at 1.0
DEFAULT_WARNINGS: tuple[float, ...] = (0.5, 0.75)


def _holiday(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(f"invalid holiday {value!r}: use a date YYYY-MM-DD, e.g. 2026-12-25")


class CalendarRule(RuleModel):
    """Business hours: on ``weekdays`` from ``start`` to ``end`` (local time in ``time_zone``), except on
    ``holidays`` (local dates). Service-level policies (``calendar:``) and catalog services (``support_hours:``)
    name one; ``24x7`` is built in."""

    name: Name
    description: str = ""
    weekdays: Annotated[tuple[str, ...], BeforeValidator(_weekdays)] = WEEKDAYS[:5]
    start: Annotated[str, PlainValidator(_clock)] = "09:00"
    end: Annotated[str, PlainValidator(_clock)] = "17:00"
    time_zone: Annotated[str, PlainValidator(_time_zone)] = "UTC"
    holidays: tuple[Annotated[date, PlainValidator(_holiday)], ...] = ()

    @model_validator(mode="after")
    def _a_day(self) -> CalendarRule:
        if self.name == ALWAYS_CALENDAR:
            raise _fail(f"{ALWAYS_CALENDAR!r} is built in (always open): choose another name")
        if self.start == "24:00" or not self.start < self.end:
            raise _fail(f"start ({self.start}) must be before end ({self.end}) on the same day")
        return self

    @property
    def weekday_numbers(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(d) for d in self.weekdays)


class Targets(RuleModel):
    """How long an incident of one priority may take: to be acknowledged (``respond``), to be resolved."""

    respond: PositiveDuration | None = None
    resolve: PositiveDuration | None = None

    @model_validator(mode="after")
    def _some(self) -> Targets:
        if self.respond is None and self.resolve is None:
            raise _fail("give respond, resolve or both, e.g. {respond: 5m, resolve: 4h}")
        if self.respond is not None and self.resolve is not None and self.respond > self.resolve:
            raise _fail("respond is longer than resolve: an incident is acknowledged before it is resolved")
        return self

    def of(self, kind: str) -> float | None:
        target: float | None = getattr(self, kind)
        return target


class PauseConditions(RuleModel):
    """What stops the clock: a maintenance window the incident is in, people putting it ``on_hold``."""

    maintenance: bool = True
    on_hold: bool = True


def _warnings(value: tuple[float, ...]) -> tuple[float, ...]:
    if any(not 0 < f < 1 for f in value):
        raise _fail("each warning is a fraction of the target between 0 and 1 (exclusive), e.g. [0.5, 0.75]")
    if list(value) != sorted(set(value)):
        raise _fail("warnings must be increasing and distinct, e.g. [0.5, 0.75]")
    return value


class ServiceLevelPolicy(RuleModel):
    """Targets per priority for the incidents its matchers (on priority, team, service, rule) select; the first
    matching policy of the set wins. Reference: ``docs/service-levels.md``."""

    name: Name
    description: str = ""
    match: Matchers = ()
    calendar: Name = ALWAYS_CALENDAR
    targets: dict[PriorityName, Targets]
    pause: PauseConditions = PauseConditions()
    warnings: Annotated[tuple[float, ...], AfterValidator(_warnings)] = DEFAULT_WARNINGS

    @model_validator(mode="after")
    def _known_facts(self) -> ServiceLevelPolicy:
        unknown = sorted({m.name for m in self.match} - set(SLA_MATCH_NAMES))
        if unknown:
            raise _fail(f"matchers may name {', '.join(SLA_MATCH_NAMES)} (facts of the incident), not "
                        f"{', '.join(unknown)}")
        if not self.targets:
            raise _fail("needs targets for at least one priority, e.g. {P1: {respond: 5m, resolve: 4h}}")
        return self


