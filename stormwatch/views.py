"""The API's documents as people read them: timestamps, and tables of incidents, problems, action runs and
timelines. The CLI's commands and the demo (``stormwatch.tools.demo``) print them."""

from __future__ import annotations

from datetime import datetime, UTC
from typing import Any

from rich.table import Table


def ts(value: float | None) -> str:
    """A Unix time for people: ``2026-01-02 03:04:05Z``; ``-`` for none."""
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def timeline_table(entries: list[dict[str, Any]]) -> Table:
    """An incident's or problem's timeline entries (``at``, ``kind``, ``text``) for people."""
    table = Table(title="timeline")
    for col in ("at", "kind", "what"):
        table.add_column(col)
    for e in entries:
        table.add_row(ts(e["at"]), e["kind"], e["text"])
    return table


def span(seconds: float) -> str:
    """Seconds for people: ``4m05s``, ``2h10m``, ``3d4h``; negative with a leading ``-``."""
    sign, left = ("-" if seconds < 0 else ""), int(abs(seconds))
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    return f"{sign}{minutes}m{secs:02d}s"


#: an SLA stage's colour in the CLI (the console uses the same words as classes)
SLA_COLOURS = {"running": "green", "warning": "yellow", "breached": "red", "met": "dim"}


def sla_cell(records: list[dict[str, Any]]) -> str:
    """The most urgent running SLA record of an incident as rich markup: kind and time left, coloured by stage;
    ``breached``; ``met``; ``paused``; ``-`` without records."""
    if not records:
        return "-"
    breached = [r for r in records if r["stage"] == "breached"]
    if breached:
        return f"[red]{breached[0]['kind']} breached[/red]"
    running = [r for r in records if r.get("time_left") is not None]
    if running:
        first = min(running, key=lambda r: r["time_left"])
        colour = SLA_COLOURS.get(first["stage"], "green")
        return f"[{colour}]{first['kind']} {span(first['time_left'])}[/{colour}]"
    if any(r.get("paused") for r in records):
        return "[cyan]paused[/cyan]"
    return "[dim]met[/dim]"


def incidents_table(incidents: list[dict[str, Any]], title: str = "incidents") -> Table:
    table = Table(title=title)
    for col in ("id", "title", "priority", "severity", "status", "team", "alerts", "firing", "occurrences", "created",
                "sla"):
        table.add_column(col, justify="right" if col in ("alerts", "firing", "occurrences") else "left")
    for inc in incidents:
        table.add_row(inc["id"], inc["title"], inc["priority"] or "-", inc["severity"], inc["status"],
                      inc["team"] or "-", str(inc["alerts"]), str(inc["firing"]), str(inc["occurrences"]),
                      ts(inc["created_at"]), sla_cell(inc.get("sla") or []))
    return table


def sla_table(records: list[dict[str, Any]]) -> Table:
    """An incident's SLA records, one row each."""
    table = Table(title="service levels")
    for col in ("kind", "policy", "priority", "target", "calendar", "started", "paused", "due", "time left", "stage",
                "met", "breached"):
        table.add_column(col)
    for r in records:
        colour = SLA_COLOURS.get(r["stage"], "green")
        paused = sum(end - start for start, end in r["pauses"] if end is not None)
        table.add_row(r["kind"], r["policy"], r["priority"], span(r["target"]), r["calendar"], ts(r["started"]),
                      ("now; " if r.get("paused") else "") + span(paused), ts(r.get("due")),
                      "-" if r.get("time_left") is None else span(r["time_left"]),
                      f"[{colour}]{r['stage']}[/{colour}]", ts(r.get("met_at")), ts(r.get("breached_at")))
    return table


def problems_table(problems: list[dict[str, Any]], title: str = "problems") -> Table:
    table = Table(title=title)
    for col in ("id", "title", "status", "team", "incidents", "rule", "created"):
        table.add_column(col)
    for p in problems:
        table.add_row(p["id"], p["title"], p["status"], p["team"] or "-", str(len(p["incidents"])), p["rule"],
                      ts(p["created_at"]))
    return table


def runs_table(runs: list[dict[str, Any]], title: str = "action runs") -> Table:
    table = Table(title=title)
    for col in ("run", "state", "action", "type", "incident/problem", "trigger", "created", "detail"):
        table.add_column(col)
    for r in runs:
        table.add_row(r.get("run_id", ""), r.get("state", ""), r.get("action", ""), r.get("type", ""),
                      r.get("incident") or r.get("problem", ""), r.get("trigger", ""), ts(float(r["created_at"]))
                      if r.get("created_at") else "-", (r.get("detail") or "")[:80])
    return table


def history_table(incidents: list[dict[str, Any]], title: str = "incident history") -> Table:
    """Incidents as the history holds them (``stormwatch history search``)."""
    table = Table(title=title)
    for col in ("id", "title", "priority", "status", "team", "service", "alerts", "created", "resolved"):
        table.add_column(col, justify="right" if col == "alerts" else "left")
    for inc in incidents:
        table.add_row(inc["id"], inc["title"], inc["priority"] or "-", inc["status"], inc["team"] or "-",
                      inc["service"] or "-", str(inc["alerts"]), ts(inc["created_at"]), ts(inc["resolved_at"]))
    return table


def services_table(services: list[dict[str, Any]], title: str = "services") -> Table:
    table = Table(title=title)
    for col in ("service", "health", "owner", "tier", "business services", "depends on", "open incidents"):
        table.add_column(col)
    for s in services:
        table.add_row(s["name"] + ("" if s["known"] else " (not in the catalog)"), s["health"], s["owner"] or "-",
                      str(s["tier"]) if s["tier"] is not None else "-", ", ".join(s["affects"]) or "-",
                      ", ".join(s["depends_on"]) or "-", str(len(s["open_incidents"])))
    return table


def business_services_table(items: list[dict[str, Any]], title: str = "business services") -> Table:
    table = Table(title=title)
    for col in ("business service", "health", "owner", "services", "open incidents"):
        table.add_column(col)
    for b in items:
        table.add_row(b["name"], b["health"], b["owner"] or "-", ", ".join(b["services"]) or "-",
                      str(len(b["open_incidents"])))
    return table
