"""``stormwatch history``: the incident history's database (docs/history.md): migrate it, search it, fill it from
Redis (``backfill``), and put open incidents back into Redis after Redis lost its data (``restore``).

Straight to the database named by ``STORMWATCH_HISTORY_URL`` (else the SQLite file ``STORMWATCH_HISTORY_PATH``);
``backfill`` and ``restore`` also reach the namespace's Redis."""

from __future__ import annotations

import time
from typing import Any
from collections.abc import Awaitable, Callable

import typer

from stormwatch.cli import context
from stormwatch.cli.output import console, err, print_json
from stormwatch.views import history_table

history_app = typer.Typer(no_args_is_help=True, help="The incident history: search, backfill, restore, migrate.")


def _with_engine(fn: Callable[[Any], Awaitable[Any]]) -> Any:
    from stormwatch.history import migrate
    from stormwatch.history.database import open_engine

    settings = context.settings(log_level="warning")

    async def go() -> Any:
        engine = open_engine(settings.history_database)
        try:
            await migrate.upgrade(engine)
            try:
                await migrate.bind_namespace(engine, settings.namespace)
            except migrate.OtherNamespace as exc:
                err.print(str(exc), highlight=False)
                raise typer.Exit(2) from None
            return await fn(engine)
        finally:
            await engine.dispose()
    return context.run(go())


def _with_redis(fn: Callable[[Any, Any, str], Awaitable[Any]]) -> Any:
    from stormwatch.redis_client import redis_client

    settings = context.settings(log_level="warning")

    async def go(engine: Any) -> Any:
        redis = redis_client(settings, socket_connect_timeout=3)
        try:
            return await fn(engine, redis, settings.namespace)
        finally:
            await redis.aclose()
    return _with_engine(go)


@history_app.command("migrate")
def history_migrate() -> None:
    """Create or upgrade the history's tables to the newest schema (a no-op when they are current)."""
    from stormwatch.history import migrate

    revision = _with_engine(migrate.current_revision)
    console.print(f"history schema at revision {revision}", highlight=False)


@history_app.command("search")
def history_search(
    q: str = typer.Option("", "--q", "-q", help="Text in the title or the id."),
    label: list[str] = typer.Option([], "--label", help="name=value (repeatable): a group or member label."),
    team: str = typer.Option("", "--team"),
    service: str = typer.Option("", "--service"),
    status: str = typer.Option("", "--status", help="open, acknowledged or resolved."),
    since: str = typer.Option("", "--since", help="30d, 12h, epoch seconds or an ISO 8601 time."),
    until: str = typer.Option("", "--until"),
    limit: int = typer.Option(50, min=1, max=1000),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Search incidents in the history, resolved ones Redis no longer holds included; newest first."""
    from stormwatch.history.queries import BadQuery, SearchFilter, parse_label, parse_when, search

    now = time.time()
    try:
        f = SearchFilter(text=q, labels=tuple(parse_label(x) for x in label), team=team, service=service,
                         status=status, since=parse_when(since, now, "since") if since else None,
                         until=parse_when(until, now, "until") if until else None, limit=limit)
    except BadQuery as exc:
        err.print(f"--{exc.field}: {exc}", highlight=False)
        raise typer.Exit(2) from None
    found = _with_engine(lambda engine: search(engine, f))
    if json_out:
        print_json(found)
    else:
        console.print(history_table(found["incidents"]))
        if found["more"]:
            console.print(f"(more than {limit}: narrow the search or raise --limit)", highlight=False)


@history_app.command("show")
def history_show(incident_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """One incident as the history holds it: members, symptoms, timeline, runs, problems."""
    from stormwatch.history.queries import incident

    doc = _with_engine(lambda engine: incident(engine, incident_id))
    if doc is None:
        err.print(f"no incident {incident_id} in the history", highlight=False)
        raise typer.Exit(1)
    if json_out:
        print_json(doc)
        return
    console.print(history_table([doc], title=doc["id"]))
    for entry in doc["timeline"]:
        console.print(f"  {entry['type']:<26} {entry['reason']}", highlight=False)


@history_app.command("backfill")
def history_backfill(json_out: bool = typer.Option(False, "--json")) -> None:
    """Write what Redis still holds into the history (safe to repeat; never overrides newer events)."""
    from stormwatch.history.backfill import backfill
    from stormwatch.history.redis_source import RedisSource

    done = _with_redis(lambda engine, redis, ns: backfill(engine, RedisSource(redis, ns), time.time()))
    doc = {"incidents": done.incidents, "problems": done.problems, "silences": done.silences}
    if json_out:
        print_json(doc)
    else:
        console.print(f"backfilled {done.incidents} incidents, {done.problems} problems, {done.silences} silences",
                      highlight=False)


@history_app.command("restore")
def history_restore(json_out: bool = typer.Option(False, "--json")) -> None:
    """After Redis lost its data: put the open incidents and problems (with their members), the groups' incident
    counters and the silences not ended back into Redis. Never overwrites what Redis holds (docs/history.md)."""
    from stormwatch.history.restore import restore

    done = _with_redis(lambda engine, redis, ns: restore(engine, redis, ns, time.time()))
    doc = {"incidents": done.incidents, "incidents_live": done.incidents_live, "alerts": done.alerts,
           "counters_raised": done.counters_raised, "problems": done.problems, "silences": done.silences}
    if json_out:
        print_json(doc)
    else:
        console.print(
            f"restored {done.incidents} incidents ({done.alerts} alert states; {done.incidents_live} were live and "
            f"left alone), {done.problems} problems, {done.silences} silences; {done.counters_raised} incident "
            f"counters raised", highlight=False)


@history_app.command("generate")
def history_generate(
    incidents: int = typer.Option(100_000, min=1, max=20_000_000, help="Incidents spread over the past year."),
    seed: int = typer.Option(17),
) -> None:
    """Fill an EMPTY history database with a generated year of incidents (for `history bench`; not for production:
    point STORMWATCH_HISTORY_URL or STORMWATCH_HISTORY_PATH at a scratch database)."""
    import sqlalchemy as sa

    from stormwatch.history import schema
    from stormwatch.tools.history_bench import generate

    async def go(engine: Any) -> Any:
        async with engine.connect() as conn:
            if (await conn.execute(sa.select(sa.func.count()).select_from(schema.incidents))).scalar():
                err.print("the history database is not empty: generate into a scratch database", highlight=False)
                raise typer.Exit(2)
        began = time.perf_counter()
        written = await generate(engine, incidents, seed=seed)
        return written, time.perf_counter() - began

    written, seconds = _with_engine(go)
    console.print(f"generated in {seconds:.0f} s: " + ", ".join(f"{k} {v}" for k, v in written.items()),
                  highlight=False)


@history_app.command("bench")
def history_bench(runs: int = typer.Option(5, min=1, max=100), json_out: bool = typer.Option(False, "--json")) -> None:
    """Time the representative report and search queries on the history (median ms of RUNS after a warm-up)."""
    from stormwatch.tools.history_bench import QUERIES, measure

    figures = _with_engine(lambda engine: measure(engine, time.time(), runs))
    if json_out:
        print_json(figures)
        return
    for name, ms in figures.items():
        console.print(f"{name:<34} {ms:9.1f} ms  {QUERIES[name][0]}", highlight=False)
