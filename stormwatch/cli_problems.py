"""``stormwatch problems``: list, show, and move problems through their lifecycle (open, known_error, resolved).

Through the API when ``STORMWATCH_API_URL`` or ``STORMWATCH_API_TOKEN`` is set, else Redis directly
(``stormwatch.cli_backend``)."""

from __future__ import annotations

from typing import Any

import orjson
import typer
from rich.table import Table

from stormwatch.cli_backend import answer

problems_app = typer.Typer(no_args_is_help=True, help="Problems: recurring incidents and shared root causes.")


def _table(problems: list[dict[str, Any]], title: str = "problems") -> Table:
    from stormwatch.cli import _ts

    table = Table(title=title)
    for col in ("id", "title", "status", "team", "incidents", "rule", "created"):
        table.add_column(col)
    for p in problems:
        table.add_row(p["id"], p["title"], p["status"], p["team"] or "-", str(len(p["incidents"])), p["rule"],
                      _ts(p["created_at"]))
    return table


@problems_app.command("list")
def problems_list(
    open_only: bool = typer.Option(False, "--open", help="Only problems not resolved."),
    limit: int = typer.Option(50, min=1, max=10_000),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List problems, newest first."""
    from stormwatch.cli import console, print_json

    problems = answer(lambda b: b.problems(open_only, limit))
    if json_out:
        print_json(problems)
    else:
        console.print(_table(problems))


@problems_app.command("show")
def problems_show(problem_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """One problem: why it exists, its incidents and its timeline."""
    from stormwatch.cli import console, print_json, timeline_table

    doc = answer(lambda b: b.problem(problem_id))
    if json_out:
        print_json(doc)
        return
    console.print(_table([doc], title=doc["id"]))
    console.print(f"why: {orjson.dumps(doc['why']).decode()}", highlight=False)
    console.print("incidents: " + ", ".join(doc["incidents"]), highlight=False)
    console.print(timeline_table(doc["timeline"]))


def _set_status(problem_id: str, status: str, by: str | None, comment: str, json_out: bool) -> None:
    from stormwatch.cli import console, print_json

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
