"""An incident's escalation in Redis: kept in its hash (field ``escalation``, JSON), written with a compare-and-set
on the fields it was decided on (``decided_write.lua``; ``DECIDED_ON``: the incident's status, rule, creation, its
escalation and the outbox), not on the group's version: the group's repeats raise the version without pause, and
under them every retry of a version compare-and-set lost ("kept conflicting").

``EscalationStore.update`` reads the incident, opens its escalation the first time (the policy its group rule names,
``correlation.core.escalation_policies``), advances it at ``now`` against the incident's status, and writes the
result with a timeline entry per step started (``escalation step N: started action X ...``) or stopped, and each
started step's ``incident.escalation_step`` event in the incident's outbox (``sla_outbox``, shared with the SLA
checkpoints: ``correlation/store/sla.py``), all in one script call. So an acknowledgement racing a step has exactly
one outcome: whichever is written first. The step's write reads the incident again after a conflict and finds it
acknowledged (nothing started, the steps stop), or the step is written first (its action runs) and the
acknowledgement's event then stops the steps left.

The caller publishes the outbox and clears it (``clear_outbox``: only if unchanged). A worker that dies in between
leaves the events to the next update at least ``OUTBOX_GRACE`` later (stable event ids: the runner starts the same
run once): ``correlation/store/incident_outbox.py``, shared with the SLA.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from correlation.core.escalation_policies import Escalation, Fired, advance, open_escalation, step_text, stop_text
from correlation.store.incident_commands import incident_view, read_incident
from correlation.store.incident_outbox import OUTBOX_FIELD, IncidentOutboxStore
from events.builders import incident_escalation_step
from rules.escalation_schema import EscalationPolicy

ESCALATION_FIELD = "escalation"
#: the incident's fields an update decides on (``advance`` reads the status; the policy comes from the rule; the
#: first step from the creation): its write goes through only if they are as read
DECIDED_ON = ("status", "rule", "created_at", ESCALATION_FIELD, OUTBOX_FIELD)


@dataclass(frozen=True, slots=True)
class EscalationUpdate:
    """What an update did: the escalation after it (None: the incident follows no policy), the runs it started,
    the events to publish (its own and any an earlier publisher left), when to look next, the outbox as written."""

    incident: dict[str, Any]
    escalation: Escalation | None
    fired: tuple[Fired, ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    next_check: float | None = None
    outbox: str = ""


class Policies:
    """A rule set's escalation policies by name, and which one a group rule names."""

    def __init__(self, policies: tuple[EscalationPolicy, ...] = (), by_rule: dict[str, str] | None = None) -> None:
        self.by_name = {p.name: p for p in policies}
        self.by_rule = by_rule or {}

    def named(self, name: str) -> EscalationPolicy | None:
        return self.by_name.get(name)

    def of_rule(self, rule: str) -> EscalationPolicy | None:
        name = self.by_rule.get(rule)
        return None if name is None else self.by_name.get(name)


def escalation_of(stored: dict[str, str]) -> Escalation | None:
    raw = stored.get(ESCALATION_FIELD)
    return None if not raw else Escalation.from_json(orjson.loads(raw))


class EscalationStore(IncidentOutboxStore):
    async def update(self, incident_id: str, policies: Callable[[], Policies], now: float
                     ) -> EscalationUpdate | None:
        """Open and advance the incident's escalation at ``now``; None when there is no such incident."""
        for _ in range(self.max_attempts):
            _version, _current, stored = await read_incident(self.redis, self.keys, incident_id)
            if not stored:
                return None
            known = policies()
            before = escalation_of(stored)
            if before is None:
                policy = known.of_rule(stored.get("rule", ""))
                if policy is None:
                    return EscalationUpdate(incident_view(stored), None)
                opened = open_escalation(policy, float(stored["created_at"]))
            else:
                opened, policy = before, known.named(before.policy)
            escalation, fired, stopped = advance(opened, policy, stored["status"], now)
            view = incident_view(stored)
            box, pending = self.outbox_of(stored, now)
            next_check = escalation.next_check(policy)
            if escalation == before:
                if pending:  # republished now: due again later
                    next_check = min(now + self.outbox_grace, next_check or now + self.outbox_grace)
                return EscalationUpdate(view, escalation, (), tuple(pending), next_check, stored.get(OUTBOX_FIELD, ""))
            events = [incident_escalation_step(view, {
                "policy": escalation.policy, "step": f.step, "run": f.run, "runs": f.runs, "action": f.action,
                "if_not": f.if_not, "due": f.due, "missed": f.missed}, now) for f in fired]
            entries = [orjson.dumps({"at": now, "kind": "escalation", "text": step_text(f, escalation.policy),
                                     "by": "stormwatch", "step": f.step, "run": f.run, "action": f.action})
                       for f in fired]
            if stopped:
                entries.append(orjson.dumps({"at": now, "kind": "escalation", "by": "stormwatch",
                                             "text": stop_text(stopped, escalation.policy)}))
            outbox = self.outbox_with(box, events, stored, now)
            fields = [ESCALATION_FIELD, orjson.dumps(escalation.to_json()).decode()]
            if events:
                fields += [OUTBOX_FIELD, outbox]
            status = await self.write(incident_id, stored, DECIDED_ON, fields, entries)
            if status == "conflict":
                continue
            if status == "missing":
                return None
            return EscalationUpdate(view, escalation, fired, tuple(pending + events), next_check, outbox)
        raise RuntimeError(f"the escalation of {incident_id} kept conflicting after {self.max_attempts} attempts")
