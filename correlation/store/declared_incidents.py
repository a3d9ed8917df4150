"""Declared incidents in Redis (issue 21): declare (or join the open one), attach and detach alerts.

The decisions are ``correlation.core.declared``'s; the writes are one script each, atomic in the declared group's
slot: ``declare_incident.lua`` (a new incident, or "also reported by" on the open one) and ``attach_alert.lua`` (an
alert of any group listed among the incident's symptoms, or removed). Both bump the group's version, the one
``incident_command.lua`` compares, so people's commands on a declared incident stay compare-and-set like any other.
The global indexes are updated after the write, idempotently, as the commands do.

``OpenDeclared`` reads which services have an open declared incident (``read_declared.lua``, one call per service in
one pipeline), for the alerts whose group rule joins declared incidents (``correlation.core.declared.DeclaredJoin``):
the state is the declared group itself, so a resolve or reopen by any path is seen by the next batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from events.builders import incident_event

from correlation.core.declared import Declaration, declared_group, declared_priority, declared_record
from correlation.core.model import AlertState, incident_id as make_incident_id, parse_incident_id
from correlation.store.incident_commands import CommandRefused, incident_view
from correlation.store.keyspace import Keyspace
from correlation.store.open_index import settle
from kv.scripts import Scripts

Matrix = Mapping[str, Mapping[str, str]]
#: the most alerts one request may attach
MAX_ATTACH = 100


@dataclass(frozen=True, slots=True)
class Declared:
    incident: dict[str, Any]
    joined: bool  #: True: an incident was open for the service and the report joined it
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Attached:
    incident: dict[str, Any]
    changed: bool
    event: dict[str, Any] | None


class DeclaredIncidents:
    def __init__(self, redis: Redis, keyspace: Keyspace, *, timeline_max: int, matrix: Callable[[], Matrix],
                 default_team: str) -> None:
        """``matrix``: the running rule set's priority matrix (read on each declaration: rules reload)."""
        self.redis = redis
        self.keys = keyspace
        self.timeline_max = timeline_max
        self.matrix = matrix
        self.default_team = default_team
        self.scripts = Scripts(redis, "correlation.store", "declare_incident", "attach_alert")

    async def declare(self, declaration: Declaration, now: float) -> Declared:
        try:
            priority = declared_priority(self.matrix(), declaration.impact, declaration.urgency)
        except ValueError as exc:
            raise CommandRefused(422, str(exc)) from None
        group = declared_group(declaration.service)
        record = declared_record(declaration, "", priority, now, self.default_team)
        del record["id"]
        flat: list[str] = []
        for name, value in record.items():
            flat += (name, value)
        who = declaration.reporter
        joined_entry = {"at": now, "kind": "also_reported", "text": f"also reported by {who}", "by": who}
        created_entry = {"at": now, "kind": "declared", "by": who,
                         "text": f"declared by {who}" + (" as a major incident" if declaration.major else "")
                         + f": {declaration.title}"}
        keys = [self.keys.group(group.id), self.keys.incident_prefix(group.id)]
        args = [make_incident_id(group.id, 0)[:-1], self.timeline_max, who, repr(now), orjson.dumps(joined_entry),
                orjson.dumps(created_entry), *flat]
        (result,) = await self.scripts.run_many("declare_incident", [(keys, args)])
        if result[0] == b"collision":
            raise CommandRefused(409, f"service: the group of {declaration.service!r} is an alert group's; use "
                                      "another service name")
        outcome, iid, version = (r.decode() for r in result)
        view = await self._view(iid)
        if outcome == "created":
            await self.redis.zadd(self.keys.incidents, {iid: now})
            await self.redis.zadd(self.keys.open_incidents, {iid: now})
            await settle(self.redis, self.keys, {iid: True})  # a person may resolve it at once
            event = incident_event(f"{iid}:created", "incident.created",
                                   f"declared by {who}: {declaration.title}", now, view, by=declaration.by)
        else:
            event = incident_event(f"{iid}:v{version}", "incident.updated", f"also reported by {who}", now, view,
                                   by=declaration.by)
        return Declared(view, outcome == "joined", event)

    async def _view(self, incident_id: str) -> dict[str, Any]:
        raw = await self.redis.hgetall(self.keys.incident(incident_id))
        if not raw:
            raise CommandRefused(404, f"no incident {incident_id!r}")
        return incident_view(raw)

    async def find_alert(self, fingerprint: str) -> tuple[str, AlertState] | None:
        """The group and state of an alert that is a member of an open incident (the ones people can see)."""
        ids = [i.decode() for i in cast(list[bytes], await self.redis.zrange(self.keys.open_incidents, 0, -1))]
        pipe = self.redis.pipeline(transaction=False)
        for iid in ids:
            pipe.sismember(self.keys.incident_alerts(iid), fingerprint)
        for iid, member in zip(ids, await pipe.execute() if ids else [], strict=True):
            if member:
                gid, _ = parse_incident_id(iid)
                raw = await self.redis.get(self.keys.alert(gid, fingerprint))
                if raw:
                    return gid, AlertState.from_json(raw)
        return None

    async def link(self, incident_id: str, fingerprint: str, op: str, by: str, now: float) -> Attached:
        """Attach (``op`` attach) or detach (detach) the alert ``fingerprint`` to or from ``incident_id``."""
        try:
            gid, _ = parse_incident_id(incident_id)
        except ValueError:
            raise CommandRefused(404, f"no incident {incident_id!r}") from None
        if op == "attach":
            found = await self.find_alert(fingerprint)
            if found is None:
                raise CommandRefused(422, f"no open incident has an alert with fingerprint {fingerprint!r}")
            alert_gid, state = found
            labels = dict(state.labels)
        else:
            member = next((k.decode() for k in cast(list[bytes], await self.redis.hkeys(
                self.keys.incident_symptoms(incident_id))) if k.decode().endswith(f":{fingerprint}")), None)
            if member is None:
                return Attached(await self._view(incident_id), False, None)
            alert_gid, labels = member.split(":", 1)[0], {}
        described = labels.get("alertname", fingerprint)
        symptom = {"group": alert_gid, "fingerprint": fingerprint, "labels": labels, "at": now, "kind": "attached",
                   "rule": "", "path": [], "incident": incident_id, "by": by}
        entry = {"at": now, "kind": "attached" if op == "attach" else "detached", "by": by,
                 "fingerprint": fingerprint, "text": f"alert {described} ({fingerprint}) {op}ed by {by}"}
        keys = [self.keys.group(gid), self.keys.incident(incident_id), self.keys.incident_symptoms(incident_id),
                self.keys.incident_timeline(incident_id)]
        args = [op, f"{alert_gid}:{fingerprint}", orjson.dumps(symptom), orjson.dumps(entry), self.timeline_max,
                repr(now)]
        (result,) = await self.scripts.run_many("attach_alert", [(keys, args)])
        outcome = result[0].decode()
        if outcome == "missing":
            raise CommandRefused(404, f"no incident {incident_id!r}")
        view = await self._view(incident_id)
        if outcome == "unchanged":
            return Attached(view, False, None)
        text = str(entry["text"])
        event = incident_event(f"{incident_id}:v{result[1].decode()}", "incident.updated", text, now, view, by=by)
        return Attached(view, True, event)


class OpenDeclared:
    """Which of some services have an open (or acknowledged) declared incident, read in one round trip."""

    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.keys = keyspace
        self.scripts = Scripts(redis, "correlation.store", "read_declared")

    async def read(self, services: Iterable[str]) -> dict[str, str]:
        """service -> incident id, for the services among ``services`` with an open declared incident."""
        wanted = sorted(set(services))
        if not wanted:
            return {}
        calls: list[tuple[list[str], list[Any]]] = []
        for service in wanted:
            gid = declared_group(service).id
            calls.append(([self.keys.group(gid), self.keys.incident_prefix(gid)], []))
        results = await self.scripts.run_many("read_declared", calls)
        found = {}
        for service, result in zip(wanted, results, strict=True):
            incident = result.decode() if isinstance(result, bytes) else str(result or "")
            if incident:
                found[service] = incident
        return found
