"""``stormwatch report``: the history's figures for a window, with their trend (Rich tables, ``--json``, ``--csv``,
or ``--html FILE``: one self-contained page with charts); ``stormwatch incidents export``: a post-incident review
draft (Markdown or JSON).

Both read the history database (``STORMWATCH_HISTORY_URL``, else the SQLite file ``STORMWATCH_HISTORY_PATH``);
``report`` goes through the API instead when ``STORMWATCH_API_URL`` or ``STORMWATCH_API_TOKEN`` is set, like the
other views. ``export`` drafts from what Redis (or the API) still holds when the history lacks the incident.
"""

from __future__ import annotations

import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from stormwatch.cli import context
from stormwatch.cli.backend import BackendError, answer, ask, uses_api
from stormwatch.cli.output import console, err, print_json
from stormwatch.config import Settings
from stormwatch.errors import ServiceUnavailable
from stormwatch.reports.csv_out import to_csv
from stormwatch.reports.html import page
from stormwatch.reports.labels import LABELS, change, major_table, muted_table, show
from stormwatch.reports.window import Window, WindowError, window


def report_command(
    since: str = typer.Option("30d", help="Start: a duration before now (30d), epoch seconds or RFC 3339."),
    until: str = typer.Option("", help="End (exclusive); default now."),
    period: str = typer.Option("", help="Series buckets: day, week or month (default by the window's length)."),
    team: str = typer.Option("", help="Only incidents of this team."),
    service: str = typer.Option("", help="Only incidents of this service."),
    priority: str = typer.Option("", help="Only incidents of this priority (P1..P5)."),
    json_out: bool = typer.Option(False, "--json", help="The report as one line of JSON."),
    csv_out: bool = typer.Option(False, "--csv", help="The report as CSV (section,key,figure,value,previous,change)."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML page with charts to FILE.",
                                     dir_okay=False, writable=True),
) -> None:
    """Figures from the incident history (MTTA, MTTR, noise, automation, ...) against the previous window."""
    if sum((json_out, csv_out, html is not None)) > 1:
        err.print("choose one of --json, --csv, --html")
        raise typer.Exit(2)
    params = {"since": since, "until": until, "period": period, "team": team, "service": service,
              "priority": priority}
    try:
        w = window(time.time(), **params)
    except WindowError as exc:
        err.print(f"--{exc.field}: {exc.detail}", markup=False)
        raise typer.Exit(2) from None
    settings = context.settings(log_level="warning")
    report = _from_api(settings, params) if uses_api(settings) else context.run(_from_history(settings, w))
    if json_out:
        print_json(report)
    elif csv_out:
        sys.stdout.write(to_csv(report))
    elif html is not None:
        html.write_text(page(report), encoding="utf-8")
        err.print(f"wrote {html}", markup=False, highlight=False)
    else:
        print_tables(report)


def _from_api(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v})
    try:
        return ask(settings, "GET", f"/api/v1/reports/summary?{query}", None, "report")
    except BackendError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None


async def _from_history(settings: Settings, w: Window) -> dict[str, Any]:
    from stormwatch.history.database import open_engine, redacted
    from stormwatch.reports.source import HistoryReports, HistoryUnavailable, missing_file
    from stormwatch.reports.window import parse_business_hours

    missing = missing_file(settings.history_database)
    if missing is not None:
        raise ServiceUnavailable(f"no history database at {missing} (STORMWATCH_HISTORY_PATH or "
                                 "STORMWATCH_HISTORY_URL; the history writer in `serve` fills it)")
    reports = HistoryReports(open_engine(settings.history_database), parse_business_hours(settings.business_hours))
    try:
        return await reports.report(w)
    except HistoryUnavailable as exc:
        raise ServiceUnavailable(f"{exc} ({redacted(settings.history_database)})") from None
    finally:
        await reports.close()


def print_tables(report: dict[str, Any]) -> None:
    w = report["window"]
    figures = Table(title=f"Report {_day(w['since'])} → {_day(w['until'])} (previous: {_day(w['previous']['since'])}"
                          f" → {_day(w['previous']['until'])})")
    for name, justify in (("figure", "left"), ("this window", "right"), ("previous", "right"), ("change", "right")):
        figures.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name, f in report["figures"].items():
        figures.add_row(LABELS[name], show(name, f["value"]), show(name, f["previous"]), change(name, f))
    console.print(figures)
    for section, key in (("by_team", "team"), ("by_service", "service"), ("by_priority", "priority")):
        table = Table(title=f"By {key}")
        for column in (key, "incidents", "notifications", "MTTA p50", "MTTR p50", "MTTR p90", "reopen rate",
                       "respond SLA", "resolve SLA", "SLA breaches"):
            table.add_column(column, justify="left" if column == key else "right")
        for row in report[section]:
            table.add_row(row[key] or "(none)", show("incidents", row["incidents"]),
                          show("notifications", row["notifications"]), show("mtta_p50", row["mtta_p50"]),
                          show("mttr_p50", row["mttr_p50"]), show("mttr_p90", row["mttr_p90"]),
                          show("reopen_rate", row["reopen_rate"]),
                          show("sla_respond_met_rate", row["sla_respond_met_rate"]),
                          show("sla_resolve_met_rate", row["sla_resolve_met_rate"]),
                          show("sla_breaches", row["sla_breaches"]))
        console.print(table)
    for title, items, value in (("Noisiest alerts (notifications)", report["alerts"]["by_notifications"],
                                 "notifications"),
                                ("Noisiest alerts (incidents)", report["alerts"]["by_incidents"], "incidents"),
                                ("Most flapping alerts", report["alerts"]["flapping"], "flapping_incidents")):
        table = Table(title=title)
        table.add_column("alert")
        table.add_column(value.replace("_", " "), justify="right")
        for item in items:
            table.add_row(item["alertname"], show(value, item[value]))
        console.print(table)
    _print_major(report)
    _print_muted(report)
    problems = Table(title="Problems with the most incidents")
    for column in ("problem", "title", "status", "incidents"):
        problems.add_column(column)
    for p in report["problems"]:
        problems.add_row(p["id"], p["title"], p["status"], str(p["incidents"]))
    console.print(problems)
    if report["not_recorded"]:
        console.print("Not in the history: " + "; ".join(f"{k} ({v})" for k, v in report["not_recorded"].items()),
                      highlight=False, markup=False)


def _print_muted(report: dict[str, Any]) -> None:
    """The muted notifications section (issue 17): its figures, then the silences and windows that muted the most."""
    figures, top = muted_table(report)
    title = "Muted notifications" + (" (all priorities)" if (report.get("muted") or {}).get("filtered")
                                     else "")
    table = Table(title=title)
    for name, justify in (("figure", "left"), ("this window", "right"), ("previous", "right"), ("change", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in figures:
        table.add_row(*row)
    console.print(table)
    if top:
        table = Table(title="Silences and windows that muted the most")
        for name, justify in (("kind", "left"), ("silence or window", "left"), ("this window", "right"),
                              ("previous", "right"), ("change", "right")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in top:
            table.add_row(*row)
        console.print(table)


def _print_major(report: dict[str, Any]) -> None:
    """The major incidents section (issue 21): its figures, then the window's major incidents."""
    figures = Table(title="Major incidents")
    for name, justify in (("figure", "left"), ("this window", "right"), ("previous", "right"), ("change", "right")):
        figures.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in major_table(report):
        figures.add_row(*row)
    console.print(figures)
    incidents = (report.get("major_incidents") or {}).get("incidents") or ()
    if incidents:
        table = Table(title="Major incidents of the window")
        for column in ("incident", "major since", "commander", "communications lead", "updates"):
            table.add_column(column)
        for i in incidents:
            table.add_row(i["id"], _day(i["major_at"]), i["commander"] or "–", i["communications_lead"] or "–",
                          str(i["status_updates"]))
        console.print(table)


def _day(at: float) -> str:
    from stormwatch.views import ts

    return ts(at)


def incidents_export(
    incident_id: str,
    fmt: str = typer.Option("md", "--format", help="md (Markdown) or json."),
) -> None:
    """A post-incident review draft: summary, impact, timeline of alerts, symptoms, actions and comments."""
    if fmt not in ("md", "json"):
        err.print("--format: md or json")
        raise typer.Exit(2)
    from stormwatch.reports.review import from_detail, markdown

    settings = context.settings(log_level="warning")
    review = context.run(_review_from_history(settings, incident_id))
    if review is None:  # not in the history: what Redis (or the API) still holds
        detail = answer(lambda b: b.incident(incident_id))
        review = from_detail(detail, detail.get("actions") or ())
    if fmt == "json":
        print_json(review)
    else:
        sys.stdout.write(markdown(review))


async def _review_from_history(settings: Settings, incident_id: str) -> dict[str, Any] | None:
    import sqlalchemy as sa

    from stormwatch.history.database import open_engine
    from stormwatch.reports.review import from_history
    from stormwatch.reports.source import missing_file

    if missing_file(settings.history_database) is not None:
        return None
    engine = open_engine(settings.history_database)
    try:
        return await from_history(engine, incident_id)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.InterfaceError, OSError):
        return None  # no history here (or not answering): Redis's answer instead
    finally:
        await engine.dispose()
