"""``stormwatch incidents list|show``: the API's incident documents as tables for people, ``--json`` for scripts.

Through the API when ``STORMWATCH_API_URL`` or ``STORMWATCH_API_TOKEN`` is set, else from Redis directly
(``stormwatch.cli_backend``); the same documents either way.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stormwatch.cli_backend import answer

STATUSES = ("open", "acknowledged", "resolved")


def register(incidents_app: typer.Typer) -> None:
    incidents_app.command("list")(incidents_list)
    incidents_app.command("show")(incidents_show)


def incidents_table(incidents: list[dict[str, Any]], title: str = "incidents") -> Table:
    from stormwatch.cli import _ts

    table = Table(title=title)
    for col in ("id", "title", "priority", "severity", "status", "team", "alerts", "firing", "occurrences", "created"):
        table.add_column(col, justify="right" if col in ("alerts", "firing", "occurrences") else "left")
    for inc in incidents:
        table.add_row(inc["id"], inc["title"], inc["priority"] or "-", inc["severity"], inc["status"],
                      inc["team"] or "-", str(inc["alerts"]), str(inc["firing"]), str(inc["occurrences"]),
                      _ts(inc["created_at"]))
    return table


def incidents_list(
    open_only: bool = typer.Option(False, "--open", help="Only open and acknowledged incidents."),
    status: list[str] | None = typer.Option(None, "--status", help="open, acknowledged or resolved (repeatable)."),
    limit: int = typer.Option(50, min=1, max=10_000),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List incidents, newest first."""
    from stormwatch.cli import console, err, print_json

    statuses = frozenset(status or ()) | (frozenset({"open", "acknowledged"}) if open_only else frozenset())
    if statuses - frozenset(STATUSES):
        err.print(f"--status: one of {', '.join(STATUSES)}", markup=False)
        raise typer.Exit(2)
    incidents = answer(lambda b: b.incidents(statuses, limit))
    if json_out:
        print_json(incidents)
    else:
        console.print(incidents_table(incidents))


def incidents_show(incident_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """One incident: why it was formed, its alerts, symptoms it explains, action runs and timeline."""
    from stormwatch.cli import _ts, console, print_json, timeline_table

    doc = answer(lambda b: b.incident(incident_id))
    if json_out:
        print_json(doc)
        return
    console.print(incidents_table([doc], title=doc["id"]))
    people = [f"{name} {doc[field]}" for name, field in (("acknowledged by", "acknowledged_by"),
                                                         ("assignee", "assignee")) if doc.get(field)]
    if people:
        console.print("; ".join(people), highlight=False)
    why = doc.get("why")
    if why:
        matchers = ", ".join(why.get("matchers", [])) or "(none: no group rule matched)"
        console.print(f"why: rule [bold]{why.get('rule')}[/bold] matched {matchers}; grouped by "
                      f"{', '.join(why.get('group_by', []))} = {why.get('group_labels')}", highlight=False)
    table = Table(title="alerts")
    for col in ("fingerprint", "labels", "status", "count", "first seen", "last seen"):
        table.add_column(col)
    for a in doc["members"]:
        labels = ",".join(f"{k}={v}" for k, v in sorted(a["labels"].items()))
        status = f"{a['status']} (expired)" if a.get("expired") else a["status"]  # not sent for resolve_timeout
        table.add_row(a["fingerprint"], labels, status, str(a["count"]), _ts(a["first_seen"]),
                      _ts(a["last_seen"]))
    console.print(table)
    if doc.get("symptoms"):
        st = Table(title="symptoms: alerts of other groups this incident explains (why they did not page)")
        for col in ("fingerprint", "labels", "because", "since"):
            st.add_column(col)
        for sym in doc["symptoms"]:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sym["labels"].items()))
            because = (f"topology: {' -> '.join(sym['path'])}" if sym["kind"] == "topology"
                       else f"inhibit rule {sym['rule']}")
            st.add_row(sym["fingerprint"], labels, because, _ts(sym["at"]))
        console.print(st)
    if doc.get("actions"):
        from stormwatch.actions_cli import runs_table

        console.print(runs_table(doc["actions"], title="action runs"))
    console.print(timeline_table(doc["timeline"]))
