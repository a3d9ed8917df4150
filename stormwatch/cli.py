"""The ``stormwatch`` command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, Coroutine, Optional

import orjson
import typer
from rich.console import Console
from rich.table import Table

from stormwatch.config import Settings, SettingsError, load_settings, redact_url
from stormwatch.actions_cli import register as register_actions
from stormwatch.logging import configure_logging

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Alerts in, incidents out.")
incidents_app = typer.Typer(no_args_is_help=True, help="Look at incidents.")
app.add_typer(incidents_app, name="incidents")
rules_app = typer.Typer(no_args_is_help=True, help="Check rule files.")
app.add_typer(rules_app, name="rules")
silences_app = typer.Typer(no_args_is_help=True, help="Mute alerts matching matchers for a while.")
app.add_typer(silences_app, name="silences")
console = Console(width=None if sys.stdout.isatty() else 200)
register_actions(app)
err = Console(stderr=True)


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


def _settings(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    configure_logging(settings.log_format, settings.log_level)
    return settings


def _examples_unless_chosen(settings: Settings) -> Settings:
    """The shipped example rules unless STORMWATCH_RULES names a rule set: the benchmarks' published figures were
    measured with them (``serve`` itself loads no rules by default)."""
    return settings if "rules" in settings.model_fields_set else settings.model_copy(update={"rules": "examples"})


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    from stormwatch.app import RulesInvalid, ServiceUnavailable

    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        runner = asyncio.run
    try:
        return runner(coro)
    except ServiceUnavailable as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except RulesInvalid as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    namespace: Optional[str] = typer.Option(None, help="Overrides STORMWATCH_NAMESPACE."),
    role: str = typer.Option("all", help="all | alerts (no action runner) | actions (only the action runner)."),
) -> None:
    """Run a worker: consume alerts, correlate them into incidents, publish incident events, run actions."""
    from stormwatch.app import serve as serve_worker

    if role not in ("all", "alerts", "actions"):
        err.print(f"--role must be all, alerts or actions (got {role!r})")
        raise typer.Exit(2)
    if role == "actions":
        from stormwatch.actions_app import serve_actions

        _run(serve_actions(_settings(namespace=namespace)))
        return
    _run(serve_worker(_settings(namespace=namespace, actions_enabled=False if role == "alerts" else None)))


@app.command()
def demo(
    keep: bool = typer.Option(False, help="Keep the demo namespace (queues and keys) afterwards."),
    scale: int = typer.Option(1, min=1, max=100, help="Multiply the storm (more pods, more repeats)."),
    serve_console: bool = typer.Option(
        False, "--console", help="Stay up afterwards with the storm's incidents: print the web console's URL and a "
                                 "token made for the run; Ctrl-C stops and cleans up."),
) -> None:
    """Start a worker in a fresh namespace, publish a database-outage storm, show the incidents."""
    from stormwatch.demo import run_demo

    # the storm's story is the example rules' (holds, causes, problems): the demo names them whatever the default
    settings = _settings(log_level="warning", rules="examples")
    _run(run_demo(settings, console, keep=keep, scale=scale, serve_console=serve_console))


@app.command()
def publish(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A JSON body in any supported format."),
    format: Optional[str] = typer.Option(None, "--format", help="Name the format instead of detecting it."),
    routing_key: str = typer.Option("cli", help="Routing key on the alerts exchange."),
) -> None:
    """Publish one alert body to the alerts exchange (with a broker confirm)."""
    from stormwatch.publisher import publish_bodies

    settings = _settings()
    body = file.read_bytes()
    _run(publish_bodies(settings, [body], routing_key=routing_key, fmt=format))
    console.print(f"published {len(body)} bytes to {settings.namespace}.alerts")


@app.command()
def bench(
    alerts: int = typer.Option(100_000, help="Alerts per scenario."),
    batch: str = typer.Option("1,50", help="Alerts per message, comma-separated scenarios."),
    groups: int = typer.Option(500, help="Distinct groups the alerts fall into."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    rules: Optional[str] = typer.Option(
        None, help="Compare rule-set sizes instead, e.g. 10,1000: the drain with that many group rules loaded."),
    workers: Optional[str] = typer.Option(
        None, help="Compare worker process counts instead, e.g. 1,2: throughput, Redis bytes per alert, RSS."),
    actions: int = typer.Option(0, help="Measure action start latency instead: N triggers under a steady load."),
    rate: float = typer.Option(1000.0, help="With --actions: load in single-alert messages per second."),
    separate: bool = typer.Option(False, help="With --actions: the action runner in its own process."),
) -> None:
    """Measure end-to-end throughput and latency against the bare broker ceiling, side by side."""
    from stormwatch.bench import run_bench, run_rules_bench
    from stormwatch.runtime import tune_gc

    settings = _examples_unless_chosen(_settings(log_level="warning"))  # the figures so far were measured with them
    tune_gc(settings)  # as `stormwatch serve` runs (the bare ceiling, in this process too, gets the same)
    if actions:
        from stormwatch.bench_actions import run_actions_bench

        _run(run_actions_bench(settings, console, triggers=actions, rate=rate, groups=groups, separate=separate))
        return
    sizes = [int(x) for x in batch.split(",") if x.strip()]
    if workers:
        from stormwatch.bench_workers import run_workers_bench

        counts = [int(x) for x in workers.split(",") if x.strip()]
        _run(run_workers_bench(settings, console, alerts=alerts, size=sizes[-1], groups=groups, worker_counts=counts,
                               as_json=json_out))
        return
    if rules:
        counts = [int(x) for x in rules.split(",") if x.strip()]
        _run(run_rules_bench(settings, console, alerts=alerts, size=sizes[-1], groups=groups, rule_counts=counts))
        return
    _run(run_bench(settings, console, alerts=alerts, sizes=sizes, groups=groups, as_json=json_out))


@app.command("bench-http")
def bench_http(
    alerts: int = typer.Option(50, help="Alerts per body."),
    seconds: int = typer.Option(10, help="wrk duration per round."),
    connections: int = typer.Option(32, help="wrk connections."),
    rounds: int = typer.Option(2, min=1, help="Rounds per server, alternating which goes first."),
    consume: bool = typer.Option(False, help="Also correlate in the serving process (default: HTTP only)."),
    processes: int = typer.Option(1, min=1, max=16, help="stormwatch serve processes sharing the port."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """POST the same /api/v2/alerts body to Alertmanager and to Stormwatch with wrk; print both figures."""
    from stormwatch.bench_http import BenchUnavailable, run_http_bench

    try:
        _run(run_http_bench(_settings(log_level="warning"), console, alerts=alerts, seconds=seconds,
                            connections=connections, rounds=rounds, consume=consume, processes=processes,
                            as_json=json_out))
    except BenchUnavailable as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None


async def _with_store(fn: Any) -> Any:
    from correlation.keyspace import Keyspace
    from correlation.store import IncidentStore
    from stormwatch.app import REDIS_START_HINT, ServiceUnavailable
    from stormwatch.redis_client import redis_client

    settings = _settings(log_level="warning")
    redis = redis_client(settings, socket_connect_timeout=3)
    try:
        try:
            await redis.ping()
        except Exception as exc:  # noqa: BLE001
            raise ServiceUnavailable(
                f"Redis is not answering at {redact_url(settings.redis_url)} ({exc}); {REDIS_START_HINT}"
            ) from None
        store = IncidentStore(redis, Keyspace(settings.namespace), marker_ttl=60, timeline_max=1000)
        return await fn(store)
    finally:
        await redis.aclose()


def _ts(value: float | None) -> str:
    if value is None:
        return "-"
    from datetime import datetime, timezone

    return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def print_json(doc: Any) -> None:
    """A command's ``--json`` answer: one line of JSON on stdout."""
    sys.stdout.write(orjson.dumps(doc).decode() + "\n")


def timeline_table(entries: list[dict[str, Any]]) -> Table:
    """An incident's or problem's timeline entries (``at``, ``kind``, ``text``) for people."""
    table = Table(title="timeline")
    for col in ("at", "kind", "what"):
        table.add_column(col)
    for e in entries:
        table.add_row(_ts(e["at"]), e["kind"], e["text"])
    return table


@rules_app.command("check")
def rules_check(directory: Path = typer.Argument(..., exists=True, file_okay=False, help="A rules directory.")) -> None:
    """Validate every rule file in DIRECTORY; exit 1 listing each error as file:line: field: message.
    Warnings (valid, but probably not meant) are listed as "warning: file:line: field: message" and do not fail."""
    from rules.loader import lint_directory
    from stormwatch.rules_admin import rule_file_limits

    errors, warnings = lint_directory(directory, rule_file_limits(_settings(log_level="warning")))
    for warning in warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if errors:
        for error in errors:
            err.print(str(error), markup=False, highlight=False, soft_wrap=True)
        err.print(f"{len(errors)} error(s) in {directory}", markup=False)
        raise typer.Exit(1)
    console.print(f"{directory}: rules OK" + (f" ({len(warnings)} warning(s))" if warnings else ""), highlight=False)


@rules_app.command("test")
def rules_test(files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Rule test files.")) -> None:
    """Run rule test files: alerts at times in, expected incidents at checkpoints; exit 1 on any difference."""
    from correlation.rule_tests import run_file

    failed = passed = 0
    for path in files:
        for result in run_file(path):
            if result.passed:
                passed += 1
                console.print(f"PASS {path}: {result.name}", highlight=False)
                continue
            failed += 1
            err.print(f"FAIL {path}: {result.name}", markup=False, highlight=False)
            for problem in result.problems:
                err.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"{passed} passed, {failed} failed", highlight=False)
    if failed:
        raise typer.Exit(1)


from stormwatch import cli_problems  # noqa: E402  (registers ``stormwatch problems``)

app.add_typer(cli_problems.problems_app, name="problems")
from stormwatch.cli_backtest import backtest_command  # noqa: E402
from stormwatch.cli_tokens import tokens_app  # noqa: E402

app.add_typer(tokens_app, name="tokens")

app.command("backtest")(backtest_command)
from stormwatch.cli_incident_commands import register as register_incident_commands  # noqa: E402

register_incident_commands(incidents_app)  # incidents ack|resolve|reopen|assign|comment|priority via the API
from stormwatch.cli_api_commands import register as register_api_commands  # noqa: E402
from stormwatch.cli_incidents import register as register_incident_views  # noqa: E402
from stormwatch.cli_silences import register as register_silences  # noqa: E402

register_incident_views(incidents_app)  # incidents list|show
register_silences(silences_app)  # silences add|list|expire

register_api_commands(cli_problems.problems_app, silences_app)  # problems link|unlink, silences preview via the API
from stormwatch.cli_config import register as register_config  # noqa: E402

register_config(app)  # config check


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
