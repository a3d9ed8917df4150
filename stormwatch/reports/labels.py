"""How people read the figures: a label for each, and its value as text (durations, shares, counts). The terminal
tables and the HTML page share these; the JSON and CSV keep raw numbers."""

from __future__ import annotations

from typing import Any

from stormwatch.reports.major import DURATIONS as MAJOR_DURATIONS, LABELS as MAJOR_LABELS
from stormwatch.reports.muted import LABELS as MUTED_LABELS

LABELS = {
    "incidents": "Incidents opened", "notifications": "Notifications received",
    "compression": "Notifications per incident", "symptoms": "Symptoms attached",
    "symptom_share": "Alerts correlated as symptoms", "duplicates": "Repeated notifications",
    "acknowledged": "Incidents acknowledged", "mtta_mean": "MTTA mean", "mtta_p50": "MTTA p50", "mtta_p90": "MTTA p90",
    "resolved": "Incidents resolved", "mttr_mean": "MTTR mean", "mttr_p50": "MTTR p50", "mttr_p90": "MTTR p90",
    "reopened": "Incidents reopened", "reopen_rate": "Reopen rate",
    "interruptions_business_hours": "Interruptions in business hours",
    "interruptions_outside_business_hours": "Interruptions outside business hours",
    "action_runs": "Action runs", "action_success_rate": "Action success rate",
    "resolved_after_action": "Resolved after an action", "time_saved_seconds": "Time saved by actions",
    "silences": "Silences created", "silenced_seconds": "Silenced time",
    "sla_respond_met": "Respond SLA met", "sla_respond_breached": "Respond SLA breached",
    "sla_respond_met_rate": "Respond SLA attainment", "sla_resolve_met": "Resolve SLA met",
    "sla_resolve_breached": "Resolve SLA breached", "sla_resolve_met_rate": "Resolve SLA attainment",
    "sla_breaches": "SLA breaches",
}
DURATIONS = frozenset({"mtta_mean", "mtta_p50", "mtta_p90", "mttr_mean", "mttr_p50", "mttr_p90",
                       "time_saved_seconds", "silenced_seconds"})
SHARES = frozenset({"symptom_share", "reopen_rate", "action_success_rate", "sla_respond_met_rate",
                    "sla_resolve_met_rate"})


#: a figure shown as a duration (``show`` and ``change`` format by the figure's name)
_A_DURATION = "mttr_mean"


def major_table(report: dict[str, Any]) -> list[list[str]]:
    """The major incidents section's figures as rows (label, this window, previous, change): terminal and HTML."""
    rows = []
    for name, f in ((report.get("major_incidents") or {}).get("figures") or {}).items():
        kind = _A_DURATION if name in MAJOR_DURATIONS else name  # its times read as durations, the rest as numbers
        rows.append([MAJOR_LABELS.get(name, name), show(kind, f["value"]), show(kind, f["previous"]),
                     change(kind, f)])
    return rows


def muted_table(report: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    """The muted notifications section (issue 17): its figures (label, this window, previous, change), then the
    reasons that muted the most (kind, name, this window, previous, change): terminal and HTML."""
    section = report.get("muted") or {}
    figures = [[MUTED_LABELS.get(name, name), show(name, f["value"]), show(name, f["previous"]), change(name, f)]
               for name, f in (section.get("figures") or {}).items()]
    top = [[r["kind"], r["name"], show("n", r["notifications"]), show("n", r["previous"]),
            change("n", {"change": r["change"]})] for r in section.get("top") or ()]
    return figures, top


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def show(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if name in DURATIONS:
        return duration(float(value))
    if name in SHARES:
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def change(name: str, figure: dict[str, Any]) -> str:
    """The change against the previous window, as text (``+12``, ``-3.5m``, ``+4.0 pt``)."""
    delta = figure.get("change")
    if delta is None:
        return ""
    sign = "+" if delta > 0 else "-" if delta < 0 else "±"
    if name in SHARES:
        return f"{sign}{abs(100 * delta):.1f} pt"
    if name in DURATIONS:
        return sign + duration(abs(delta))
    return f"{sign}{abs(delta):,.2f}" if isinstance(delta, float) and not delta.is_integer() else \
        f"{sign}{abs(int(delta)):,}"
