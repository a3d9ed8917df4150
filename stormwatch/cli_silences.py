"""``stormwatch silences add|list|expire``: through the API when it is configured, else Redis directly
(``stormwatch.cli_backend``)."""

from __future__ import annotations


import typer
from rich.table import Table

from stormwatch.cli_backend import answer, uses_api


def register(silences_app: typer.Typer) -> None:
    silences_app.command("add")(silences_add)
    silences_app.command("list")(silences_list)
    silences_app.command("expire")(silences_expire)


def silences_add(
    matchers: list[str] = typer.Argument(..., help='Matchers, e.g. \'service="orders-db"\' \'alertname=~"High.*"\'.'),
    duration: str = typer.Option("1h", help="How long, e.g. 30m, 2h, 1d."),
    author: str | None = typer.Option(None, help="Who creates it (default: the login name; through the API, "
                                                    "the token's name)."),
    comment: str = typer.Option(..., help="Why: shown to whoever looks at muted alerts."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Create a silence starting now; matching firing alerts are recorded and counted but open no incident."""
    from stormwatch.cli import _settings, _ts, console, err, print_json

    if author and uses_api(_settings(log_level="warning")):
        err.print("note: through the API the silence is recorded with the token's name, not --author", markup=False)
    silence = answer(lambda b: b.add_silence(matchers, duration, author, comment))
    if json_out:
        print_json(silence)
    else:
        console.print(f"silence {silence['id']} until {_ts(silence['ends_at'])}: {', '.join(matchers)}",
                      highlight=False)


def silences_list(
    all_: bool = typer.Option(False, "--all", help="Include expired silences."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Silences, pending and active (with --all, expired too)."""
    from stormwatch.cli import _ts, console, print_json

    silences = answer(lambda b: b.silences(all_))
    if json_out:
        print_json(silences)
        return
    table = Table(title="silences")
    for col in ("id", "state", "matchers", "starts", "ends", "by", "comment"):
        table.add_column(col)
    for s in silences:
        table.add_row(s["id"], s["state"], ", ".join(s["matchers"]), _ts(s["starts_at"]), _ts(s["ends_at"]),
                      s["created_by"], s["comment"])
    console.print(table)


def silences_expire(silence_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """End a silence now (it stays listed with --all)."""
    from stormwatch.cli import console, print_json

    silence = answer(lambda b: b.expire_silence(silence_id))
    if json_out:
        print_json(silence)
    else:
        console.print(f"silence {silence['id']} expired", highlight=False)
