"""``stormwatch actions ...`` and ``stormwatch runbook-executor``: look at runs, approve or reject them."""

from __future__ import annotations

import asyncio
import signal

import typer
from rich.table import Table

from stormwatch.cli import context
from stormwatch.cli.backend import answer
from stormwatch.cli.output import console, print_json
from stormwatch.views import runs_table, ts

actions_app = typer.Typer(no_args_is_help=True, help="Remediation action runs: list, show, approve, reject.")


@actions_app.command("list")
def actions_list(
    incident: str | None = typer.Option(None, "--incident", help="Only this incident's runs."),
    problem: str | None = typer.Option(None, "--problem", help="Only this problem's runs (problem rules)."),
    limit: int = typer.Option(50, min=1, max=1000),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Action runs, newest first: state, action, incident (or problem), trigger, outcome."""
    runs = answer(lambda b: b.action_runs(incident, problem, limit))
    if json_out:
        print_json(runs)
        return
    console.print(runs_table(runs))


@actions_app.command("show")
def actions_show(run_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """One run in full: why (rule, trigger, event), inputs (secrets masked), outcome, output, attempts, timing."""
    run = answer(lambda b: b.action_run(run_id))
    if json_out:
        print_json(run)
        return
    table = Table(title=f"action run {run_id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name in sorted(run):
        value = run[name]
        if name.endswith("_at") and value:
            try:
                value = f"{ts(float(value))} ({value})"
            except ValueError:
                pass
        table.add_row(name, str(value))
    console.print(table)


def _decide(run_id: str, decision: str, by: str | None, json_out: bool) -> None:
    run = answer(lambda b: b.decide(run_id, decision, by))
    if json_out:
        print_json(run)
        return
    console.print(f"run {run_id} {decision}", highlight=False)


BY = typer.Option(None, help="Who (default: the login name; through the API, the token's name).")
JSON = typer.Option(False, "--json")


@actions_app.command("approve")
def actions_approve(run_id: str, by: str | None = BY, json_out: bool = JSON) -> None:
    """Approve a run waiting for approval; a worker starts it within STORMWATCH_ACTIONS_POLL_SECONDS."""
    _decide(run_id, "approved", by, json_out)


@actions_app.command("reject")
def actions_reject(run_id: str, by: str | None = BY, json_out: bool = JSON) -> None:
    """Reject a run waiting for approval; it never runs."""
    _decide(run_id, "rejected", by, json_out)


def runbook_executor(namespace: str | None = typer.Option(None, help="Overrides STORMWATCH_NAMESPACE.")) -> None:
    """Run the example runbook executor (echo, fail, flaky) on <ns>.runbooks until SIGTERM/SIGINT."""
    from actions.example_executor import run_executor

    settings = context.settings(namespace=namespace)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_executor(settings.amqp_url, settings.namespace, stop)

    context.run(main())
