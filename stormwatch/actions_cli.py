"""``stormwatch actions ...`` and ``stormwatch runbook-executor``: look at runs, approve or reject them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any, Optional

import orjson
import typer
from rich.table import Table

actions_app = typer.Typer(no_args_is_help=True, help="Remediation action runs: list, approve, reject.")


def register(app: typer.Typer) -> None:
    app.add_typer(actions_app, name="actions")
    app.command("runbook-executor")(runbook_executor)


async def _with_state(fn: Any) -> Any:
    from actions.state import ActionState
    from correlation.keyspace import Keyspace
    from stormwatch.cli import _with_store

    async def run(store: Any) -> Any:
        return await fn(ActionState(store.redis, Keyspace(store.keys.namespace)))

    return await _with_store(run)


def _who(by: Optional[str]) -> str:
    if by:
        return by
    import getpass

    return os.environ.get("USER") or getpass.getuser()


@actions_app.command("list")
def actions_list(
    incident: Optional[str] = typer.Option(None, "--incident", help="Only this incident's runs."),
    problem: Optional[str] = typer.Option(None, "--problem", help="Only this problem's runs (problem rules)."),
    limit: int = typer.Option(50, min=1, max=10_000),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Action runs, newest first: state, action, incident (or problem), trigger, outcome."""
    from stormwatch.cli import _run, _ts, console

    runs = _run(_with_state(lambda state: state.runs(incident, limit, problem_id=problem)))
    if json_out:
        sys.stdout.write(orjson.dumps(runs).decode() + "\n")
        return
    table = Table(title="action runs")
    for col in ("run", "state", "action", "type", "incident/problem", "trigger", "created", "detail"):
        table.add_column(col)
    for r in runs:
        table.add_row(r.get("run_id", ""), r.get("state", ""), r.get("action", ""), r.get("type", ""),
                      r.get("incident") or r.get("problem", ""), r.get("trigger", ""), _ts(float(r["created_at"]))
                      if r.get("created_at") else "-", (r.get("detail") or "")[:80])
    console.print(table)


def _decide(run_id: str, decision: str, by: Optional[str]) -> None:
    from stormwatch.cli import _run, console, err

    result = _run(_with_state(lambda state: state.decide(run_id, decision, _who(by), time.time())))
    if result != "ok":
        err.print(f"run {run_id} is not waiting for approval (state: {result or 'unknown run'})", markup=False)
        raise typer.Exit(1)
    console.print(f"run {run_id} {decision}", highlight=False)


@actions_app.command("approve")
def actions_approve(run_id: str, by: Optional[str] = typer.Option(None, help="Who approves (default: login).")
                    ) -> None:
    """Approve a run waiting for approval; a worker starts it within STORMWATCH_ACTIONS_POLL_SECONDS."""
    _decide(run_id, "approved", by)


@actions_app.command("reject")
def actions_reject(run_id: str, by: Optional[str] = typer.Option(None, help="Who rejects (default: login).")
                   ) -> None:
    """Reject a run waiting for approval; it never runs."""
    _decide(run_id, "rejected", by)


def runbook_executor(namespace: Optional[str] = typer.Option(None, help="Overrides STORMWATCH_NAMESPACE.")) -> None:
    """Run the example runbook executor (echo, fail, flaky) on <ns>.runbooks until SIGTERM/SIGINT."""
    from actions.example_executor import run_executor
    from stormwatch.cli import _run, _settings

    settings = _settings(namespace=namespace)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_executor(settings.amqp_url, settings.namespace, stop)

    _run(main())
