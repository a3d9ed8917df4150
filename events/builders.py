"""Builders of every event: each producer calls one of these instead of writing the dict by hand.

They return plain dicts, the wire form (``orjson`` serialises them as they are): the engine builds one per incident
change per batch, so nothing here validates. ``events.models`` is the definition they must match; tests check each
builder against it, and real published events against the JSON Schema generated from it.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from events.types import COMMAND_TYPES, SCHEMA_VERSION

Doc = Mapping[str, Any]


def incident_event(event_id: str, event_type: str, reason: str, at: float, incident: Doc, *,
                   by: str | None = None) -> dict[str, Any]:
    """``incident.*``: ``incident`` is ``Incident.public()`` (or the API's view of it, with the people's fields)."""
    event = {"event_id": event_id, "type": event_type, "schema_version": SCHEMA_VERSION, "reason": reason, "at": at,
             "incident": incident}
    if by is not None:
        event["by"] = by
    return event


def incident_merged(event_id: str, reason: str, at: float, incident: Doc) -> dict[str, Any]:
    """``incident.merged``: ``incident`` (resolved) merged into the incident its ``merged_into`` names."""
    event = incident_event(event_id, "incident.merged", reason, at, incident)
    event["into"] = incident["merged_into"]
    return event


def incident_sla(incident: Doc, sla: Doc, stage: str, fraction: float, crossed_at: float, at: float
                 ) -> dict[str, Any]:
    """``incident.sla_warning`` / ``incident.sla_breached``: a checkpoint of the SLA record ``sla`` crossed. The id
    names the incident, the record's kind and the checkpoint, so a republished crossing is the same event."""
    kind = sla["kind"]
    reason = (f"{kind} SLA breached ({sla['priority']}, policy {sla['policy']})" if stage == "breached"
              else f"{kind} SLA at {fraction:.0%} of its target ({sla['priority']}, policy {sla['policy']})")
    event = incident_event(f"{incident['id']}:sla:{kind}:{sla['warned']}", f"incident.sla_{stage}", reason, at,
                           incident)
    event.update(sla=sla, fraction=fraction, crossed_at=crossed_at)
    return event


def incident_escalation_step(incident: Doc, escalation: Doc, at: float) -> dict[str, Any]:
    """``incident.escalation_step``: a step of the incident's escalation policy started its action (``escalation``:
    ``policy``, ``step``, ``run``, ``runs``, ``action``, ``if_not``, ``due``). The id names the incident, the policy,
    the step and the run, so a republished step is the same event and the runner starts the same run."""
    e = escalation
    repeat = f", repeat {e['run']} of {e['runs'] - 1}" if e["run"] else ""
    reason = (f"escalation step {e['step']} of policy {e['policy']}: not {e['if_not']}, started action "
              f"{e['action']}{repeat}")
    event = incident_event(f"{incident['id']}:escalation:{e['policy']}:{e['step']}:{e['run']}",
                           "incident.escalation_step", reason, at, incident)
    event["escalation"] = dict(escalation)
    return event


def incident_sla_met(incident: Doc, sla: Doc, at: float) -> dict[str, Any]:
    """``incident.sla_met``: the SLA record ``sla`` was met at ``sla["met_at"]`` (late when it is breached). The id
    names the incident, the record's kind and its pauses so far: a ``resolve`` met again after a reopen (which adds a
    pause) is another event, a republished one the same."""
    kind = sla["kind"]
    late = " late" if sla["stage"] == "breached" else ""
    reason = f"{kind} SLA met{late} ({sla['priority']}, policy {sla['policy']})"
    event = incident_event(f"{incident['id']}:sla:{kind}:met:{len(sla['pauses'])}", "incident.sla_met", reason, at,
                           incident)
    event.update(sla=sla)
    return event


def incident_change(event_id: str, event_type: str, reason: str, at: float, incident: Doc) -> dict[str, Any]:
    """Any event of the engine's own incident changes (``correlation.core.decision.Event``), by its type."""
    if event_type == "incident.merged":
        return incident_merged(event_id, reason, at, incident)
    return incident_event(event_id, event_type, reason, at, incident)


def incident_command(incident_id: str, version: int, command: str, reason: str, at: float, by: str,
                     incident: Doc) -> dict[str, Any]:
    """A person's command on an incident (acknowledge, resolve, ...), once per version of the group it wrote."""
    return incident_event(f"{incident_id}:v{version}", COMMAND_TYPES[command], reason, at, incident, by=by)


def status_update(incident_id: str, version: int, update: Doc, incident: Doc) -> dict[str, Any]:
    """``incident.status_update``: a stakeholder update on a major incident; ``update`` is its timeline entry
    (``at``, ``text``, ``by``, ``state``, ``number``), ``reason`` its text."""
    event = incident_event(f"{incident_id}:v{version}", "incident.status_update", update["text"], update["at"],
                           incident, by=update["by"])
    event["update"] = {name: update[name] for name in ("number", "state", "text", "by", "at")}
    return event


def incident_escalated(event_id: str, because: str, at: float, incident: Doc) -> dict[str, Any]:
    return incident_event(event_id, "incident.escalated", because, at, incident)


def problem_event(event_id: str, event_type: str, reason: str, at: float, problem: Doc, *,
                  by: str | None = None) -> dict[str, Any]:
    """``problem.*``: ``problem`` is ``Problem.public()``."""
    event = {"event_id": event_id, "type": event_type, "schema_version": SCHEMA_VERSION, "reason": reason, "at": at}
    if by is not None:
        event["by"] = by
    event["problem"] = problem
    return event


def problem_correlated(problem: Doc, outcome: str, incident_id: str, reason: str, at: float) -> dict[str, Any]:
    """Correlation opened a problem (``outcome`` created) or linked an incident to it (linked)."""
    return problem_event(f"{problem['id']}:{outcome}:{incident_id}",
                         "problem.created" if outcome == "created" else "problem.updated", reason, at, problem)


def problem_linked(problem: Doc, incident_id: str, op: str, by: str, at: float) -> dict[str, Any]:
    """A person linked (``op`` link) or unlinked (unlink) an incident."""
    return problem_event(f"{problem['id']}:{op}:{incident_id}:{at!r}", "problem.updated",
                         f"incident {incident_id} {op}ed by {by}", at, problem, by=by)


def problem_status(problem: Doc, status: str, by: str, at: float) -> dict[str, Any]:
    """A person made a problem a known error (``status`` known_error) or resolved it (resolved)."""
    return problem_event(f"{problem['id']}:{status}:{at!r}", f"problem.{status}", f"{status} by {by}", at, problem,
                         by=by)


def silence_created(silence: Doc, by: str, at: float, comment: str) -> dict[str, Any]:
    return {"event_id": f"{silence['id']}:created", "type": "silence.created", "schema_version": SCHEMA_VERSION,
            "by": by, "at": at, "reason": f"silence created by {by}: {comment}", "silence": silence}


def silence_expired(silence: Doc, by: str, at: float) -> dict[str, Any]:
    return {"event_id": f"{silence['id']}:expired:{at!r}", "type": "silence.expired",
            "schema_version": SCHEMA_VERSION, "by": by, "at": at, "reason": f"silence expired by {by}",
            "silence": silence}


#: the kinds of mute reason (``<kind>:<name>``)
MUTE_KINDS = ("silence", "maintenance", "change")


def mute_kind(reason: str) -> str:
    """``silence`` for ``silence:<id>``, ``maintenance`` for ``maintenance:<name>``, ``change`` for ``change:<id>``."""
    kind = reason.partition(":")[0]
    return kind if kind in MUTE_KINDS else "silence"


def alert_muted(message_id: str, group_id: str, mutes: Mapping[tuple[str, str, str], int] | Mapping[str, int],
                at: float) -> dict[str, Any]:
    """``alert.muted``: the firing notifications of one message in one group muted, by reason, team and service
    (keys ``(reason, team, service)``; a bare reason: no team or service)."""
    counts = {(key, "", "") if isinstance(key, str) else key: n for key, n in mutes.items()}
    total = sum(counts.values())
    return {"event_id": f"{message_id}:{group_id}:muted", "type": "alert.muted", "schema_version": SCHEMA_VERSION,
            "at": at, "reason": f"{total} notification{'s' if total != 1 else ''} muted", "group": group_id,
            "mutes": [{"reason": reason, "kind": mute_kind(reason), "notifications": n, "team": team,
                       "service": service} for (reason, team, service), n in sorted(counts.items())]}


def action_decided(run_id: str, decision: str, run: Doc | None, by: str, at: float) -> dict[str, Any]:
    """A person approved (``decision`` approved) or rejected (rejected) an action run waiting for approval."""
    return {"event_id": f"{run_id}:{decision}", "type": f"action.{decision}", "schema_version": SCHEMA_VERSION,
            "by": by, "at": at, "reason": f"{(run or {}).get('action', 'action')} {decision} by {by}", "run": run}


def rules_reloaded(rules: Doc, by: str, at: float) -> dict[str, Any]:
    """The running rules were reloaded on request; ``rules`` is the summary ``GET /api/v1/rules`` answers."""
    return {"event_id": f"rules:reloaded:{at!r}", "type": "rules.reloaded", "schema_version": SCHEMA_VERSION,
            "by": by, "at": at, "reason": f"rules reloaded by {by}", "rules": rules}
