"""People's changes to incidents: acknowledge, resolve, reopen, assign, comment, priority, on_hold.

``decide_command`` is pure (the incident as stored + the command + now in, the change out), like the engine.
``IncidentCommands`` applies a change in Redis with ``incident_command.lua``: a compare-and-set on the
group's version, the same version every worker's ``apply_group.lua`` checks, so a worker that read the group
before the change cannot overwrite it (its write conflicts, it reads again) and two API calls cannot lose one
another's change. Every change is a timeline entry naming who made it and an event on ``<ns>.events``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from events.builders import incident_command, status_update
from events.types import COMMAND_TYPES

from correlation.store.keyspace import Keyspace
from correlation.store.open_index import settle
from correlation.core.model import AlertState, Incident, parse_incident_id
from kv.scripts import Scripts
from rules.schema_types import PRIORITIES

COMMANDS = ("acknowledge", "resolve", "reopen", "assign", "comment", "priority", "promote", "commander",
            "communications_lead", "status_update", "on_hold")
#: major incident roles (issue 21): command -> how the timeline names it
ROLES = {"commander": "incident commander", "communications_lead": "communications lead"}
#: a stakeholder update's state, as status pages say it
UPDATE_STATES = ("investigating", "identified", "monitoring", "resolved")
#: hash fields people's commands add beside the engine's (the engine never writes or clears them)
EXTRA_FIELDS = ("assignee", "acknowledged_by", "acknowledged_at", "resolved_by", "reopened_by", "on_hold")
EVENT_TYPES = COMMAND_TYPES  # command -> the type of the event it publishes (the event contract's)
#: hash fields of declared incidents (``correlation.core.declared``), shown only when set
DECLARED_FIELDS = ("reporter", "description", "service", "impact", "urgency")
#: hash fields of major incidents, shown only on one
MAJOR_FIELDS = ("commander", "communications_lead", "update_state")


@dataclass(frozen=True, slots=True)
class Command:
    kind: str  #: one of COMMANDS
    actor: str  #: who: the API token's name
    value: str = ""  #: assignee, comment text, priority, or the reason for on_hold ("" takes it off hold)
    comment: str = ""  #: an optional note with acknowledge / resolve / reopen


class CommandRefused(Exception):
    """The command does not apply (404 no such incident, 409 wrong state); the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Change:
    changed: bool
    fields: dict[str, str] = field(default_factory=dict)
    entry: dict[str, Any] | None = None
    open_index: str = ""  # "add" | "remove" | ""


def incident_view(raw: dict[Any, Any]) -> dict[str, Any]:
    """The public form of a stored incident hash: the engine's record plus the people's fields."""
    h = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
         for k, v in raw.items()}
    doc = Incident.from_hash(h).public()
    for name in EXTRA_FIELDS:
        value = h.get(name, "")
        doc[name] = (float(value) if value else None) if name.endswith("_at") else (value or None)
    if h.get("declared"):
        doc["declared"] = True
        for name in DECLARED_FIELDS:
            doc[name] = h.get(name, "")
        if h.get("also_reported_by"):
            doc["also_reported_by"] = orjson.loads(h["also_reported_by"])
    if h.get("ticket"):
        doc["ticket"] = h["ticket"]
    if h.get("major"):
        doc["major"] = True
        doc["major_at"] = float(h["major_at"])
        for name in MAJOR_FIELDS:
            doc[name] = h.get(name, "")
        doc["status_updates"] = int(h.get("status_updates") or 0)
        doc["last_update_at"] = float(h["last_update_at"]) if h.get("last_update_at") else None
    return doc


def decide_command(
    stored: dict[str, str], command: Command, now: float, *, current: str, firing: int | None = None
) -> Change:
    """The change ``command`` makes to the incident ``stored`` (its hash, str -> str) at ``now``.

    ``current`` is the group's current incident id (only that one may be reopened: a group has at most one
    open incident); ``firing`` is how many of its members fire now (for reopen). Raises CommandRefused.
    """
    status, who, kind = stored["status"], command.actor, command.kind
    note = f": {command.comment}" if command.comment else ""
    fields: dict[str, str] = {}
    open_index = ""
    if kind == "acknowledge":
        if status == "resolved":
            raise CommandRefused(409, "the incident is resolved; reopen it first")
        if status == "acknowledged":
            return Change(False)
        fields = {"status": "acknowledged", "acknowledged_by": who, "acknowledged_at": repr(now)}
        text = f"acknowledged by {who}{note}"
    elif kind == "resolve":
        if status == "resolved":
            return Change(False)
        fields = {"status": "resolved", "resolved_at": repr(now), "resolved_by": who, "resolve_at": ""}
        text, open_index = f"resolved by {who}{note}", "remove"
    elif kind == "reopen":
        if status != "resolved":
            return Change(False)
        if stored["id"] != current:
            raise CommandRefused(409, f"a newer incident ({current}) exists for this group; only the latest "
                                      "can be reopened")
        fields = {"status": "open", "resolved_at": "", "reopened_by": who, "firing": str(firing or 0)}
        text, open_index = f"reopened by {who}{note}", "add"
    elif kind == "assign":
        if stored.get("assignee", "") == command.value:
            return Change(False)
        fields = {"assignee": command.value}
        text = f"assigned to {command.value} by {who}" if command.value else f"unassigned by {who}"
    elif kind == "comment":
        text = f"{who}: {command.value}"
    elif kind == "priority":
        if command.value not in PRIORITIES:
            raise CommandRefused(422, f"priority must be one of {', '.join(PRIORITIES)}")
        old = stored.get("priority", "")
        if old == command.value:
            return Change(False)
        fields = {"priority": command.value}
        text = f"priority {old or 'none'} -> {command.value} by {who}"
    elif kind == "promote":
        if stored.get("major"):
            return Change(False)
        if status == "resolved":
            raise CommandRefused(409, "the incident is resolved; reopen it first")
        fields = {"major": "1", "major_at": repr(now)}
        text = f"promoted to a major incident by {who}{note}"
    elif kind in ROLES:
        if not stored.get("major"):
            raise CommandRefused(409, "only a major incident has roles; promote it first")
        if stored.get(kind, "") == command.value:
            return Change(False)
        fields = {kind: command.value}
        text = (f"{ROLES[kind]}: {command.value} (assigned by {who})" if command.value
                else f"{ROLES[kind]} unassigned by {who}")
    elif kind == "status_update":
        if not stored.get("major"):
            raise CommandRefused(409, "stakeholder updates are for major incidents; promote it first")
        state = command.comment or "investigating"
        if state not in UPDATE_STATES:
            raise CommandRefused(422, f"state must be one of {', '.join(UPDATE_STATES)}")
        number = int(stored.get("status_updates") or 0) + 1
        fields = {"status_updates": str(number), "last_update_at": repr(now), "update_state": state}
        text = command.value
        entry = {"at": now, "kind": "status_update", "text": text, "by": who, "state": state, "number": number}
        return Change(True, fields | {"updated_at": repr(now)}, entry, "")
    elif kind == "on_hold":
        # the SLA clock stops while it holds a reason, where the incident's service-level policy says so
        if status == "resolved":
            raise CommandRefused(409, "the incident is resolved; reopen it first")
        if stored.get("on_hold", "") == command.value:
            return Change(False)
        fields = {"on_hold": command.value}
        text = (f"put on hold by {who}: {command.value}" if command.value else f"taken off hold by {who}")
    else:
        raise CommandRefused(422, f"unknown command {kind!r}")
    fields["updated_at"] = repr(now)
    entry = {"at": now, "kind": EVENT_TYPES[kind].split(".", 1)[1], "text": text, "by": who}
    return Change(True, fields, entry, open_index)


async def read_incident(redis: Redis, keys: Keyspace, incident_id: str) -> tuple[int, str, dict[str, str]]:
    """The group's version, its current incident id and the incident's hash, for a compare-and-set on the group."""
    gid, _ = parse_incident_id(incident_id)
    # the version first: whatever is read after it, a change since makes the compare-and-set fail and retry
    # (a plain pipeline keeps the order on the group's one node; MULTI is not available on Redis Cluster)
    pipe = redis.pipeline(transaction=False)
    pipe.hget(keys.group(gid), "v")
    pipe.hget(keys.group(gid), "inc")
    pipe.hgetall(keys.incident(incident_id))
    version, current, raw = await pipe.execute()
    stored = {k.decode(): v.decode() for k, v in raw.items()}
    return int(version or 0), (current or b"").decode(), stored


@dataclass(frozen=True, slots=True)
class CommandResult:
    incident: dict[str, Any]
    changed: bool
    event: dict[str, Any] | None = None


class IncidentCommands:
    """Applies commands in Redis (compare-and-set, retried on conflict); the caller publishes the event."""

    def __init__(self, redis: Redis, keyspace: Keyspace, *, timeline_max: int, max_attempts: int = 20) -> None:
        self.redis = redis
        self.keys = keyspace
        self.timeline_max = timeline_max
        self.max_attempts = max_attempts
        self.scripts = Scripts(redis, "correlation.store", "incident_command")

    async def _read(self, incident_id: str) -> tuple[int, str, dict[str, str]]:
        return await read_incident(self.redis, self.keys, incident_id)

    async def _firing(self, incident_id: str) -> int:
        """Members firing now and attached to this incident (a reopen recounts; the group version guards it)."""
        gid, _ = parse_incident_id(incident_id)
        members = cast(set[bytes], await self.redis.smembers(self.keys.incident_alerts(incident_id)))  # bytes client
        fps = [m.decode() for m in members]
        if not fps:
            return 0
        raws = await self.redis.mget([self.keys.alert(gid, fp) for fp in fps])
        states = [AlertState.from_json(r) for r in raws if r]
        return sum(1 for s in states if s.status == "firing" and s.incident == incident_id and not s.muted)

    async def execute(self, incident_id: str, command: Command, now: float) -> CommandResult:
        try:
            gid, _ = parse_incident_id(incident_id)
        except ValueError:
            raise CommandRefused(404, f"no incident {incident_id!r}") from None
        for _ in range(self.max_attempts):
            version, current, stored = await self._read(incident_id)
            if not stored:
                raise CommandRefused(404, f"no incident {incident_id!r}")
            firing = await self._firing(incident_id) if command.kind == "reopen" else None
            change = decide_command(stored, command, now, current=current, firing=firing)
            if not change.changed:
                # nothing to write; the index is made to agree anyway, so retrying a command whose answer was
                # lost (a crash between the write and the index) repairs it
                await self._index(incident_id, stored, "remove" if stored["status"] == "resolved" else "add")
                return CommandResult(incident_view(stored), False)
            flat: list[str] = []
            for name, value in change.fields.items():
                flat += (name, value)
            keys = [self.keys.group(gid), self.keys.incident(incident_id), self.keys.incident_timeline(incident_id)]
            args = [version, self.timeline_max, len(flat), *flat, orjson.dumps(change.entry)]
            (result,) = await self.scripts.run_many("incident_command", [(keys, args)])
            status = result[0].decode()
            if status == "conflict":
                continue
            if status == "missing":
                raise CommandRefused(404, f"no incident {incident_id!r}")
            new_version = int(result[1])
            stored.update(change.fields)
            await self._index(incident_id, stored, change.open_index)
            view = incident_view(stored)
            if command.kind == "status_update" and change.entry is not None:
                event = status_update(incident_id, new_version, change.entry, view)
            else:
                event = incident_command(incident_id, new_version, command.kind,
                                         change.entry["text"] if change.entry else "", now, command.actor, view)
            return CommandResult(view, True, event)
        raise CommandRefused(409, "the incident kept changing; try again")

    async def _index(self, incident_id: str, stored: dict[str, str], what: str) -> None:
        if what == "remove":
            await self.redis.zrem(self.keys.open_incidents, incident_id)
        elif what == "add":
            await self.redis.zadd(self.keys.open_incidents, {incident_id: float(stored["created_at"])})
        else:
            return
        await settle(self.redis, self.keys, {incident_id: what == "add"})
