"""``stormwatch problems``: list, show, and move problems through their lifecycle (open, known_error, resolved).

Through the API when ``STORMWATCH_API_URL`` or ``STORMWATCH_API_TOKEN`` is set, else Redis directly
(``stormwatch.cli.backend``). ``link`` and ``unlink`` always go through the API (``STORMWATCH_API_URL``,
``STORMWATCH_API_TOKEN``), so changes are recorded with the token's name and published as events."""

from __future__ import annotations


import orjson
import typer

from stormwatch.cli.backend import answer, answer_api
from stormwatch.cli.output import console, print_json
from stormwatch.views import problems_table, timeline_table

problems_app = typer.Typer(no_args_is_help=True, help="Problems: recurring incidents and shared root causes.")


@problems_app.command("list")
def problems_list(
    open_only: bool = typer.Option(False, "--open", help="Only problems not resolved."),
    limit: int = typer.Option(50, min=1, max=10_000),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List problems, newest first."""
    problems = answer(lambda b: b.problems(open_only, limit))
    if json_out:
        print_json(problems)
    else:
        console.print(problems_table(problems))


@problems_app.command("show")
def problems_show(problem_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """One problem: why it exists, its incidents and its timeline."""
    doc = answer(lambda b: b.problem(problem_id))
    if json_out:
        print_json(doc)
        return
    console.print(problems_table([doc], title=doc["id"]))
    console.print(f"why: {orjson.dumps(doc['why']).decode()}", highlight=False)
    console.print("incidents: " + ", ".join(doc["incidents"]), highlight=False)
    console.print(timeline_table(doc["timeline"]))


def _set_status(problem_id: str, status: str, by: str | None, comment: str, json_out: bool) -> None:
    doc = answer(lambda b: b.problem_status(problem_id, status, by, comment))
    if json_out:
        print_json(doc)
        return
    problem = doc["problem"]
    console.print(f"{problem['id']} is {'now' if doc['changed'] else 'already'} {problem['status']}", highlight=False)


BY = typer.Option(None, help="Who (recorded; default the login name). Through the API: the token's name.")
COMMENT = typer.Option("", "--comment", "-m", help="A note for the timeline.")
JSON = typer.Option(False, "--json")


@problems_app.command("known-error")
def problems_known_error(problem_id: str, by: str | None = BY, comment: str = COMMENT,
                         json_out: bool = JSON) -> None:
    """Mark a problem a known error: the cause is understood, a workaround exists."""
    _set_status(problem_id, "known_error", by, comment, json_out)


@problems_app.command("resolve")
def problems_resolve(problem_id: str, by: str | None = BY, comment: str = COMMENT, json_out: bool = JSON) -> None:
    """Resolve a problem; the next recurrence of its signature opens a new one."""
    _set_status(problem_id, "resolved", by, comment, json_out)


API_JSON = typer.Option(False, "--json", help="Print the API's answer as JSON.")


def _link(problem_id: str, incident_id: str, op: str, json_out: bool) -> None:
    doc = answer_api("POST", f"/api/v1/problems/{problem_id}/{op}", {"incident": incident_id},
                     f"{op} {incident_id} {problem_id}")
    if json_out:
        print_json(doc)
        return
    problem = doc["problem"]
    console.print(f"{problem['id']}: {op} {incident_id} {'done' if doc['changed'] else 'nothing to change'}; "
                  f"{len(problem['incidents'])} incident(s), status {problem['status']}", highlight=False)


@problems_app.command("link")
def link(problem_id: str, incident_id: str, json_out: bool = API_JSON) -> None:
    """Link an incident to a problem (through the API; recorded with the token's name)."""
    _link(problem_id, incident_id, "link", json_out)


@problems_app.command("unlink")
def unlink(problem_id: str, incident_id: str, json_out: bool = API_JSON) -> None:
    """Unlink an incident from a problem (through the API)."""
    _link(problem_id, incident_id, "unlink", json_out)
