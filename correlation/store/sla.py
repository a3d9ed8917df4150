"""An incident's SLA records in Redis: kept in its hash (field ``sla``, JSON), moved under the group's compare-and-set.

``SlaStore.update`` reads the incident, opens its records the first time (the first matching policy,
``correlation.core.service_levels``), reconciles them with the incident's state (acknowledged, resolved, reopened,
priority, on hold), fires the checkpoints due at ``now``, and writes the result with ``decided_write.lua``: a
compare-and-set on the fields the update decided on (``DECIDED_ON``: the incident's state, its records and its
outbox). So of two workers firing the same checkpoint, or a breach racing an acknowledgement, exactly one write
wins and the other reads again and decides on it (a met record crosses nothing; a breached record stays breached
when acknowledged late). The group's other writes touch none of those fields: a group repeated without pause
(each repeat raising the group's version) does not keep a checkpoint from being written, as a compare-and-set on
the version did (every retry lost to the next repeat).

A crossing's event is written with it, in the same compare-and-set, to the incident's outbox (field
``sla_outbox``), and the timeline gets an entry. The caller publishes the outbox and then clears it
(:meth:`SlaStore.clear_outbox`, only if it still holds what was published); a worker that dies in between leaves
it to the first update of the incident at least ``OUTBOX_GRACE`` (the due-time lease) after it was written, which
returns it again (its events have stable ids): never lost, and not published twice by two live workers
(``correlation/store/incident_outbox.py``, shared with the escalation steps). The engine never writes these fields
(``Incident.to_hash`` has none of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from correlation.core.service_levels import (BREACHED, IncidentClock, ServiceLevels, SlaRecord, fire,
                                             incident_facts, open_records, reconcile, select_policy)
from correlation.store.incident_commands import incident_view, read_incident
from correlation.store.incident_outbox import OUTBOX_FIELD, IncidentOutboxStore
from events.builders import incident_sla, incident_sla_met

SLA_FIELD = "sla"
#: the hash field people's ``on_hold`` command sets (the reason; empty when released)
ON_HOLD_FIELD = "on_hold"
#: the incident's fields an update decides on (``_clock``, the policy's selection and pauses, the records and the
#: outbox): its write goes through only if they are as read. Not the snapshot in its events (``incident_view``:
#: occurrences and the like, which repeats change), which shows the incident as read.
DECIDED_ON = ("status", "priority", "acknowledged_at", "resolved_at", ON_HOLD_FIELD, "created_at", "team", "rule",
              "group_labels", SLA_FIELD, OUTBOX_FIELD)


@dataclass(frozen=True, slots=True)
class SlaUpdate:
    """What an update found and did: the records after it, the events to publish (this update's crossings and any
    an earlier publisher left in the outbox), and when the due-time service must look at the incident next."""

    incident: dict[str, Any]
    records: tuple[SlaRecord, ...]
    events: tuple[dict[str, Any], ...] = ()
    next_check: float | None = None
    outbox: str = ""  # the outbox as written (what clear_outbox compares)
    crossings: tuple[tuple[str, str, str], ...] = field(default=())  # (stage, kind, priority) of this update


def records_of(stored: dict[str, str]) -> tuple[SlaRecord, ...] | None:
    """The records in an incident hash; None when they were never opened."""
    raw = stored.get(SLA_FIELD)
    if raw is None:
        return None
    return tuple(SlaRecord.from_json(r) for r in orjson.loads(raw))


def _clock(stored: dict[str, str]) -> IncidentClock:
    def number(name: str) -> float | None:
        value = stored.get(name, "")
        return float(value) if value else None
    return IncidentClock(status=stored["status"], priority=stored.get("priority", ""),
                         acknowledged_at=number("acknowledged_at"), resolved_at=number("resolved_at"),
                         on_hold=stored.get(ON_HOLD_FIELD, ""))


def _dump(records: tuple[SlaRecord, ...], dues: list[float | None]) -> str:
    """The records with the due time each had when written (calendar, pauses and maintenance windows applied):
    what a countdown reads without the rule set."""
    return orjson.dumps([r.to_json() | {"due": due} for r, due in zip(records, dues, strict=True)]).decode()


def sla_view(stored: dict[str, str], now: float) -> list[dict[str, Any]]:
    """The records as the API and the CLI show them: each with ``due`` (as last written) and ``time_left``, the
    wall-clock seconds until it (negative when overdue; null when met, breached or paused)."""
    raw = stored.get(SLA_FIELD)
    out: list[dict[str, Any]] = []
    for item in orjson.loads(raw) if raw else []:
        record = SlaRecord.from_json(item)
        due = item.get("due")
        running = due is not None and not record.finished and not record.paused
        out.append(record.to_json() | {"due": due, "time_left": (due - now) if running else None,
                                       "paused": record.paused})
    return out


def sla_stage(view: list[dict[str, Any]]) -> str:
    """The incident's SLA as one word: ``breached`` (any record), ``at_risk`` (one warned and running), ``ok``, or
    ``none`` (no records)."""
    if not view:
        return "none"
    if any(r["stage"] == BREACHED for r in view):
        return "breached"
    if any(r["stage"] == "warning" and r["met_at"] is None for r in view):
        return "at_risk"
    return "ok"


class SlaStore(IncidentOutboxStore):
    async def update(self, incident_id: str, levels: ServiceLevels, now: float) -> SlaUpdate | None:
        """Open, reconcile and fire the incident's records at ``now``; None when there is no such incident."""
        for _ in range(self.max_attempts):
            _version, _current, stored = await read_incident(self.redis, self.keys, incident_id)
            if not stored:
                return None
            labels: dict[str, str] = orjson.loads(stored.get("group_labels") or "{}")
            before = records_of(stored)
            if before is None:
                policy = select_policy(levels.policies, incident_facts(
                    stored.get("priority", ""), stored.get("team", ""), stored.get("rule", ""), labels))
                opened = () if policy is None else open_records(policy, stored.get("priority", ""),
                                                                float(stored["created_at"]))
            else:
                opened = before
                policy = levels.policy(before[0].policy) if before else None
            records = reconcile(opened, _clock(stored), policy, now)
            view = incident_view(stored)
            events: list[dict[str, Any]] = []
            entries: list[bytes] = []
            crossings: list[tuple[str, str, str]] = []
            fired: list[SlaRecord] = []
            for record in records:
                calendar = levels.calendar(record.calendar)
                extra = levels.pauses(record, labels, now)
                record, crossing = fire(record, calendar, now, extra)
                fired.append(record)
                if record.met_at is not None and _met_now(record, before):
                    # the record's outcome for the history (no timeline entry: the acknowledgement has one)
                    doc = record.public(calendar, now, extra)
                    events.append(incident_sla_met(view, {k: doc[k] for k in (*record.to_json(), "due")}, now))
                if crossing is not None:
                    doc = record.public(calendar, now, extra)
                    sla = {k: doc[k] for k in (*record.to_json(), "due")}
                    event = incident_sla(view, sla, crossing.stage, crossing.fraction, crossing.at, now)
                    events.append(event)
                    crossings.append((crossing.stage, record.kind, record.priority))
                    entries.append(orjson.dumps({"at": now, "kind": f"sla_{crossing.stage}",
                                                 "text": event["reason"], "by": "stormwatch"}))
            records = tuple(fired)
            box, pending = self.outbox_of(stored, now)
            outbox = self.outbox_with(box, events, stored, now)
            next_check = min((t for r in records if (t := r.next_check(levels.calendar(r.calendar),
                                                                         levels.pauses(r, labels, now)))
                              is not None), default=None)
            dues = [r.due(levels.calendar(r.calendar), levels.pauses(r, labels, now)) for r in records]
            stored_dues = [item.get("due") for item in orjson.loads(stored[SLA_FIELD])] if before is not None else []
            if before is not None and records == before and not events and dues == stored_dues:
                if pending:  # republished now: due again later
                    next_check = min(now + self.outbox_grace, next_check or now + self.outbox_grace)
                return SlaUpdate(view, records, tuple(pending), next_check, outbox)
            fields = [SLA_FIELD, _dump(records, dues)] + ([OUTBOX_FIELD, outbox] if events else [])
            status = await self.write(incident_id, stored, DECIDED_ON, fields, entries)
            if status == "conflict":
                continue
            if status == "missing":
                return None
            await self._index(incident_id, records, levels)
            return SlaUpdate(view, records, tuple(pending + events), next_check, outbox, tuple(crossings))
        raise RuntimeError(f"the SLA of {incident_id} kept conflicting after {self.max_attempts} attempts")

    async def _index(self, incident_id: str, records: tuple[SlaRecord, ...], levels: ServiceLevels) -> None:
        """The at-risk and breached indexes agree with the records (idempotent ZADD/ZREM, after the write)."""
        pipe = self.redis.pipeline(transaction=False)
        if at_risk(records):
            dues = [r.due(levels.calendar(r.calendar)) for r in records if r.warned and r.met_at is None]
            pipe.zadd(self.keys.sla_at_risk, {incident_id: min((d for d in dues if d is not None), default=0.0)})
        else:
            pipe.zrem(self.keys.sla_at_risk, incident_id)
        breached = [r.breached_at for r in records if r.breached_at is not None]
        if breached:
            pipe.zadd(self.keys.sla_breached, {incident_id: min(breached)})
        await pipe.execute()

    async def count_at_risk(self) -> int:
        return int(await self.redis.zcard(self.keys.sla_at_risk))

    async def records(self, incident_id: str) -> tuple[SlaRecord, ...]:
        raw = await self.redis.hget(self.keys.incident(incident_id), SLA_FIELD)
        return () if raw is None else tuple(SlaRecord.from_json(r) for r in orjson.loads(raw))


def _met_now(record: SlaRecord, before: tuple[SlaRecord, ...] | None) -> bool:
    """Whether this update met ``record`` (it was not met before, or was met at another time: a reopen cleared it)."""
    previous = next((r for r in before or () if r.kind == record.kind), None)
    return previous is None or previous.met_at != record.met_at or len(previous.pauses) != len(record.pauses)


def at_risk(records: tuple[SlaRecord, ...]) -> bool:
    """A record warned and neither met nor breached yet."""
    return any(r.warned > 0 and r.stage != BREACHED and r.met_at is None for r in records)
