"""``stormwatch incidents``: look at incidents (``list``, ``show``), declare one (``declare``) and change them
(``ack``, ``resolve``, ``reopen``, ``assign``, ``comment``, ``priority``, ``attach``, ``detach``), and run a major
incident (``major``, ``roles``, ``update``, ``share``).

The views go through the API when ``STORMWATCH_API_URL`` or ``STORMWATCH_API_TOKEN`` is set, else Redis directly
(``stormwatch.cli.backend``); the same documents either way, as tables for people and ``--json`` for scripts.

People's changes always go through the HTTP API (``STORMWATCH_API_URL``, default the local HTTP address) with
``STORMWATCH_API_TOKEN`` (a respond or admin token), so the change is recorded with the token's name, made with
the same compare-and-set as every other, and published as an event. Stdlib HTTP only: no extra dependency.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stormwatch.cli import context
from stormwatch.cli.backend import answer, api_url, call
from stormwatch.cli.output import console, err, print_json
from stormwatch.views import incidents_table, runs_table, sla_table, timeline_table, ts

incidents_app = typer.Typer(no_args_is_help=True, help="Look at incidents.")


STATUSES = ("open", "acknowledged", "resolved")


def incidents_list(
    open_only: bool = typer.Option(False, "--open", help="Only open and acknowledged incidents."),
    status: list[str] | None = typer.Option(None, "--status", help="open, acknowledged or resolved (repeatable)."),
    limit: int = typer.Option(50, min=1, max=10_000),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List incidents, newest first."""
    statuses = frozenset(status or ()) | (frozenset({"open", "acknowledged"}) if open_only else frozenset())
    if statuses - frozenset(STATUSES):
        err.print(f"--status: one of {', '.join(STATUSES)}", markup=False)
        raise typer.Exit(2)
    incidents = answer(lambda b: b.incidents(statuses, limit))
    if json_out:
        print_json(incidents)
    else:
        console.print(incidents_table(incidents))


def incidents_show(incident_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """One incident: why it was formed, its alerts, symptoms it explains, action runs and timeline."""
    doc = answer(lambda b: b.incident(incident_id))
    if json_out:
        print_json(doc)
        return
    console.print(incidents_table([doc], title=doc["id"]))
    people = [f"{name} {doc[field]}" for name, field in (("acknowledged by", "acknowledged_by"),
                                                         ("assignee", "assignee")) if doc.get(field)]
    if doc.get("declared"):
        people.insert(0, f"declared for service {doc['service']} (impact {doc['impact']}, urgency {doc['urgency']}), "
                         f"reported by {doc['reporter']}")
        if doc.get("also_reported_by"):
            people.insert(1, f"also reported by {', '.join(doc['also_reported_by'])}")
        if doc.get("description"):
            people.insert(1, doc["description"])
    if doc.get("major"):
        people.append(f"MAJOR incident: commander {doc['commander'] or '-'}, communications lead "
                      f"{doc['communications_lead'] or '-'}, {doc['status_updates']} stakeholder update(s)")
    if people:
        console.print("; ".join(people), highlight=False)
    if doc.get("merged_into"):
        console.print(f"merged into {doc['merged_into']}: a cause that fired later explains its alerts (they are "
                      "symptoms there)", highlight=False)
    why = doc.get("why")
    if why:
        matchers = ", ".join(why.get("matchers", [])) or "(none: no group rule matched)"
        console.print(f"why: rule [bold]{why.get('rule')}[/bold] matched {matchers}; grouped by "
                      f"{', '.join(why.get('group_by', []))} = {why.get('group_labels')}", highlight=False)
    if doc.get("service"):
        affects = ", ".join(doc.get("business_services") or []) or "no business service"
        console.print(f"service: [bold]{doc['service']}[/bold] ({doc.get('binding')}); affects {affects}",
                      highlight=False)
    if doc.get("changes"):
        ct = Table(title="probable causes: changes linked to this incident, best first")
        for col in ("change", "service", "kind", "at", "summary", "why"):
            ct.add_column(col)
        for c in doc["changes"]:
            ct.add_row(c["id"], c["service"], c["kind"], ts(c["at"]), c["summary"], c["reason"])
        console.print(ct)
    table = Table(title="alerts")
    for col in ("fingerprint", "labels", "status", "count", "first seen", "last seen"):
        table.add_column(col)
    for a in doc["members"]:
        labels = ",".join(f"{k}={v}" for k, v in sorted(a["labels"].items()))
        status = f"{a['status']} (expired)" if a.get("expired") else a["status"]  # not sent for resolve_timeout
        table.add_row(a["fingerprint"], labels, status, str(a["count"]), ts(a["first_seen"]),
                      ts(a["last_seen"]))
    console.print(table)
    if doc.get("symptoms"):
        st = Table(title="symptoms: alerts of other groups this incident explains (why they did not page)")
        for col in ("fingerprint", "labels", "because", "since"):
            st.add_column(col)
        for sym in doc["symptoms"]:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sym["labels"].items()))
            because = (f"topology: {' -> '.join(sym['path'])}" if sym["kind"] == "topology"
                       else f"attached by {sym.get('by')}" if sym["kind"] == "attached"
                       else f"inhibit rule {sym['rule']}")
            if sym.get("merged_from"):
                because += f" (from {sym['merged_from']}, merged)"
            st.add_row(sym["fingerprint"], labels, because, ts(sym["at"]))
        console.print(st)
    if doc.get("sla"):
        console.print(sla_table(doc["sla"]))
    if doc.get("actions"):
        console.print(runs_table(doc["actions"], title="action runs"))
    console.print(timeline_table(doc["timeline"]))


def _post(path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
    """POST to the API; a refusal is one line on stderr and exit 2 (no answer, auth) or 1."""
    settings = context.settings(log_level="warning")
    status, doc = call(settings, "POST", path, body)
    if status not in (200, 201):
        detail = doc.get("detail") if isinstance(doc, dict) else doc
        hint = " (set STORMWATCH_API_TOKEN to a respond or admin token)" if status in (401, 403) else ""
        err.print(f"{what}: {status or 'no answer'}: {detail}{hint}", markup=False)
        raise typer.Exit(2 if status in (0, 401, 403) else 1)
    return dict(doc)


def _command(incident_id: str, name: str, body: dict[str, Any], json_out: bool) -> None:
    doc = _post(f"/api/v1/incidents/{incident_id}/{name}", body, f"{name} {incident_id}")
    if json_out:
        print_json(doc)
        return
    incident = doc["incident"]
    what = "done" if doc["changed"] else "nothing to change"
    roles_said = (f", commander {incident['commander'] or '-'}, communications lead "
                  f"{incident['communications_lead'] or '-'}") if incident.get("major") else ""
    console.print(f"{incident['id']}: {name} {what}; status {incident['status']}, priority "
                  f"{incident['priority'] or '-'}, assignee {incident['assignee'] or '-'}{roles_said}", highlight=False)


JSON = typer.Option(False, "--json", help="Print the API's answer as JSON.")
NOTE = typer.Option("", "--comment", "-m", help="A note for the timeline.")


def acknowledge(incident_id: str, note: str = NOTE, json_out: bool = JSON) -> None:
    """Acknowledge an incident (someone is on it)."""
    _command(incident_id, "acknowledge", {"comment": note}, json_out)


def resolve(incident_id: str, note: str = NOTE, json_out: bool = JSON) -> None:
    """Resolve an incident (also for rules with auto_resolve: manual)."""
    _command(incident_id, "resolve", {"comment": note}, json_out)


def reopen(incident_id: str, note: str = NOTE, json_out: bool = JSON) -> None:
    """Reopen the group's latest incident."""
    _command(incident_id, "reopen", {"comment": note}, json_out)


def assign(incident_id: str, assignee: str = typer.Argument(..., help="Who; '' to unassign."),
           json_out: bool = JSON) -> None:
    """Assign an incident."""
    _command(incident_id, "assign", {"assignee": assignee}, json_out)


def comment(incident_id: str, text: str = typer.Argument(...), json_out: bool = JSON) -> None:
    """Add a comment to an incident's timeline."""
    _command(incident_id, "comment", {"text": text}, json_out)


def priority(incident_id: str, value: str = typer.Argument(..., metavar="P1..P5"),
             json_out: bool = JSON) -> None:
    """Set an incident's priority."""
    _command(incident_id, "priority", {"priority": value}, json_out)


LEVEL = typer.Option("medium", help="high, medium or low (with the other: the ITIL priority).")


def declare(
    title: str = typer.Argument(..., help="What is wrong, in a line."),
    service: str = typer.Option(..., "--service", help="The service it is about (one open incident per service)."),
    description: str = typer.Option("", "--description", "-d"),
    impact: str = LEVEL,
    urgency: str = LEVEL,
    team: str = typer.Option("", "--team", help="Assignment group (default STORMWATCH_DEFAULT_TEAM)."),
    reporter: str = typer.Option("", "--reporter", help="Who reports it (default the API token's name)."),
    alerts: list[str] | None = typer.Option(None, "--alert", help="Fingerprint of an alert to attach (repeatable)."),
    major: bool = typer.Option(False, "--major", help="Declare it as a major incident."),
    json_out: bool = JSON,
) -> None:
    """Declare an incident; a report for a service whose incident is open joins it (also reported by)."""
    body = {"title": title, "service": service, "description": description, "impact": impact, "urgency": urgency,
            "team": team, "reporter": reporter, "alerts": alerts or [], "major": major}
    doc = _post("/api/v1/incidents", body, "declare")
    if json_out:
        print_json(doc)
        return
    incident = doc["incident"]
    what = "joined the open incident" if doc["joined"] else "declared"
    console.print(f"{incident['id']}: {what} for service {incident['service']}; priority {incident['priority']}, "
                  f"team {incident['team']}", highlight=False)


def attach(incident_id: str, fingerprint: str = typer.Argument(..., help="The alert's fingerprint."),
           json_out: bool = JSON) -> None:
    """Attach an alert (a member of an open incident) to an incident: listed among its symptoms."""
    _command(incident_id, "attach", {"fingerprint": fingerprint}, json_out)


def detach(incident_id: str, fingerprint: str = typer.Argument(..., help="The alert's fingerprint."),
           json_out: bool = JSON) -> None:
    """Detach an alert attached to an incident."""
    _command(incident_id, "detach", {"fingerprint": fingerprint}, json_out)


def major(incident_id: str,
          commander: str = typer.Option("", "--commander", help="The incident commander."),
          communications_lead: str = typer.Option("", "--communications-lead", help="The communications lead."),
          note: str = NOTE, json_out: bool = JSON) -> None:
    """Promote an incident to a major incident (optionally naming its roles)."""
    _command(incident_id, "major", {"commander": commander, "communications_lead": communications_lead,
                                    "comment": note}, json_out)


def roles(incident_id: str,
          commander: str | None = typer.Option(None, "--commander", help="The incident commander ('' unassigns)."),
          communications_lead: str | None = typer.Option(None, "--communications-lead",
                                                         help="The communications lead ('' unassigns)."),
          json_out: bool = JSON) -> None:
    """Assign a major incident's roles."""
    body = {k: v for k, v in (("commander", commander), ("communications_lead", communications_lead))
            if v is not None}
    _command(incident_id, "roles", body, json_out)


def update(incident_id: str, text: str = typer.Argument(..., help="What stakeholders should know."),
           state: str = typer.Option("investigating", "--state",
                                     help="investigating, identified, monitoring or resolved."),
           json_out: bool = JSON) -> None:
    """Publish a stakeholder status update on a major incident (incident.status_update)."""
    doc = _post(f"/api/v1/incidents/{incident_id}/updates", {"text": text, "state": state}, f"update {incident_id}")
    if json_out:
        print_json(doc)
        return
    console.print(f"{incident_id}: update {doc['update']['number']} ({doc['update']['state']}) published",
                  highlight=False)


def share(incident_id: str, json_out: bool = JSON) -> None:
    """The read-only status page of an incident, with its read token (that incident only)."""
    doc = _post(f"/api/v1/incidents/{incident_id}/share", {}, f"share {incident_id}")
    if json_out:
        print_json(doc)
        return
    settings = context.settings(log_level="warning")
    console.print(api_url(settings).rstrip("/") + doc["url"], highlight=False, soft_wrap=True)
def on_hold(incident_id: str, reason: str = typer.Argument(..., help="Why it waits; '' to take it off hold."),
            json_out: bool = JSON) -> None:
    """Put an incident on hold with a reason (its SLA clock stops where the policy says so)."""
    _command(incident_id, "on_hold", {"reason": reason}, json_out)


# the change verbs first, then the views: the order ``stormwatch incidents --help`` lists them in
incidents_app.command("declare")(declare)
incidents_app.command("ack")(acknowledge)
incidents_app.command("resolve")(resolve)
incidents_app.command("reopen")(reopen)
incidents_app.command("assign")(assign)
incidents_app.command("comment")(comment)
incidents_app.command("priority")(priority)
incidents_app.command("major")(major)
incidents_app.command("roles")(roles)
incidents_app.command("update")(update)
incidents_app.command("share")(share)
incidents_app.command("attach")(attach)
incidents_app.command("detach")(detach)
incidents_app.command("on-hold")(on_hold)
incidents_app.command("list")(incidents_list)
incidents_app.command("show")(incidents_show)
