"""``stormwatch changes``: record a change (a deploy, a config change, ...) and list them (``docs/changes.md``).

Through the API when ``STORMWATCH_API_URL`` or ``STORMWATCH_API_TOKEN`` is set (``POST /api/v1/changes`` with an
ingest token), else published straight to ``<ns>.changes`` on RabbitMQ (``add``) or read from Redis (``list``)."""

from __future__ import annotations

import typer

from events.changes import KINDS
from stormwatch.cli.backend import answer
from stormwatch.cli.output import print_answer, print_listing
from stormwatch.views import ts

changes_app = typer.Typer(no_args_is_help=True, help="Change events: deploys, config changes, feature flags.")


@changes_app.command("add")
def changes_add(
    service: str = typer.Option(..., "--service", "-s", help="The service it changed."),
    summary: str = typer.Option(..., "--summary", "-m", help="What changed."),
    kind: str = typer.Option("deploy", "--kind", help=f"One of {', '.join(KINDS)}."),
    environment: str = typer.Option("", "--environment", "-e"),
    source: str = typer.Option("cli", "--source", help="What made it (a CI system, a host)."),
    at: str = typer.Option("", "--at", help="When it happened: RFC 3339 or epoch seconds (default: now)."),
    change_id: str = typer.Option("", "--id", help="Its id (idempotency); default: made up."),
    link: list[str] = typer.Option([], "--link", help="A URL (repeatable)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Record one change."""
    body: dict[str, object] = {"service": service, "summary": summary, "kind": kind, "source": source,
                               "links": [{"href": href} for href in link]}
    for name, value in (("environment", environment), ("id", change_id)):
        if value:
            body[name] = value
    if at:
        body["at"] = float(at) if at.replace(".", "", 1).isdigit() else at
    print_answer(answer(lambda b: b.add_change(body)), json_out,
                 lambda d: f"change {d['id']} on {d['service']} accepted")


@changes_app.command("list")
def changes_list(
    service: str | None = typer.Option(None, "--service", "-s", help="Only this service's changes."),
    limit: int = typer.Option(50, min=1, max=1000),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Changes, newest first."""
    print_listing(answer(lambda b: b.changes(service, limit)), json_out, "changes",
                  ("at", "service", "kind", "environment", "summary", "source", "id"),
                  lambda c: (ts(c["at"]), c["service"], c["kind"], c["environment"] or "-", c["summary"],
                             c["source"] or "-", c["id"]))


@changes_app.command("window-add")
def window_add(
    service: list[str] = typer.Option([], "--service", "-s", help="A service it covers (repeatable)."),
    matcher: list[str] = typer.Option([], "--match", help='A matcher it covers, e.g. cluster="eu-1" (repeatable).'),
    duration: str = typer.Option(..., "--duration", "-d", help="How long, e.g. 2h."),
    starts_at: float | None = typer.Option(None, "--starts-at", help="Epoch seconds (default: now)."),
    mode: str = typer.Option("mute", "--mode", help="mute (alerts page only if still firing at the end) or annotate."),
    summary: str = typer.Option("", "--summary", "-m"),
    by: str | None = typer.Option(None, help="Who (recorded; default the login name). Through the API: the token's."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Schedule a change window."""
    body: dict[str, object] = {"services": service, "matchers": matcher, "duration": duration, "mode": mode,
                               "summary": summary}
    if starts_at is not None:
        body["starts_at"] = starts_at
    print_answer(answer(lambda b: b.add_change_window(body, by)), json_out,
                 lambda d: f"change window {d['id']} ({d['mode']}) until {ts(d['ends_at'])}")


@changes_app.command("windows")
def windows_list(
    expired: bool = typer.Option(False, "--expired", help="Also the windows that are over."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Change windows: pending and active (and over, with --expired)."""
    print_listing(answer(lambda b: b.change_windows(expired)), json_out, "change windows",
                  ("id", "state", "mode", "services", "matchers", "from", "until", "summary"),
                  lambda w: (w["id"], w["state"], w["mode"], ", ".join(w["services"]) or "-",
                             ", ".join(w["matchers"]) or "-", ts(w["starts_at"]), ts(w["ends_at"]), w["summary"]))


@changes_app.command("window-end")
def window_end(window_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """End a change window now."""
    print_answer(answer(lambda b: b.end_change_window(window_id)), json_out, lambda d: f"change window {d['id']} ended")
