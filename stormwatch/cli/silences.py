"""``stormwatch silences add|list|expire``: through the API when it is configured, else Redis directly
(``stormwatch.cli.backend``); ``preview`` always through the API."""

from __future__ import annotations


import typer
from rich.table import Table

from stormwatch.cli import context
from stormwatch.cli.backend import answer, answer_api, uses_api
from stormwatch.cli.output import console, err, print_answer, print_json, print_listing
from stormwatch.views import ts

silences_app = typer.Typer(no_args_is_help=True, help="Mute alerts matching matchers for a while.")


def silences_add(
    matchers: list[str] = typer.Argument(..., help='Matchers, e.g. \'service="orders-db"\' \'alertname=~"High.*"\'.'),
    duration: str = typer.Option("1h", help="How long, e.g. 30m, 2h, 1d."),
    author: str | None = typer.Option(None, help="Who creates it (default: the login name; through the API, "
                                                    "the token's name)."),
    comment: str = typer.Option(..., help="Why: shown to whoever looks at muted alerts."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Create a silence starting now; matching firing alerts are recorded and counted but open no incident."""
    if author and uses_api(context.settings(log_level="warning")):
        err.print("note: through the API the silence is recorded with the token's name, not --author", markup=False)
    print_answer(answer(lambda b: b.add_silence(matchers, duration, author, comment)), json_out,
                 lambda s: f"silence {s['id']} until {ts(s['ends_at'])}: {', '.join(matchers)}")


def silences_list(
    all_: bool = typer.Option(False, "--all", help="Include expired silences."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Silences, pending and active (with --all, expired too)."""
    print_listing(answer(lambda b: b.silences(all_)), json_out, "silences",
                  ("id", "state", "matchers", "starts", "ends", "by", "comment"),
                  lambda s: (s["id"], s["state"], ", ".join(s["matchers"]), ts(s["starts_at"]), ts(s["ends_at"]),
                             s["created_by"], s["comment"]))


def silences_expire(silence_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """End a silence now (it stays listed with --all)."""
    print_answer(answer(lambda b: b.expire_silence(silence_id)), json_out, lambda s: f"silence {s['id']} expired")


def preview(matchers: list[str] = typer.Argument(..., help='e.g. service="orders-db"'),
            json_out: bool = typer.Option(False, "--json", help="Print the API's answer as JSON.")) -> None:
    """Which firing alerts of open incidents these matchers would mute (through the API; creates nothing)."""
    doc = answer_api("POST", "/api/v1/silences/preview", {"matchers": matchers}, "preview")
    if json_out:
        print_json(doc)
        return
    table = Table(title=f"would mute {len(doc['matched'])} firing alert(s) of {doc['incidents_scanned']} open "
                        f"incident(s){' (newest only)' if doc['truncated'] else ''}")
    for col in ("incident", "alert", "labels"):
        table.add_column(col)
    for m in doc["matched"]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(m["labels"].items()))
        table.add_row(m["incident"], m["labels"].get("alertname", m["fingerprint"]), labels)
    console.print(table)


silences_app.command("add")(silences_add)
silences_app.command("list")(silences_list)
silences_app.command("expire")(silences_expire)
silences_app.command("preview")(preview)
