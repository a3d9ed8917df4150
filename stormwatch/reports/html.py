"""A report as one self-contained HTML page: inline CSS, the server-drawn SVG charts inline, nothing fetched from
anywhere (no script at all). Every text from the data is escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from stormwatch.reports.labels import LABELS, change, major_table, muted_table, show
from stormwatch.reports.svg import charts

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#111;max-width:1400px}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.up{color:#b91c1c}.down{color:#047857}.muted{color:#666}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts svg{border:1px solid #eee;background:#fff}
"""


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{escape(c)}</td>' if i else f"<td>{escape(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _major(report: dict[str, Any]) -> str:
    """The major incidents section (issue 21): its figures and the window's major incidents."""
    incidents = [[i["id"], _when(i["major_at"]), i["commander"] or "–", i["communications_lead"] or "–",
                  str(i["status_updates"])] for i in (report.get("major_incidents") or {}).get("incidents") or ()]
    return ("<h2>Major incidents</h2>" + _table(["figure", "this window", "previous", "change"], major_table(report))
            + _table(["incident", "major since", "commander", "communications lead", "updates"], incidents))


def _muted(report: dict[str, Any]) -> str:
    """The muted notifications section (issue 17): its figures and the silences and windows that muted the most."""
    figures, top = muted_table(report)
    note = ("<p class=\"muted\">For every priority: muted notifications open no incident to have one.</p>"
            if (report.get("muted") or {}).get("filtered") else "")
    return ("<h2>Muted notifications</h2>" + note + _table(["figure", "this window", "previous", "change"], figures)
            + _table(["kind", "silence or window", "this window", "previous", "change"], top))


def page(report: dict[str, Any]) -> str:
    w = report["window"]
    filters = ", ".join(f"{k} {v}" for k, v in w["filters"].items() if v) or "all teams, services and priorities"
    figures = [[LABELS[name], show(name, f["value"]), show(name, f["previous"]), change(name, f)]
               for name, f in report["figures"].items()]
    breakdowns = ""
    for section, key in (("by_team", "team"), ("by_service", "service"), ("by_priority", "priority")):
        rows = [[r[key] or "(none)", show("incidents", r["incidents"]), show("notifications", r["notifications"]),
                 show("mtta_p50", r["mtta_p50"]), show("mttr_p50", r["mttr_p50"]), show("mttr_p90", r["mttr_p90"]),
                 show("reopen_rate", r["reopen_rate"]), show("sla_respond_met_rate", r["sla_respond_met_rate"]),
                 show("sla_resolve_met_rate", r["sla_resolve_met_rate"]), show("sla_breaches", r["sla_breaches"])]
                for r in report[section]]
        breakdowns += f"<h2>By {key}</h2>" + _table(
            [key, "incidents", "notifications", "MTTA p50", "MTTR p50", "MTTR p90", "reopen rate", "respond SLA",
             "resolve SLA", "SLA breaches"], rows)
    alerts = report["alerts"]
    noisy = _table(["alert", "notifications", "incidents"],
                   [[a["alertname"], show("n", a["notifications"]), show("n", a["incidents"])]
                    for a in alerts["by_notifications"]])
    problems = _table(["problem", "title", "status", "incidents"],
                      [[p["id"], p["title"], p["status"], show("n", p["incidents"])] for p in report["problems"]])
    missing = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in report["not_recorded"].items())
    missing = f"<h2>Not in the history</h2><ul>{missing}</ul>" if missing else ""
    svgs = "".join(charts(report).values())
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>Stormwatch report</title><style>{_STYLE}</style></head><body>"
        f"<h1>Stormwatch report: {escape(_when(w['since']))} to {escape(_when(w['until']))}</h1>"
        f"<p class=\"muted\">{escape(filters)}; compared with {escape(_when(w['previous']['since']))} to "
        f"{escape(_when(w['previous']['until']))}; business hours {escape(report['business_hours'])}</p>"
        f"<div class=\"charts\">{svgs}</div>"
        "<h2>Figures</h2>" + _table(["figure", "this window", "previous", "change"], figures)
        + _major(report) + _muted(report) + breakdowns + "<h2>Noisiest alerts</h2>" + noisy
        + "<h2>Problems with the most incidents</h2>" + problems
        + f"{missing}</body></html>")
