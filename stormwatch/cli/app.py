"""The ``stormwatch`` command, assembled: every domain module's commands on one typer app.

Each command lives in the module of its domain (``incidents``, ``problems``, ``services``, ``changes``, ``silences``,
``actions``, ``rules``, ``tokens``, ``config``, ``backtest``, ``recording``, ``serve``, ``tools``, ``history``,
``reports``); they share ``output`` (consoles, JSON, timestamps), ``tables``, ``context`` (settings, the event loop,
exit codes) and ``backend`` (API or Redis). Only this module knows them all; none of them imports it.
"""

from __future__ import annotations

import typer

from stormwatch.cli import (
    actions, backtest, changes, config, history, incidents, problems, recording, reports, rules, serve, services,
    silences, tokens, tools,
)
from stormwatch.cli.output import console, err

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Alerts in, incidents out.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            console.print(f"stormwatch {version('stormwatch')}", highlight=False)
        except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
            err.print("stormwatch: not installed (no package metadata); pip install -e .")
            raise typer.Exit(1) from None
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the installed version and exit."),
) -> None:
    """Alerts in, incidents out."""


# in the order `stormwatch --help` lists them
app.add_typer(incidents.incidents_app, name="incidents")
app.add_typer(rules.rules_app, name="rules")
app.add_typer(silences.silences_app, name="silences")
app.add_typer(actions.actions_app, name="actions")
app.command("runbook-executor")(actions.runbook_executor)
app.command()(serve.serve)
app.command()(tools.demo)
app.command()(serve.publish)
app.command()(tools.bench)
app.command("bench-http")(tools.bench_http)
app.add_typer(problems.problems_app, name="problems")
app.add_typer(services.services_app, name="services")
app.add_typer(changes.changes_app, name="changes")
app.add_typer(tokens.tokens_app, name="tokens")
app.command("backtest")(backtest.backtest_command)
app.add_typer(recording.recording_app, name="recording")
app.add_typer(config.config_app, name="config")
app.add_typer(history.history_app, name="history")
app.command("report")(reports.report_command)
incidents.incidents_app.command("export")(reports.incidents_export)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
