"""The tally behind every report figure: exact from raw rows, within the histogram's error once roll-ups join, and
a roll-up row adds back exactly what its incidents gave (issue 17)."""

from __future__ import annotations

import random
import statistics

import pytest

from stormwatch.reports.queries import DayRow, IncidentRow, SlaRow
from stormwatch.reports.tally import HISTOGRAM_ERROR, Tally, bucket, hist_percentile, representative


def incidents(n: int, seed: int) -> list[IncidentRow]:
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        created = 1_796_000_000.0 + rnd.uniform(0, 86400)
        acked = created + rnd.expovariate(1 / 600) if rnd.random() < 0.7 else None
        resolved = created + rnd.expovariate(1 / 7200) if rnd.random() < 0.8 else None
        out.append(IncidentRow(f"INC-{k}", created, acked, resolved, rnd.randint(1, 9), rnd.randint(1, 3),
                               rnd.randint(0, 2), "dba", "orders", "P1"))
    return out


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[round(q * 10) - 1]


def test_a_bucket_stands_for_its_geometric_middle() -> None:
    for seconds in (0.5, 1.0, 59.0, 3600.0, 86400.0 * 30):
        assert abs(representative(bucket(seconds)) - seconds) <= HISTOGRAM_ERROR * seconds
    assert representative(bucket(0.0)) == 0.0 and representative(bucket(-3.0)) == 0.0


def test_raw_rows_give_exact_percentiles_and_rollups_give_them_within_the_error() -> None:
    rows = incidents(500, seed=1)
    raw = Tally()
    for r in rows:
        raw.add(r, r.id.endswith("7"), [SlaRow(r.id, "respond", "met" if r.alerts > 1 else "breached", None, None)])
    exact = raw.figures()
    ttr = [r.first_resolved_at - r.created_at for r in rows if r.first_resolved_at is not None]
    assert exact["mttr_p90"] == pytest.approx(quantile(ttr, 0.9), rel=1e-12)
    assert exact["mttr_mean"] == pytest.approx(statistics.fmean(ttr), rel=1e-12)
    # the same incidents as two roll-up days plus a few raw ones
    first, second, rest = rows[:200], rows[200:450], rows[450:]
    mixed = Tally()
    for part in (first, second):
        day = Tally()
        for r in part:
            day.add(r, r.id.endswith("7"), [SlaRow(r.id, "respond", "met" if r.alerts > 1 else "breached",
                                                   None, None)])
        mixed.add_day(DayRow(0.0, "all", "", **day.rollup(), minutes={}, alert_names={}))
    for r in rest:
        mixed.add(r, r.id.endswith("7"), [SlaRow(r.id, "respond", "met" if r.alerts > 1 else "breached", None, None)])
    approx = mixed.figures()
    for name in ("incidents", "notifications", "duplicates", "acknowledged", "resolved", "reopened", "reopen_rate",
                 "sla_respond_met", "sla_respond_breached", "sla_respond_met_rate", "sla_breaches"):
        assert approx[name] == exact[name], name
    for name in ("mtta_mean", "mttr_mean", "compression", "symptom_share"):
        assert abs(approx[name] - exact[name]) <= 1e-9 * exact[name], name
    for name in ("mtta_p50", "mtta_p90", "mttr_p50", "mttr_p90"):
        assert abs(approx[name] - exact[name]) <= HISTOGRAM_ERROR * exact[name], name


def test_histogram_percentiles_interpolate_between_ranks() -> None:
    assert hist_percentile({}, 0.5) is None
    one = bucket(100.0)
    assert hist_percentile({one: 1}, 0.9) == representative(one)
    low, high = bucket(10.0), bucket(1000.0)
    # two values: p50 is halfway between them, as percentile_cont gives
    assert hist_percentile({low: 1, high: 1}, 0.5) == pytest.approx((representative(low) + representative(high)) / 2)
