"""``stormwatch incidents ack|resolve|reopen|assign|comment|priority``: people's changes through the HTTP API.

They talk to a running server (``STORMWATCH_API_URL``, default the local HTTP address) with
``STORMWATCH_API_TOKEN`` (a respond or admin token), so the change is recorded with the token's name, made with
the same compare-and-set as every other, and published as an event. Stdlib HTTP only: no extra dependency.
"""

from __future__ import annotations

from typing import Any

import typer

from stormwatch.cli_backend import call


def register(incidents_app: typer.Typer) -> None:
    """Add the command verbs to ``stormwatch incidents``."""
    incidents_app.command("ack")(acknowledge)
    incidents_app.command("resolve")(resolve)
    incidents_app.command("reopen")(reopen)
    incidents_app.command("assign")(assign)
    incidents_app.command("comment")(comment)
    incidents_app.command("priority")(priority)


def _command(incident_id: str, name: str, body: dict[str, Any], json_out: bool) -> None:
    from stormwatch.cli import _settings, console, err, print_json

    settings = _settings(log_level="warning")
    status, doc = call(settings, "POST", f"/api/v1/incidents/{incident_id}/{name}", body)
    if status != 200:
        detail = doc.get("detail") if isinstance(doc, dict) else doc
        hint = " (set STORMWATCH_API_TOKEN to a respond or admin token)" if status in (401, 403) else ""
        err.print(f"{name} {incident_id}: {status or 'no answer'}: {detail}{hint}", markup=False)
        raise typer.Exit(2 if status in (0, 401, 403) else 1)
    if json_out:
        print_json(doc)
        return
    incident = doc["incident"]
    what = "done" if doc["changed"] else "nothing to change"
    console.print(f"{incident['id']}: {name} {what}; status {incident['status']}, priority "
                  f"{incident['priority'] or '-'}, assignee {incident['assignee'] or '-'}", highlight=False)


JSON = typer.Option(False, "--json", help="Print the API's answer as JSON.")
NOTE = typer.Option("", "--comment", "-m", help="A note for the timeline.")


def acknowledge(incident_id: str, note: str = NOTE, json_out: bool = JSON) -> None:
    """Acknowledge an incident (someone is on it)."""
    _command(incident_id, "acknowledge", {"comment": note}, json_out)


def resolve(incident_id: str, note: str = NOTE, json_out: bool = JSON) -> None:
    """Resolve an incident (also for rules with auto_resolve: manual)."""
    _command(incident_id, "resolve", {"comment": note}, json_out)


def reopen(incident_id: str, note: str = NOTE, json_out: bool = JSON) -> None:
    """Reopen the group's latest incident."""
    _command(incident_id, "reopen", {"comment": note}, json_out)


def assign(incident_id: str, assignee: str = typer.Argument(..., help="Who; '' to unassign."),
           json_out: bool = JSON) -> None:
    """Assign an incident."""
    _command(incident_id, "assign", {"assignee": assignee}, json_out)


def comment(incident_id: str, text: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """Add a comment to an incident's timeline."""
    _command(incident_id, "comment", {"text": text}, json_out)


def priority(incident_id: str, value: str = typer.Argument(..., metavar="P1..P5"),
             json_out: bool = JSON) -> None:
    """Set an incident's priority."""
    _command(incident_id, "priority", {"priority": value}, json_out)


__all__ = ["register"]
