"""Figures from a window's rows: pure (rows in, numbers out; no I/O, no clock). docs/reports.md defines each one.

Percentiles are computed here, in Python, from the durations the queries fetched (so SQLite and PostgreSQL give the
same answer from the same SQL): linear interpolation between the closest ranks, as PostgreSQL's
``percentile_cont`` does.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stormwatch.reports.queries import TOP, DayRow, IncidentRow, Rows, SlaRow
from stormwatch.reports.tally import Tally
from stormwatch.reports.window import BusinessHours, Window

#: the scalar figures, in the order tables and CSV list them
SCALARS = (
    "incidents", "notifications", "compression", "symptoms", "symptom_share", "duplicates",
    "acknowledged", "mtta_mean", "mtta_p50", "mtta_p90", "resolved", "mttr_mean", "mttr_p50", "mttr_p90",
    "reopened", "reopen_rate", "interruptions_business_hours", "interruptions_outside_business_hours",
    "action_runs", "action_success_rate", "resolved_after_action", "time_saved_seconds",
    "silences", "silenced_seconds",
    "sla_respond_met", "sla_respond_breached", "sla_respond_met_rate",
    "sla_resolve_met", "sla_resolve_breached", "sla_resolve_met_rate", "sla_breaches",
)
#: the figures of each breakdown row (team, service, priority) and of each bucket of the series
ROW_FIGURES = ("incidents", "notifications", "compression", "mtta_mean", "mtta_p50", "mtta_p90", "mttr_mean",
               "mttr_p50", "mttr_p90", "reopen_rate", "sla_respond_met_rate", "sla_resolve_met_rate", "sla_breaches")
#: finished run states, for the success rate
SUCCEEDED, FAILED = "succeeded", "failed"


def percentile(values: Sequence[float], q: float, *, ordered: bool = False) -> float | None:
    """The q-quantile (0..1) of ``values`` (already sorted when ``ordered``), interpolated linearly between closest
    ranks; None when empty."""
    if not values:
        return None
    if not ordered:
        values = sorted(values)
    return _interpolate(values, q)


def _interpolate(ordered: Sequence[float], q: float) -> float:
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def incident_figures(incidents: Sequence[IncidentRow], reopened: frozenset[str],
                     sla: Mapping[str, Sequence[SlaRow]] | None = None) -> dict[str, Any]:
    """The figures a set of incidents gives on its own (the totals, a bucket, a breakdown row); one pass."""
    tally = Tally()
    for r in incidents:
        tally.add(r, r.id in reopened, (sla or {}).get(r.id, ()))
    return tally.figures()


def _tally(rows: Rows, incidents: Sequence[IncidentRow], days: Sequence[DayRow]) -> Tally:
    tally = Tally()
    for r in incidents:
        tally.add(r, r.id in rows.reopened, rows.sla.get(r.id, ()))
    for d in days:
        tally.add_day(d)
    return tally


def scalar_figures(rows: Rows, window: Window, hours: BusinessHours) -> dict[str, Any]:
    totals = [d for d in rows.days if d.dim == "all"]
    figures = _tally(rows, rows.incidents, totals).figures()
    inside = sum(1 for r in rows.incidents if hours.contains(r.created_at))
    for d in totals:  # openings per minute of the day: business hours are whole minutes
        inside += sum(int(n) for minute, n in d.minutes.items() if hours.contains(d.day + 60 * int(minute)))
    figures["interruptions_business_hours"] = inside
    figures["interruptions_outside_business_hours"] = figures["incidents"] - inside
    figures.update(automation(rows))
    figures.update(silence_figures(rows, window))
    return {name: figures[name] for name in SCALARS}


def automation(rows: Rows) -> dict[str, Any]:
    """Runs, success rate, incidents resolved after an action, time saved: from the raw runs plus the run
    roll-ups' counts and sums (``rows.run_days``); with roll-ups the database counts the incidents resolved after
    an action (``rows.resolved_after_action``), otherwise they are matched here, run by run."""
    succeeded = [r for r in rows.runs if r.state == SUCCEEDED]
    counts = Counter(r.state for r in rows.runs)
    saved = sum(r.saves for r in succeeded if r.saves is not None)
    for d in rows.run_days:
        counts[d.state] += d.runs
        if d.state == SUCCEEDED:
            saved += d.saves
    if rows.resolved_after_action is not None:
        resolved_after = rows.resolved_after_action
    else:
        first_action: dict[str, float] = {}
        for run in succeeded:
            if run.incident_id and run.finished_at is not None:
                first_action[run.incident_id] = min(first_action.get(run.incident_id, math.inf), run.finished_at)
        resolved_after = sum(1 for r in rows.incidents if r.first_resolved_at is not None
                             and r.id in first_action and first_action[r.id] <= r.first_resolved_at)
    return {"action_runs": sum(counts.values()),
            "action_success_rate": ratio(counts[SUCCEEDED], counts[SUCCEEDED] + counts[FAILED]),
            "resolved_after_action": resolved_after, "time_saved_seconds": saved}


def silence_figures(rows: Rows, window: Window) -> dict[str, Any]:
    created = sum(1 for s in rows.silences if window.since <= s.created_at < window.until)
    seconds = 0.0
    for s in rows.silences:
        end = min(s.ends_at, s.expired_at) if s.expired_at is not None else s.ends_at
        seconds += max(min(end, window.until) - max(s.starts_at, window.since), 0.0)
    return {"silences": created, "silenced_seconds": seconds}


def runs_by_state(rows: Rows) -> dict[str, int]:
    counts = Counter(r.state for r in rows.runs)
    for d in rows.run_days:
        counts[d.state] += d.runs
    return dict(sorted(counts.items()))


def breakdown(rows: Rows, key: Callable[[IncidentRow], str], name: str) -> list[dict[str, Any]]:
    """One row per value of ``key`` (team, service, priority), most incidents first."""
    groups: dict[str, list[IncidentRow]] = defaultdict(list)
    for row in rows.incidents:
        groups[key(row)].append(row)
    days: dict[str, list[DayRow]] = defaultdict(list)
    for d in rows.days:
        if d.dim == name:
            days[d.value].append(d)
    out = []
    for value in groups.keys() | days.keys():
        figures = _tally(rows, groups.get(value, ()), days.get(value, ())).figures()
        out.append({name: value, **{f: figures[f] for f in ROW_FIGURES}})
    return sorted(out, key=lambda r: (-r["incidents"], r[name]))


def series(rows: Rows, window: Window) -> list[dict[str, Any]]:
    """The figures of each period bucket of the window, oldest first."""
    buckets = window.buckets()
    members: list[list[IncidentRow]] = [[] for _ in buckets]
    days: list[list[DayRow]] = [[] for _ in buckets]
    starts = [b[0] for b in buckets]
    for row in rows.incidents:
        index = _bucket_of(starts, row.created_at)
        if index is not None:
            members[index].append(row)
    for d in rows.days:  # whole UTC days: each inside one bucket (buckets start at UTC midnights)
        index = _bucket_of(starts, d.day)
        if d.dim == "all" and index is not None:
            days[index].append(d)
    out = []
    for (start, end), group, daily in zip(buckets, members, days, strict=True):
        figures = _tally(rows, group, daily).figures()
        out.append({"start": start, "end": end, **{f: figures[f] for f in ROW_FIGURES}})
    return out


def _bucket_of(starts: list[float], at: float) -> int | None:
    low, high = 0, len(starts)
    while low < high:  # the last bucket starting at or before `at`
        mid = (low + high) // 2
        if starts[mid] <= at:
            low = mid + 1
        else:
            high = mid
    return low - 1 if low else None


def noisiest(rows: Rows) -> dict[str, list[dict[str, Any]]]:
    """Alert names ranked by notifications and by incidents; the flapping ones by incidents they flapped in."""
    names: list[dict[str, Any]] = [{"alertname": a.alertname or "(no alertname)", "notifications": a.notifications,
              "incidents": a.incidents, "flapping_incidents": a.flapping_incidents} for a in rows.alert_names]

    def top(key: str) -> list[dict[str, Any]]:
        return sorted((n for n in names if n[key]), key=lambda n: (-n[key], n["alertname"]))[:TOP]

    plain = ("alertname", "notifications", "incidents")
    return {"by_notifications": [{k: n[k] for k in plain} for n in top("notifications")],
            "by_incidents": [{k: n[k] for k in plain} for n in top("incidents")],
            "flapping": top("flapping_incidents")}


def trend(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each scalar with the previous window's value and the change (None when either side has none)."""
    out = {}
    for name in SCALARS:
        now, before = current[name], previous[name]
        change = now - before if now is not None and before is not None else None
        relative = change / before if change is not None and before else None
        out[name] = {"value": now, "previous": before, "change": change, "relative_change": relative}
    return out
