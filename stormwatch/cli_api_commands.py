"""``stormwatch problems link|unlink`` and ``stormwatch silences preview``: through the HTTP API, like the incident
commands (``STORMWATCH_API_URL``, ``STORMWATCH_API_TOKEN``), so changes are recorded with the token's name and
published as events."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stormwatch.cli_backend import BackendError, ask

JSON = typer.Option(False, "--json", help="Print the API's answer as JSON.")


def register(problems_app: typer.Typer, silences_app: typer.Typer) -> None:
    problems_app.command("link")(link)
    problems_app.command("unlink")(unlink)
    silences_app.command("preview")(preview)


def _ask(method: str, path: str, body: dict[str, Any], what: str) -> Any:
    from stormwatch.cli import _settings, err

    try:
        return ask(_settings(log_level="warning"), method, path, body, what)
    except BackendError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(exc.exit_code) from None


def _link(problem_id: str, incident_id: str, op: str, json_out: bool) -> None:
    from stormwatch.cli import console, print_json

    doc = _ask("POST", f"/api/v1/problems/{problem_id}/{op}", {"incident": incident_id},
               f"{op} {incident_id} {problem_id}")
    if json_out:
        print_json(doc)
        return
    problem = doc["problem"]
    console.print(f"{problem['id']}: {op} {incident_id} {'done' if doc['changed'] else 'nothing to change'}; "
                  f"{len(problem['incidents'])} incident(s), status {problem['status']}", highlight=False)


def link(problem_id: str, incident_id: str, json_out: bool = JSON) -> None:
    """Link an incident to a problem (through the API; recorded with the token's name)."""
    _link(problem_id, incident_id, "link", json_out)


def unlink(problem_id: str, incident_id: str, json_out: bool = JSON) -> None:
    """Unlink an incident from a problem (through the API)."""
    _link(problem_id, incident_id, "unlink", json_out)


def preview(matchers: list[str] = typer.Argument(..., help='e.g. service="orders-db"'), json_out: bool = JSON) -> None:
    """Which firing alerts of open incidents these matchers would mute (through the API; creates nothing)."""
    from stormwatch.cli import console, print_json

    doc = _ask("POST", "/api/v1/silences/preview", {"matchers": matchers}, "preview")
    if json_out:
        print_json(doc)
        return
    table = Table(title=f"would mute {len(doc['matched'])} firing alert(s) of {doc['incidents_scanned']} open "
                        f"incident(s){' (newest only)' if doc['truncated'] else ''}")
    for col in ("incident", "alert", "labels"):
        table.add_column(col)
    for m in doc["matched"]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(m["labels"].items()))
        table.add_row(m["incident"], m["labels"].get("alertname", m["fingerprint"]), labels)
    console.print(table)
