"""``stormwatch problems``: list, show, and move problems through their lifecycle (open, known_error, resolved)."""

from __future__ import annotations

import sys
import time
from typing import Any

import orjson
import typer
from rich.table import Table

problems_app = typer.Typer(no_args_is_help=True, help="Problems: recurring incidents and shared root causes.")


def _links(fn: Any) -> Any:
    from correlation.links import Links
    from stormwatch.cli import _run, _with_store

    async def run(store: Any) -> Any:
        return await fn(Links(store.redis, store.keys, timeline_max=1000))

    return _run(_with_store(run))


def _table(problems: list[Any], title: str = "problems") -> Table:
    from stormwatch.cli import _ts

    table = Table(title=title)
    for col in ("id", "title", "status", "team", "incidents", "rule", "created"):
        table.add_column(col)
    for p in problems:
        table.add_row(p.id, p.title, p.status, p.team or "-", str(len(p.incidents)), p.rule, _ts(p.created_at))
    return table


@problems_app.command("list")
def problems_list(
    open_only: bool = typer.Option(False, "--open", help="Only problems not resolved."),
    limit: int = typer.Option(50, min=1, max=10_000),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List problems, newest first."""
    from stormwatch.cli import console

    problems = _links(lambda links: links.list_problems(open_only=open_only, limit=limit))
    if json_out:
        sys.stdout.write(orjson.dumps([p.public() for p in problems]).decode() + "\n")
    else:
        console.print(_table(problems))


@problems_app.command("show")
def problems_show(problem_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """One problem: why it exists, its incidents and its timeline."""
    from stormwatch.cli import _ts, console, err

    async def load(links: Any) -> Any:
        found = await links.problems([problem_id]) if problem_id.startswith("PRB-") else []
        return (found[0], await links.problem_timeline(problem_id)) if found else None

    found = _links(load)
    if found is None:
        err.print(f"no problem {problem_id!r}")
        raise typer.Exit(1)
    problem, timeline = found
    if json_out:
        sys.stdout.write(orjson.dumps(problem.public() | {"timeline": timeline}).decode() + "\n")
        return
    console.print(_table([problem], title=problem.id))
    console.print(f"why: {orjson.dumps(problem.why).decode()}", highlight=False)
    console.print("incidents: " + ", ".join(problem.incidents), highlight=False)
    tl = Table(title="timeline")
    for col in ("at", "kind", "what"):
        tl.add_column(col)
    for e in timeline:
        tl.add_row(_ts(e["at"]), e["kind"], e["text"])
    console.print(tl)


def _set_status(problem_id: str, status: str, by: str) -> None:
    from stormwatch.cli import console, err

    if not problem_id.startswith("PRB-"):
        err.print(f"not a problem id: {problem_id!r}")
        raise typer.Exit(2)
    from stormwatch.cli import _run, _settings
    from stormwatch.publisher import publish_events

    now = time.time()
    problem = _links(lambda links: links.set_problem_status(problem_id, status, by, now))
    if problem is None:
        err.print(f"no problem {problem_id!r}")
        raise typer.Exit(1)
    event = {"event_id": f"{problem.id}:{status}:{now!r}", "type": f"problem.{status}", "reason": f"{status} by {by}",
             "at": now, "problem": problem.public()}
    _run(publish_events(_settings(log_level="warning"), [event]))
    console.print(f"{problem.id} is now {problem.status}", highlight=False)


@problems_app.command("known-error")
def problems_known_error(problem_id: str, by: str = typer.Option(..., help="Who says so (recorded).")) -> None:
    """Mark a problem a known error: the cause is understood, a workaround exists."""
    _set_status(problem_id, "known_error", by)


@problems_app.command("resolve")
def problems_resolve(problem_id: str, by: str = typer.Option(..., help="Who resolved it (recorded).")) -> None:
    """Resolve a problem; the next recurrence of its signature opens a new one."""
    _set_status(problem_id, "resolved", by)
