"""``stormwatch demo``, ``stormwatch bench`` and ``stormwatch bench-http``: the commands of ``stormwatch.tools``."""

from __future__ import annotations


import typer

from stormwatch.cli import context
from stormwatch.cli.output import console, err
from stormwatch.config import Settings


def demo(
    keep: bool = typer.Option(False, help="Keep the demo namespace (queues and keys) afterwards."),
    scale: int = typer.Option(1, min=1, max=100, help="Multiply the storm (more pods, more repeats)."),
    serve_console: bool = typer.Option(
        False, "--console", help="Stay up afterwards with the storm's incidents: print the web console's URL and a "
                                 "token made for the run; Ctrl-C stops and cleans up."),
) -> None:
    """Start a worker in a fresh namespace, publish a database-outage storm, show the incidents."""
    from stormwatch.tools.demo import run_demo

    # the storm's story is the example rules' (holds, causes, problems): the demo names them whatever the default
    settings = context.settings(log_level="warning", rules="examples")
    context.run(run_demo(settings, console, keep=keep, scale=scale, serve_console=serve_console))


def bench(
    alerts: int = typer.Option(100_000, help="Alerts per scenario."),
    batch: str = typer.Option("1,50", help="Alerts per message, comma-separated scenarios."),
    groups: int = typer.Option(500, help="Distinct groups the alerts fall into."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    rules: str | None = typer.Option(
        None, help="Compare rule-set sizes instead, e.g. 10,1000: the drain with that many group rules loaded."),
    workers: str | None = typer.Option(
        None, help="Compare worker process counts instead, e.g. 1,2: throughput, Redis bytes per alert, RSS."),
    actions: int = typer.Option(0, help="Measure action start latency instead: N triggers under a steady load."),
    rate: float | None = typer.Option(
        None, min=1.0, help="Messages per second: with --actions the steady load (default 1,000); "
                            "otherwise the latency phase's publish rate (default: a quarter of the measured drain)."),
    separate: bool = typer.Option(False, help="With --actions: the action runner in its own process."),
    against: str | None = typer.Option(
        None, help="alertmanager: the same bodies end to end through `serve --processes` and into Alertmanager's "
                   "POST /api/v2/alerts (wrk), ratio printed."),
    processes: str = typer.Option("auto", help="With --against: serve --processes (auto: one per core)."),
    rounds: int | None = typer.Option(
        None, min=1, help="Rounds per side, alternating which goes first; medians reported (default: 1; with "
                          "--against 2)."),
    seconds: int = typer.Option(10, min=1, help="With --against: wrk's duration per Alertmanager round."),
) -> None:
    """Measure end-to-end throughput and latency against the bare broker ceiling, side by side."""
    from stormwatch.runtime import tune_gc
    from stormwatch.tools.bench import run_bench, run_rules_bench

    # the example rules unless chosen: the figures so far were measured with them
    settings = context.examples_unless_chosen(context.settings(log_level="warning"))
    if against is not None:
        bench_against(settings, against, alerts, batch, groups, processes, rounds or 2, seconds, json_out)
        return
    tune_gc(settings)  # as `stormwatch serve` runs (the bare ceiling, in this process too, gets the same)
    if actions:
        from stormwatch.tools.bench_actions import run_actions_bench

        context.run(run_actions_bench(settings, console, triggers=actions, rate=rate or 1000.0, groups=groups,
                                      separate=separate))
        return
    sizes = [int(x) for x in batch.split(",") if x.strip()]
    if workers:
        from stormwatch.tools.bench_workers import run_workers_bench

        counts = [int(x) for x in workers.split(",") if x.strip()]
        context.run(run_workers_bench(settings, console, alerts=alerts, size=sizes[-1], groups=groups,
                                      worker_counts=counts, as_json=json_out))
        return
    if rules:
        counts = [int(x) for x in rules.split(",") if x.strip()]
        context.run(run_rules_bench(settings, console, alerts=alerts, size=sizes[-1], groups=groups,
                                    rule_counts=counts))
        return
    context.run(run_bench(settings, console, alerts=alerts, sizes=sizes, groups=groups, as_json=json_out,
                          latency_rate=rate, rounds=rounds or 1))


def bench_against(settings: Settings, against: str, alerts: int, batch: str, groups: int, processes: str,
                  rounds: int, seconds: int, json_out: bool) -> None:
    """``bench --against alertmanager`` (stormwatch.tools.bench_against); the last --batch size per message."""
    from stormwatch.supervisor import process_count
    from stormwatch.tools.bench_against import run_against_alertmanager
    from stormwatch.tools.bench_http import BenchUnavailable

    if against != "alertmanager":
        err.print(f"--against knows only alertmanager (got {against!r})")
        raise typer.Exit(2)
    try:
        count = process_count(processes)
    except ValueError as exc:
        err.print(str(exc))
        raise typer.Exit(2) from None
    size = [int(x) for x in batch.split(",") if x.strip()][-1]
    try:
        context.run(run_against_alertmanager(settings, console, alerts=alerts, per_message=size, groups=groups,
                                             processes=count, rounds=rounds, seconds=seconds,
                                             as_json=json_out))
    except BenchUnavailable as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None


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
    from stormwatch.tools.bench_http import BenchUnavailable, run_http_bench

    try:
        context.run(run_http_bench(context.settings(log_level="warning"), console, alerts=alerts, seconds=seconds,
                                   connections=connections, rounds=rounds, consume=consume, processes=processes,
                                   as_json=json_out))
    except BenchUnavailable as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None

