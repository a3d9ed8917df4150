"""stormwatch.moments: the one parser of since / until for the history search and the reports."""

from datetime import UTC, datetime

import pytest

from stormwatch.history.queries import BadQuery, parse_when
from stormwatch.moments import parse_moment
from stormwatch.reports.window import WindowError, parse_time

NOW = datetime(2026, 12, 7, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("text", "expected"), [
    ("30d", NOW - 30 * 86400), (" 12h ", NOW - 12 * 3600), ("1764547200", 1764547200.0), ("0", 0.0),
    ("2026-12-01T00:00:00Z", datetime(2026, 12, 1, tzinfo=UTC).timestamp()),
    ("2026-12-01T01:00:00+01:00", datetime(2026, 12, 1, tzinfo=UTC).timestamp()),
])
def test_a_duration_epoch_seconds_or_a_time_with_its_zone(text: str, expected: float) -> None:
    assert parse_moment(text, NOW) == expected


@pytest.mark.parametrize(("text", "says"), [
    ("nan", "epoch seconds from"), ("inf", "epoch seconds from"), ("-inf", "epoch seconds from"),
    ("-5", "epoch seconds from"), ("1e300", "epoch seconds from"), ("253402300800", "epoch seconds from"),
    ("2026-12-01T00:00:00", "no time zone"), ("yesterday", "not a duration"), ("", "not a duration"),
    ("1" * 65, "at most 64 characters"),
])
def test_what_is_refused_and_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_moment(text, NOW)


def test_the_history_search_and_the_reports_refuse_alike_each_naming_its_field() -> None:
    for text in ("nan", "2026-12-01T00:00:00", "soon"):
        with pytest.raises(BadQuery) as query:
            parse_when(text, NOW, "until")
        with pytest.raises(WindowError) as window:
            parse_time("until", text, NOW)
        assert query.value.field == window.value.field == "until"
        assert str(query.value) == str(window.value)
