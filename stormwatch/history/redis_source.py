"""What the history reads from Redis (the events carry an incident's counts, not its members): an incident's
member alerts, symptoms and action runs, and for a backfill every incident, problem, silence and run Redis holds.

Reads only, through the stores that own the keys (correlation's, the action state); nothing here writes Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from actions.state import ActionState
from correlation.store.keyspace import Keyspace
from correlation.store.links import Links
from correlation.store.restore import PEOPLE_FIELDS
from correlation.store.silences import SilenceStore
from correlation.store.store import IncidentStore
from stormwatch.history.store import IncidentDetail

RUNS_PER_INCIDENT = 200


class RedisSource:
    def __init__(self, redis: Redis, namespace: str, *, timeline_max: int = 1000) -> None:
        self.redis = redis
        self.keys = Keyspace(namespace)
        self.incidents = IncidentStore(redis, self.keys, marker_ttl=86400, timeline_max=timeline_max)
        self.links = Links(redis, self.keys, timeline_max=timeline_max)
        self.actions = ActionState(redis, self.keys, timeline_max=timeline_max)
        self.silences = SilenceStore(redis, self.keys)

    async def detail(self, incident_id: str) -> IncidentDetail:
        members = [a.public() for a in await self.incidents.incident_alerts(incident_id)]
        symptoms = await self.links.symptoms(incident_id)
        runs = await self.actions.runs(incident_id, limit=RUNS_PER_INCIDENT)
        return IncidentDetail(members=members, symptoms=symptoms, runs=runs)

    async def people(self, incident_id: str) -> dict[str, str]:
        """The people's fields of the incident's hash (assignee, acknowledged_by, ..., a major incident's), those
        set."""
        values = await self.redis.hmget(self.keys.incident(incident_id), list(PEOPLE_FIELDS))
        return {k: (v.decode() if isinstance(v, bytes) else str(v))
                for k, v in zip(PEOPLE_FIELDS, values, strict=True) if v}

    async def all_incidents(self, page: int = 500) -> AsyncIterator[dict[str, Any]]:
        """Every incident Redis holds, as ``Incident.public()``, newest first."""
        offset = 0
        while True:
            found = await self.incidents.list_incidents(limit=page, offset=offset)
            if not found:
                return
            for incident in found:
                yield incident.public()
            offset += page

    async def all_problems(self) -> list[dict[str, Any]]:
        return [p.public() for p in await self.links.list_problems(limit=1_000_000)]

    async def all_silences(self, now: float) -> list[dict[str, Any]]:
        return [s.public(now) for s in await self.silences.all()]

    async def problem_runs(self, problem_id: str) -> list[dict[str, str]]:
        return await self.actions.runs(limit=RUNS_PER_INCIDENT, problem_id=problem_id)
