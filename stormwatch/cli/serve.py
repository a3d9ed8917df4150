"""``stormwatch serve`` (a worker, or only its alerts or actions half) and ``stormwatch publish`` (one alert body to
the alerts exchange)."""

from __future__ import annotations

from pathlib import Path

import typer

from stormwatch.cli import context
from stormwatch.cli.output import console, err


def serve(
    namespace: str | None = typer.Option(None, help="Overrides STORMWATCH_NAMESPACE."),
    role: str = typer.Option("all", help="all | alerts (no action runner, no history writer) | actions (only the "
                                         "action runner) | history (only the history writer)."),
    processes: str = typer.Option(
        "1", help="Worker processes sharing the HTTP port under one supervisor (restarts, signals, one /metrics); "
                  "auto: one per core."),
) -> None:
    """Run a worker: consume alerts, correlate them into incidents, publish incident events, run actions, write
    the history."""
    from stormwatch.app import serve as serve_worker

    if role not in ("all", "alerts", "actions", "history"):
        err.print(f"--role must be all, alerts, actions or history (got {role!r})")
        raise typer.Exit(2)
    if processes != "1":
        supervise(namespace, role, processes)
        return
    if role == "history":
        from stormwatch.history.service import serve_history

        context.run(serve_history(context.settings(namespace=namespace)))
        return
    if role == "actions":
        from stormwatch.actions_app import serve_actions

        context.run(serve_actions(context.settings(namespace=namespace)))
        return
    settings = context.settings(namespace=namespace, actions_enabled=False if role == "alerts" else None,
                                history_enabled=False if role == "alerts" else None)
    context.run(serve_worker(settings))


def supervise(namespace: str | None, role: str, processes: str) -> None:
    """``serve --processes N``: the settings checked here once, then N ``serve`` children (stormwatch.supervisor)."""
    from stormwatch.supervisor import Supervisor, process_count, worker_command

    try:
        count = process_count(processes)
    except ValueError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    settings = context.settings(namespace=namespace)
    if count > 1 and role != "actions" and settings.metrics_enabled and settings.http_address[1] == 0:
        err.print("--processes needs a fixed STORMWATCH_HTTP_PORT (or STORMWATCH_METRICS_PORT): the processes "
                  "share it, and port 0 gives each its own")
        raise typer.Exit(2)
    args = ["--role", role, *(["--namespace", namespace] if namespace else [])]
    raise typer.Exit(context.run(Supervisor(worker_command(args), count).run()))


def publish(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A JSON body in any supported format."),
    format: str | None = typer.Option(None, "--format", help="Name the format instead of detecting it."),
    routing_key: str = typer.Option("cli", help="Routing key on the alerts exchange."),
) -> None:
    """Publish one alert body to the alerts exchange (with a broker confirm)."""
    from stormwatch.publisher import publish_bodies

    settings = context.settings()
    body = file.read_bytes()
    context.run(publish_bodies(settings, [body], routing_key=routing_key, fmt=format))
    console.print(f"published {len(body)} bytes to {settings.namespace}.alerts")

