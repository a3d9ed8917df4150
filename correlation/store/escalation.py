"""Escalating an incident: its priority raised one step (P1 stays P1), once per reason, on its timeline.

One Lua script on the group's slot: an idempotency marker per (incident, reason), the incident's priority and
``updated_at``, a timeline entry, and the group's version bumped, so a worker deciding on the group meanwhile
conflicts and decides again on the escalated incident (the engine only ever raises a priority).
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio import Redis

from correlation.core.model import Incident, parse_incident_id
from correlation.store.keyspace import Keyspace
from kv.scripts import Scripts


class Escalation:
    def __init__(self, redis: Redis, keyspace: Keyspace, *, timeline_max: int, marker_ttl: int) -> None:
        self.redis = redis
        self.keys = keyspace
        self.timeline_max = timeline_max
        self.marker_ttl = marker_ttl
        self.scripts = Scripts(redis, "correlation.store", "escalate")

    async def escalate(self, incident_id: str, because: str, now: float) -> tuple[Incident, str] | None:
        """Escalate once per (incident, reason): (the incident after, the event id), or None when there is no such
        incident. A repeat changes nothing but returns the same event id, so the caller may publish again (the
        event's id makes the repeat harmless)."""
        gid, _ = parse_incident_id(incident_id)
        tag = hashlib.blake2b(because.encode(), digest_size=8).hexdigest()
        marker = self.keys.marker(gid, f"esc:{incident_id}:{tag}")
        result = await self.scripts.run(
            "escalate",
            [self.keys.group(gid), self.keys.incident(incident_id), self.keys.incident_timeline(incident_id),
             marker],
            [now, f"escalated: {because}", self.timeline_max, self.marker_ttl])
        if not result:
            return None
        raw: Any = await self.redis.hgetall(self.keys.incident(incident_id))
        return Incident.from_hash(raw), f"escalated:{incident_id}:{tag}"
