"""Change events in Redis (``docs/changes.md``): kept per service (one Cluster slot each) for the retention,
capped per service, listed across services; linked to incidents as probable causes.

Linking happens from both sides, so a change and an incident handled by different workers still meet:

* when an incident opens, the worker that opened it reads the recent changes of the services it watches
  (``correlation.core.probable_cause``) and links them (``link_opened``);
* when a change is stored, the worker that stored it looks at the open incidents that watch its service and links
  it (``link_arrived``).

Each side writes before it reads (the incident is written before its changes are read; a change is stored before the
open incidents are read), so whatever the interleaving at least one of them sees the other. Links are written with
``HSETNX`` (``link_changes.lua``): linking twice changes nothing, and the timeline gets one entry per change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from correlation.core.catalog import Catalog
from correlation.core.model import Incident
from correlation.core.probable_cause import DEFAULT_LOOKBACK, in_reach, link, probable_causes, rank, watched_services
from correlation.store.keyspace import Keyspace
from events.builders import incident_event
from events.changes import Change
from kv.scripts import Scripts

#: how many changes the cross-service listing keeps (newest)
INDEX_MAX = 100_000
#: open incidents a new change is compared with (newest first)
OPEN_SCAN = 5000
#: (incident, symptom service) pairs a worker remembers having linked (link_symptoms)
SYMPTOMS_SEEN_MAX = 50_000
STORED, DUPLICATE, TOO_OLD = "stored", "duplicate", "too_old"
_OUTCOMES = {1: STORED, 0: DUPLICATE, 2: TOO_OLD}


@dataclass(frozen=True, slots=True)
class ChangeRetention:
    seconds: float = 30 * 86400.0  # STORMWATCH_CHANGE_RETENTION
    per_service: int = 1000  # STORMWATCH_CHANGES_PER_SERVICE


class ChangeStore:
    def __init__(self, redis: Redis, keyspace: Keyspace, retention: ChangeRetention = ChangeRetention(), *,
                 timeline_max: int = 1000) -> None:
        self.redis = redis
        self.keys = keyspace
        self.retention = retention
        self.timeline_max = timeline_max
        self.scripts = Scripts(redis, "correlation.store", "change_add", "link_changes")
        # (incident, symptom service) pairs link_symptoms has looked at: once is enough (a change stored later is
        # linked by link_arrived, which reads the symptoms written before); bounded, cleared when full
        self._symptoms_seen: dict[tuple[str, str], None] = {}

    # -- storing and reading ------------------------------------------------------------------------

    async def add(self, change: Change, now: float) -> str:
        """Store a change: ``stored``, ``duplicate`` (its id is already stored on its service) or ``too_old``."""
        oldest = now - self.retention.seconds
        ttl = int(self.retention.seconds) + 86400
        outcome = _OUTCOMES[int(await self.scripts.run(
            "change_add", [self.keys.service_changes(change.service), self.keys.service_change_docs(change.service)],
            [change.id, repr(change.at), orjson.dumps(change.public()), repr(oldest), self.retention.per_service,
             ttl]))]
        if outcome == STORED:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zadd(self.keys.changes, {f"{change.service}|{change.id}": change.at})
            pipe.zremrangebyscore(self.keys.changes, "-inf", f"({oldest!r}")
            pipe.zremrangebyrank(self.keys.changes, 0, -INDEX_MAX - 1)
            await pipe.execute()
        return outcome

    async def recent_since(self, since: dict[str, float]) -> list[dict[str, Any]]:
        """The changes of each service that happened at or after its time in ``since`` (one round trip, a second
        for the documents when there are any)."""
        if not since:
            return []
        services = list(since)
        pipe = self.redis.pipeline(transaction=False)
        for service in services:
            pipe.zrangebyscore(self.keys.service_changes(service), since[service], "+inf")
        found = await pipe.execute()
        pipe = self.redis.pipeline(transaction=False)
        asked = []
        for service, ids in zip(services, found, strict=True):
            if ids:
                pipe.hmget(self.keys.service_change_docs(service), ids)
                asked.append(service)
        if not asked:
            return []
        return [orjson.loads(raw) for docs in await pipe.execute() for raw in docs if raw]

    async def page(self, service: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest changes, of one service or of all."""
        if service:
            ids = cast(list[bytes], await self.redis.zrevrange(self.keys.service_changes(service), 0, limit - 1))
            if not ids:
                return []
            return [orjson.loads(r) for r in await self.redis.hmget(self.keys.service_change_docs(service), ids) if r]
        members = [m.decode() for m in cast(list[bytes], await self.redis.zrevrange(self.keys.changes, 0, limit - 1))]
        pipe = self.redis.pipeline(transaction=False)
        for member in members:
            svc, _, cid = member.partition("|")
            pipe.hget(self.keys.service_change_docs(svc), cid)
        return [orjson.loads(r) for r in (await pipe.execute() if members else []) if r]

    async def linked(self, incident_id: str) -> list[dict[str, Any]]:
        """The changes linked to an incident, best first."""
        raw = await self.redis.hvals(self.keys.incident_changes(incident_id))
        return rank(orjson.loads(r) for r in raw)

    # -- linking --------------------------------------------------------------------------------------

    async def _link(self, incident_id: str, links: list[dict[str, Any]], now: float
                    ) -> tuple[int, list[dict[str, Any]]]:
        """Write links (each once); (how many were new, every link of the incident ranked); (-1, []) when gone."""
        args: list[Any] = [self.timeline_max]
        for x in links:
            entry = {"at": now, "kind": "change", "text": f"probable cause: {x['summary']} ({x['reason']})",
                     "change": f"{x['service']}|{x['id']}"}
            args += [f"{x['service']}|{x['id']}", orjson.dumps(x), orjson.dumps(entry)]
        out = cast(list[Any], await self.scripts.run(
            "link_changes", [self.keys.incident(incident_id), self.keys.incident_changes(incident_id),
                             self.keys.incident_timeline(incident_id)], args))
        added = int(out[0])
        return added, (rank(orjson.loads(r) for r in out[1:]) if added >= 0 else [])

    async def link_opened(self, events: list[dict[str, Any]], catalog: Catalog, now: float,
                          symptoms: Sequence[Mapping[str, Any]] = ()) -> None:
        """Link recent changes to the incidents these ``incident.created`` events opened; each event's incident gains
        ``changes`` (every link, best first) when there are any. ``symptoms``: the symptom documents attached in the
        same round (``Symptom.public()``): their services are watched too. The changes of every service watched by
        every opened incident are read in one pipelined round trip (a second only when some exist)."""
        by_incident = _symptom_services(symptoms, catalog)
        opened = []
        since: dict[str, float] = {}  # service -> the earliest time any incident watching it looks back to
        for event in events:
            incident = event["incident"] if event.get("type") == "incident.created" else None
            if incident is None or not incident.get("service"):
                continue
            lookback = catalog.lookback(incident.get("rule", ""), DEFAULT_LOOKBACK)
            start = float(incident["created_at"]) - lookback
            watched = watched_services(catalog, incident["service"], by_incident.get(incident["id"], ()))
            opened.append((incident, lookback, watched))
            for service in watched:
                since[service] = min(start, since.get(service, start))
        if not opened:
            return
        by_service: dict[str, list[dict[str, Any]]] = {}
        for change in await self.recent_since(since):
            by_service.setdefault(change["service"], []).append(change)
        if not by_service:
            return
        for incident, lookback, watched in opened:
            service = incident["service"]
            candidates = [c for name in watched for c in by_service.get(name, ())]
            links = probable_causes(catalog, service, by_incident.get(incident["id"], ()),
                                    float(incident["created_at"]), lookback, candidates)
            if links:
                _, every = await self._link(incident["id"], links, now)
                if every:
                    incident["changes"] = every

    async def link_symptoms(self, symptoms: Sequence[Mapping[str, Any]], catalog: Catalog, now: float,
                            skip: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Symptoms just attached to open incidents bring their services' changes: link the recent ones (within
        the incident's look-back) on services the incident did not watch yet; an ``incident.updated`` event for each
        incident that gained links. ``skip``: incidents opened in the same round (``link_opened`` took their
        symptoms). Each (incident, service) pair is looked at once per worker: a storm's symptoms cost the first
        batch one round trip to read the incidents, then ``recent_since``; later ones nothing."""
        skipped = set(skip)
        seen = self._symptoms_seen
        by_incident: dict[str, list[str]] = {}
        for iid, services in _symptom_services(symptoms, catalog).items():
            fresh = [svc for svc in services if (iid, svc) not in seen]
            if iid not in skipped and fresh:
                by_incident[iid] = fresh
        if not by_incident:
            return []
        events = await self._link_symptoms(by_incident, catalog, now)
        if len(seen) > SYMPTOMS_SEEN_MAX:
            seen.clear()
        seen.update(((iid, svc), None) for iid, services in by_incident.items() for svc in services)  # once done
        return events

    async def _link_symptoms(self, by_incident: dict[str, list[str]], catalog: Catalog, now: float
                             ) -> list[dict[str, Any]]:
        ids = sorted(by_incident)
        pipe = self.redis.pipeline(transaction=False)
        for iid in ids:
            pipe.hgetall(self.keys.incident(iid))
        found = []
        since: dict[str, float] = {}
        for iid, raw in zip(ids, await pipe.execute(), strict=True):
            if not raw:
                continue
            incident = Incident.from_hash(raw)
            if not incident.is_open or not incident.service:
                continue
            new = [svc for svc in by_incident[iid] if svc not in watched_services(catalog, incident.service)]
            if not new:
                continue
            lookback = catalog.lookback(incident.rule, DEFAULT_LOOKBACK)
            found.append((incident, lookback, new))
            for service in new:
                start = incident.created_at - lookback
                since[service] = min(start, since.get(service, start))
        if not found:
            return []
        by_service: dict[str, list[dict[str, Any]]] = {}
        for change in await self.recent_since(since):
            by_service.setdefault(change["service"], []).append(change)
        events = []
        for incident, lookback, new in found:
            candidates = [c for name in new for c in by_service.get(name, ())]
            links = probable_causes(catalog, incident.service, new, incident.created_at, lookback, candidates)
            if not links:
                continue
            added, every = await self._link(incident.id, links, now)
            if added > 0:
                public = incident.public()
                public["changes"] = every
                members = ",".join(sorted(f"{x['service']}|{x['id']}" for x in links))
                digest = hashlib.sha1(members.encode(), usedforsecurity=False).hexdigest()[:16]
                events.append(incident_event(f"{incident.id}:symptom-changes:{digest}", "incident.updated",
                                             f"change linked: {links[0]['summary']} (a symptom's service)", now,
                                             public))
        return events

    async def link_arrived(self, change: Change, catalog: Catalog, now: float) -> list[dict[str, Any]]:
        """Link a change just stored to the open incidents that watch its service; an ``incident.updated`` event for
        each incident it was newly linked to."""
        ids = [m.decode() for m in cast(list[bytes], await self.redis.zrevrange(self.keys.open_incidents, 0,
                                                                                 OPEN_SCAN - 1))]
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for iid in ids:
            pipe.hgetall(self.keys.incident(iid))
        incidents = [Incident.from_hash(raw) for raw in await pipe.execute() if raw]
        events = []
        doc = change.public()
        for incident in incidents:
            if not incident.is_open or not incident.service:
                continue
            lookback = catalog.lookback(incident.rule, DEFAULT_LOOKBACK)
            if not in_reach(change.at, incident.created_at, lookback):
                continue
            watched = watched_services(catalog, incident.service)
            if change.service not in watched and incident.symptoms:
                watched = watched_services(catalog, incident.service, await self._symptom_services(incident.id,
                                                                                                   catalog))
            if change.service not in watched:
                continue
            added, every = await self._link(incident.id, [link(doc, watched[change.service], incident.service,
                                                               incident.created_at)], now)
            if added > 0:
                public = incident.public()
                public["changes"] = every
                events.append(incident_event(f"{incident.id}:change:{change.service}|{change.id}",
                                             "incident.updated", f"change linked: {change.summary}", now, public))
        return events

    async def _symptom_services(self, incident_id: str, catalog: Catalog) -> list[str]:
        """The services its symptoms are bound to (the catalog's bindings, else the service label)."""
        raw = await self.redis.hvals(self.keys.incident_symptoms(incident_id))
        return sorted({s for s in (catalog.service(orjson.loads(r).get("labels") or {}) for r in raw) if s})


def _symptom_services(symptoms: Sequence[Mapping[str, Any]], catalog: Catalog) -> dict[str, list[str]]:
    """Cause incident -> the services its symptoms (``Symptom.public()`` documents) are bound to, sorted."""
    out: dict[str, set[str]] = {}
    for s in symptoms:
        service = catalog.service(s.get("labels") or {})
        if service:
            out.setdefault(str(s["incident"]), set()).add(service)
    return {iid: sorted(services) for iid, services in out.items()}
