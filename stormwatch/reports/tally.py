"""The figures of a set of incidents, added up one incident (a raw row) or one day (a roll-up row) at a time: pure.

Counts and sums add up exactly whatever the mix. Percentiles are exact (linear interpolation between the closest
ranks, as PostgreSQL's ``percentile_cont``) while every duration is at hand; once a roll-up's histogram is part
of the set, they are read from the histogram: log buckets of ratio ``HISTOGRAM_RATIO``, each bucket standing for
its geometric middle, so a percentile is within ``HISTOGRAM_ERROR`` (relative) of the exact one (docs/reports.md).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stormwatch.reports.queries import DayRow, IncidentRow, SlaRow

HISTOGRAM_RATIO = 1.02
#: the largest relative error of a percentile read from a histogram (half a bucket, geometrically)
HISTOGRAM_ERROR = math.sqrt(HISTOGRAM_RATIO) - 1
#: the bucket of durations of zero (an acknowledgement stamped at or before the opening)
ZERO = -(10**6)
_LOG = math.log(HISTOGRAM_RATIO)
#: the SLA outcomes counted: "<kind>:<stage>"
SLA_KEYS = ("respond:met", "respond:breached", "resolve:met", "resolve:breached")


def bucket(seconds: float) -> int:
    return ZERO if seconds <= 0 else math.floor(math.log(seconds) / _LOG)


def representative(index: int) -> float:
    return 0.0 if index == ZERO else HISTOGRAM_RATIO ** (index + 0.5)


def hist_percentile(hist: Mapping[int, int], q: float) -> float | None:
    """The q-quantile of the durations a histogram counts, interpolated between the closest ranks' buckets."""
    total = sum(hist.values())
    if not total:
        return None
    rank = q * (total - 1)
    low = math.floor(rank)
    high = min(low + 1, total - 1)
    values: dict[int, float] = {}
    seen = 0
    for index in sorted(hist):
        count = hist[index]
        for wanted in (low, high):
            if wanted not in values and seen <= wanted < seen + count:
                values[wanted] = representative(index)
        seen += count
        if high in values:
            break
    return values[low] + (values[high] - values[low]) * (rank - low)


def _interpolate(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _histogram(data: Mapping[str, Any] | None) -> Counter[int]:
    return Counter({int(k): int(v) for k, v in (data or {}).items()})


@dataclass(slots=True)
class Tally:
    incidents: int = 0
    notifications: int = 0
    alerts: int = 0
    symptoms: int = 0
    duplicates: int = 0
    reopened: int = 0
    tta: list[float] = field(default_factory=list)  # exact durations (raw rows)
    ttr: list[float] = field(default_factory=list)
    tta_hist: Counter[int] = field(default_factory=Counter)  # roll-ups' durations
    ttr_hist: Counter[int] = field(default_factory=Counter)
    tta_sum: float = 0.0  # roll-ups' sums and counts (the raw ones are the lists)
    ttr_sum: float = 0.0
    tta_n: int = 0
    ttr_n: int = 0
    sla: Counter[str] = field(default_factory=Counter)

    def add(self, r: IncidentRow, reopened: bool, sla: Iterable[SlaRow] = ()) -> None:
        created = r.created_at
        acked, resolved = r.first_acknowledged_at, r.first_resolved_at
        if acked is not None:
            self.tta.append(acked - created if acked > created else 0.0)
        if resolved is not None:
            self.ttr.append(resolved - created if resolved > created else 0.0)
        self.incidents += 1
        self.notifications += r.occurrences
        self.alerts += r.alerts
        self.symptoms += r.symptoms
        if r.occurrences > r.alerts:
            self.duplicates += r.occurrences - r.alerts
        if reopened:
            self.reopened += 1
        for record in sla:
            key = f"{record.kind}:{record.stage}"
            if key in SLA_KEYS:
                self.sla[key] += 1

    def add_day(self, d: DayRow) -> None:
        self.incidents += d.incidents
        self.notifications += d.notifications
        self.alerts += d.alerts
        self.symptoms += d.symptoms
        self.duplicates += d.duplicates
        self.reopened += d.reopened
        self.tta_n += d.acknowledged
        self.tta_sum += d.tta_sum
        self.ttr_n += d.resolved
        self.ttr_sum += d.ttr_sum
        self.tta_hist.update(_histogram(d.tta_hist))
        self.ttr_hist.update(_histogram(d.ttr_hist))
        self.sla.update({k: int(v) for k, v in (d.sla or {}).items() if k in SLA_KEYS})

    def _durations(self, exact: list[float], hist: Counter[int], total: float, n: int) -> dict[str, Any]:
        count = len(exact) + n
        out: dict[str, Any] = {"count": count, "mean": (sum(exact) + total) / count if count else None}
        if hist:
            merged = hist + Counter(bucket(v) for v in exact)
            out |= {"p50": hist_percentile(merged, 0.5), "p90": hist_percentile(merged, 0.9)}
        else:
            exact.sort()
            out |= {"p50": _interpolate(exact, 0.5), "p90": _interpolate(exact, 0.9)}
        return out

    def figures(self) -> dict[str, Any]:
        tta = self._durations(self.tta, self.tta_hist, self.tta_sum, self.tta_n)
        ttr = self._durations(self.ttr, self.ttr_hist, self.ttr_sum, self.ttr_n)
        count = self.incidents
        out = {
            "incidents": count, "notifications": self.notifications, "compression": ratio(self.notifications, count),
            "symptoms": self.symptoms, "symptom_share": ratio(self.symptoms, self.alerts + self.symptoms),
            "duplicates": self.duplicates,
            "acknowledged": tta["count"], "mtta_mean": tta["mean"], "mtta_p50": tta["p50"], "mtta_p90": tta["p90"],
            "resolved": ttr["count"], "mttr_mean": ttr["mean"], "mttr_p50": ttr["p50"], "mttr_p90": ttr["p90"],
            "reopened": self.reopened, "reopen_rate": ratio(self.reopened, count),
        }
        for kind in ("respond", "resolve"):
            met, breached = self.sla[f"{kind}:met"], self.sla[f"{kind}:breached"]
            out |= {f"sla_{kind}_met": met, f"sla_{kind}_breached": breached,
                    f"sla_{kind}_met_rate": ratio(met, met + breached)}
        out["sla_breaches"] = self.sla["respond:breached"] + self.sla["resolve:breached"]
        return out

    def rollup(self) -> dict[str, Any]:
        """The columns of a roll-up row from raw incidents (what ``add_day`` adds back)."""
        return {"incidents": self.incidents, "notifications": self.notifications, "alerts": self.alerts,
                "symptoms": self.symptoms, "duplicates": self.duplicates, "reopened": self.reopened,
                "acknowledged": len(self.tta) + self.tta_n, "tta_sum": sum(self.tta) + self.tta_sum,
                "resolved": len(self.ttr) + self.ttr_n, "ttr_sum": sum(self.ttr) + self.ttr_sum,
                "sla": {k: v for k, v in sorted(self.sla.items()) if v},
                "tta_hist": _dump(self.tta_hist + Counter(bucket(v) for v in self.tta)),
                "ttr_hist": _dump(self.ttr_hist + Counter(bucket(v) for v in self.ttr))}


def _dump(hist: Counter[int]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(hist.items())}
