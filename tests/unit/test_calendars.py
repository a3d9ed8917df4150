"""The due-time arithmetic of service levels: calendars, business time, DST, holidays, pauses (issue 18)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from correlation.core.calendars import Calendar, due_at, elapsed

PARIS = ZoneInfo("Europe/Paris")
OFFICE = Calendar(name="office", time_zone="Europe/Paris", weekdays=frozenset(range(5)), opens=8 * 60,
                  closes=18 * 60, holidays=frozenset({date(2026, 12, 25)}))
HOUR = 3600.0


def at(*args: int, zone: ZoneInfo = PARIS) -> float:
    return datetime(*args, tzinfo=zone).timestamp()


def test_always_open_counts_wall_time() -> None:
    cal = Calendar()
    assert cal.always_open
    assert elapsed(cal, 1000.0, 4600.0) == 3600.0
    assert due_at(cal, 1000.0, 300.0) == 1300.0


def test_business_hours_within_one_day() -> None:
    start = at(2026, 12, 1, 9, 0)  # a Tuesday
    assert due_at(OFFICE, start, 2 * HOUR) == at(2026, 12, 1, 11, 0)
    assert elapsed(OFFICE, start, at(2026, 12, 1, 20, 0)) == 9 * HOUR


def test_business_hours_carry_over_to_the_next_day() -> None:
    start = at(2026, 12, 1, 17, 0)
    assert due_at(OFFICE, start, 3 * HOUR) == at(2026, 12, 2, 10, 0)


def test_started_out_of_hours_counts_from_the_opening() -> None:
    assert due_at(OFFICE, at(2026, 12, 1, 6, 30), HOUR) == at(2026, 12, 1, 9, 0)
    assert due_at(OFFICE, at(2026, 12, 1, 22, 0), HOUR) == at(2026, 12, 2, 9, 0)


def test_weekend_is_skipped() -> None:
    friday = at(2026, 12, 4, 17, 0)
    assert due_at(OFFICE, friday, 2 * HOUR) == at(2026, 12, 7, 9, 0)  # Monday
    assert elapsed(OFFICE, at(2026, 12, 5, 0, 0), at(2026, 12, 7, 0, 0)) == 0.0


def test_holiday_is_skipped() -> None:
    christmas_eve = at(2026, 12, 24, 17, 0)  # Thursday; Friday the 25th is a holiday
    assert due_at(OFFICE, christmas_eve, 2 * HOUR) == at(2026, 12, 28, 9, 0)


def test_spring_forward_day_is_a_full_business_day() -> None:
    # Europe/Paris moves 02:00 -> 03:00 on Sunday 2026-03-29; a 7-day calendar 08:00-18:00 keeps 10 hours
    every_day = Calendar(name="d", time_zone="Europe/Paris", opens=8 * 60, closes=18 * 60)
    day = (at(2026, 3, 29, 0, 0), at(2026, 3, 30, 0, 0))
    assert day[1] - day[0] == 23 * HOUR
    assert elapsed(every_day, *day) == 10 * HOUR
    assert due_at(every_day, at(2026, 3, 28, 17, 0), 2 * HOUR) == at(2026, 3, 29, 9, 0)


def test_fall_back_night_is_counted_by_the_wall_clock() -> None:
    # 2026-10-25 03:00 -> 02:00 in Paris: a 24x7 calendar in Paris counts the 25 real hours of that day
    around_the_clock = Calendar(name="p", time_zone="Europe/Paris", opens=0, closes=24 * 60,
                                weekdays=frozenset(range(7)), holidays=frozenset({date(2030, 1, 1)}))
    assert not around_the_clock.always_open
    assert elapsed(around_the_clock, at(2026, 10, 25, 0, 0), at(2026, 10, 26, 0, 0)) == 25 * HOUR
    # business hours across the change: 08:00 local on both sides
    assert due_at(OFFICE, at(2026, 10, 23, 17, 0), 2 * HOUR) == at(2026, 10, 26, 9, 0)


def test_pause_moves_the_due_time_later() -> None:
    start = at(2026, 12, 1, 9, 0)
    paused = ((at(2026, 12, 1, 10, 0), at(2026, 12, 1, 10, 30)),)
    assert due_at(OFFICE, start, 2 * HOUR, paused) == at(2026, 12, 1, 11, 30)
    # a pause outside business hours changes nothing
    night = ((at(2026, 12, 1, 19, 0), at(2026, 12, 2, 7, 0)),)
    assert due_at(OFFICE, start, 11 * HOUR, night) == at(2026, 12, 2, 10, 0)


def test_open_pause_means_never_due() -> None:
    start = 1000.0
    assert due_at(Calendar(), start, 600.0, ((1200.0, None),)) is None
    assert due_at(Calendar(), start, 100.0, ((1200.0, None),)) == 1100.0  # due before the pause began
    assert elapsed(Calendar(), start, 5000.0, ((1200.0, None),)) == 200.0


def test_invalid_calendar_is_refused() -> None:
    with pytest.raises(ValueError):
        Calendar(name="x", opens=600, closes=500)
    with pytest.raises(ValueError):
        Calendar(name="x", weekdays=frozenset())


# --- properties ----------------------------------------------------------------------------------------------

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata")
BASE = at(2026, 1, 1, 0, 0)
YEAR = 365 * 24 * HOUR


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    if draw(st.booleans()):
        return Calendar()
    opens = draw(st.integers(0, 20 * 60))
    closes = draw(st.integers(opens + 4 * 60, 24 * 60))  # at least 4 business hours a week: targets fall due
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    holidays = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=8))
    return Calendar(name="c", time_zone=draw(st.sampled_from(ZONES)), weekdays=days, opens=opens, closes=closes,
                    holidays=holidays)


instants = st.floats(BASE, BASE + YEAR, allow_nan=False)
spans = st.floats(0, 3 * 24 * HOUR, allow_nan=False)


@st.composite
def pause_lists(draw: st.DrawFn) -> tuple[tuple[float, float | None], ...]:
    items = draw(st.lists(st.tuples(instants, spans), max_size=4))
    return tuple((s, s + d) for s, d in items)


@settings(max_examples=60, deadline=None)
@given(calendars(), instants, spans, pause_lists())
def test_elapsed_business_time_never_exceeds_wall_time(cal: Calendar, start: float, span: float,
                                                        pauses: tuple[tuple[float, float | None], ...]) -> None:
    assert 0.0 <= elapsed(cal, start, start + span, pauses) <= span + 1e-6


@settings(max_examples=60, deadline=None)
@given(calendars(), instants, spans, spans)
def test_a_longer_target_never_falls_due_earlier(cal: Calendar, start: float, a: float, b: float) -> None:
    short, long_ = sorted((a, b))
    first, second = due_at(cal, start, short), due_at(cal, start, long_)
    assert first is not None and second is not None  # every generated calendar opens within the horizon
    assert first <= second


@settings(max_examples=60, deadline=None)
@given(calendars(), instants, spans, pause_lists())
def test_pausing_never_makes_a_due_time_earlier(cal: Calendar, start: float, target: float,
                                                pauses: tuple[tuple[float, float | None], ...]) -> None:
    plain = due_at(cal, start, target)
    paused = due_at(cal, start, target, pauses)
    assert plain is not None
    assert paused is None or paused >= plain


@settings(max_examples=60, deadline=None)
@given(calendars(), instants, st.floats(1, 3 * 24 * HOUR, allow_nan=False), pause_lists())
def test_the_due_time_is_when_the_target_has_elapsed(cal: Calendar, start: float, target: float,
                                                     pauses: tuple[tuple[float, float | None], ...]) -> None:
    due = due_at(cal, start, target, pauses)
    if due is not None:
        assert elapsed(cal, start, due, pauses) == pytest.approx(target, abs=1e-3)
