"""The reports' pure parts: the window and its buckets, business hours, percentiles, CSV cells, the SVG's escaping,
the review's Markdown escaping, and an action's `saves` reaching its run record."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest

from actions.run_record import ActionRun
from rules.schema import Action
from stormwatch.reports.csv_out import _cell
from stormwatch.reports.figures import percentile
from stormwatch.reports.review import _md
from stormwatch.reports.svg import bars
from stormwatch.reports.window import WindowError, parse_business_hours, window

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC).timestamp()


def test_since_counts_back_from_until_and_the_previous_window_is_as_long() -> None:
    w = window(NOW, since="7d", until="2026-03-10T00:00:00Z")
    assert w.until == datetime(2026, 3, 10, tzinfo=UTC).timestamp()
    assert w.until - w.since == 7 * 86400 and w.previous.until == w.since
    assert w.previous.since == w.since - 7 * 86400 and w.period == "day"


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "nan"}, "since"), ({"since": "inf"}, "since"), ({"since": "1e300"}, "since"),
    ({"since": "soon"}, "since"), ({"since": "1d", "until": "x"}, "until"), ({"period": "year"}, "period"),
    ({"priority": "P9"}, "priority"), ({"since": "500d"}, "since"), ({"since": str(NOW + 10)}, "since"),
    ({"team": "t" * 201}, "team"),
])
def test_bad_parameters_name_their_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(WindowError) as caught:
        window(NOW, **params)
    assert caught.value.field == field


def test_month_buckets_follow_the_calendar_and_are_clipped() -> None:
    w = window(NOW, since="2026-01-20T00:00:00Z", until="2026-03-05T00:00:00Z", period="month")
    starts = [datetime.fromtimestamp(a, UTC).date().isoformat() for a, _ in w.buckets()]
    assert starts == ["2026-01-20", "2026-02-01", "2026-03-01"]
    assert w.buckets()[-1][1] == w.until
    weeks = window(NOW, since="2026-03-04T00:00:00Z", until="2026-03-17T00:00:00Z", period="week").buckets()
    assert [datetime.fromtimestamp(a, UTC).strftime("%a") for a, _ in weeks[1:]] == ["Mon", "Mon"]


def test_business_hours() -> None:
    hours = parse_business_hours("Mon-Fri 09:00-17:00 Europe/Paris")
    monday_9_paris = datetime(2026, 3, 16, 8, tzinfo=UTC).timestamp()  # UTC+1 in March
    assert hours.contains(monday_9_paris) and not hours.contains(monday_9_paris - 1)
    assert not hours.contains(datetime(2026, 3, 16, 16, tzinfo=UTC).timestamp())  # 17:00 Paris: closed
    assert not hours.contains(datetime(2026, 3, 14, 10, tzinfo=UTC).timestamp())  # Saturday
    weekend = parse_business_hours("Sat-Sun 00:00-24:00")
    assert weekend.days == frozenset({5, 6}) and weekend.zone == "UTC"
    assert parse_business_hours("mon,wed 08:30-12:00 UTC").days == frozenset({0, 2})
    for bad in ("weekdays", "Mon-Fri 17:00-09:00", "Mon-Fri 09:00-17:00 Mars/Olympus", "Xyz 09:00-10:00",
                "Mon 25:00-26:00"):
        with pytest.raises(ValueError):
            parse_business_hours(bad)


@pytest.mark.parametrize("values", [[5.0], [1.0, 2.0], [3.0, 1.0, 2.0, 10.0], [float(i * i) for i in range(37)]])
def test_percentiles_interpolate_like_percentile_cont(values: list[float]) -> None:
    assert percentile(values, 0.5) == pytest.approx(statistics.median(values))
    if len(values) > 1:
        assert percentile(values, 0.9) == pytest.approx(statistics.quantiles(values, n=10, method="inclusive")[8])
    assert percentile([], 0.9) is None


def test_csv_cells_cannot_become_formulas() -> None:
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("-12") == "-12" and _cell(None) == ""
    assert _cell("@SUM") == "'@SUM" and _cell(0.5) == "0.5"


def test_chart_labels_are_escaped() -> None:
    svg = bars("t", [('<script>alert(1)</script>"', 3.0)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_markdown_escapes_text_from_alerts() -> None:
    assert _md("<img src=x> *bold* [a](javascript:x)\nnext") == \
        "\\<img src=x\\> \\*bold\\* \\[a\\](javascript:x) next"


def test_an_actions_saves_reaches_its_run() -> None:
    action = Action.model_validate({"name": "restart", "type": "http", "saves": "15m",
                                    "config": {"url": "https://example.com/hook"}})
    assert action.saves == 900.0
    assert Action.model_validate({"name": "n", "type": "http", "config": {"url": "https://e.com/"}}).saves is None
    with pytest.raises(ValueError):
        Action.model_validate({"name": "n", "type": "http", "saves": "0s", "config": {"url": "https://e.com/"}})
    run = ActionRun.new(run_id="r1", action="restart", saves=action.saves)
    assert run.stored()["saves"] == "900.0"
    assert ActionRun.from_stored(run.stored()).saves == 900.0


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
                                  "Australia/Lord_Howe", "UTC"])
def test_business_hours_agree_with_the_zone_database_across_a_year(zone: str) -> None:
    """The offset cache against datetime's own conversion, every 7 min 13 s over a year (transitions included)."""
    from zoneinfo import ZoneInfo

    hours = parse_business_hours(f"Mon-Fri 08:30-17:45 {zone}")
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    for at in range(int(start), int(start) + 366 * 86400, 7 * 60 + 13):
        local = datetime.fromtimestamp(at, ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        assert hours.contains(at) == (local.weekday() < 5 and 510 <= minute < 1065), (zone, at)
