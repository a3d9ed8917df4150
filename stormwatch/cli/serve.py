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
) -> None:
    """Run a worker: consume alerts, correlate them into incidents, publish incident events, run actions, write
    the history."""
    from stormwatch.app import serve as serve_worker

    if role not in ("all", "alerts", "actions", "history"):
        err.print(f"--role must be all, alerts, actions or history (got {role!r})")
        raise typer.Exit(2)
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

