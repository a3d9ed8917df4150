"""``stormwatch services``: the service catalog (from the rule files) with each service's health, computed from
its open incidents (``docs/services.md``). Through the API when ``STORMWATCH_API_URL`` or ``STORMWATCH_API_TOKEN``
is set, else Redis directly with the catalog of ``STORMWATCH_RULES`` (``stormwatch.cli.backend``)."""

from __future__ import annotations

import typer

from stormwatch.cli.backend import answer
from stormwatch.cli.output import console, print_json
from stormwatch.views import business_services_table, services_table

services_app = typer.Typer(no_args_is_help=True, help="The service catalog: owners, dependencies, health.")


@services_app.command("list")
def services_list(
    business: bool = typer.Option(False, "--business", help="The business services instead."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Every service (or business service) with its health."""
    doc = answer(lambda b: b.business_services() if business else b.services())
    if json_out:
        print_json(doc)
        return
    console.print(business_services_table(doc["items"]) if business else services_table(doc["items"]))
    if doc.get("truncated"):
        console.print("(health from the newest open incidents only: there are more)", highlight=False)


@services_app.command("show")
def services_show(name: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """One service: owner, tier, links, dependencies both ways, open incidents, health."""
    doc = answer(lambda b: b.service(name))
    if json_out:
        print_json(doc)
        return
    console.print(services_table([doc], title=doc["name"]))
    if doc["description"]:
        console.print(doc["description"], highlight=False)
    console.print(f"dependants: {', '.join(doc['dependants']) or '-'}", highlight=False)
    for kind, url in doc["links"].items():
        if url:
            console.print(f"{kind}: {url}", highlight=False)
    if doc["support_hours"]:
        console.print(f"support hours: {doc['support_hours']}", highlight=False)
    for incident in doc["open_incidents"]:
        console.print(f"{incident['id']} {incident['priority'] or '-'} {incident['status']} {incident['title']}",
                      highlight=False)
