"""Escalating an incident: its priority raised one step (P1 stays P1), once per reason, on its timeline.

One Lua script on the group's slot: an idempotency marker per (incident, reason), the incident's priority and
``updated_at``, a timeline entry, and the group's version bumped, so a worker deciding on the group meanwhile
conflicts and decides again on the escalated incident (the engine only ever raises a priority).
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio import Redis

from correlation.core.model import parse_incident_id
from correlation.keyspace import Keyspace
from correlation.core.model import Incident

# KEYS: group, incident, timeline, marker; ARGV: now, text prefix, timeline max, marker ttl
_ESCALATE = """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[4]) then return {'dup'} end
local before = redis.call('HGET', KEYS[2], 'priority') or ''
local up = {P5 = 'P4', P4 = 'P3', P3 = 'P2', P2 = 'P1', P1 = 'P1'}
local after = up[before] or before
redis.call('HSET', KEYS[2], 'priority', after, 'updated_at', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'v', 1)
local text = ARGV[2]
if after ~= before then text = text .. ': priority ' .. before .. ' -> ' .. after end
redis.call('RPUSH', KEYS[3], cjson.encode({at = tonumber(ARGV[1]), kind = 'escalated', text = text}))
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
return {'ok', before, after}
"""


class Escalation:
    def __init__(self, redis: Redis, keyspace: Keyspace, *, timeline_max: int, marker_ttl: int) -> None:
        self.redis = redis
        self.keys = keyspace
        self.timeline_max = timeline_max
        self.marker_ttl = marker_ttl
        self._script = redis.register_script(_ESCALATE)

    async def escalate(self, incident_id: str, because: str, now: float) -> tuple[Incident, str] | None:
        """Escalate once per (incident, reason): (the incident after, the event id), or None when there is no such
        incident. A repeat changes nothing but returns the same event id, so the caller may publish again (the
        event's id makes the repeat harmless)."""
        gid, _ = parse_incident_id(incident_id)
        tag = hashlib.blake2b(because.encode(), digest_size=8).hexdigest()
        marker = self.keys.marker(gid, f"esc:{incident_id}:{tag}")
        result = await self._script(
            keys=[self.keys.group(gid), self.keys.incident(incident_id), self.keys.incident_timeline(incident_id),
                  marker],
            args=[now, f"escalated: {because}", self.timeline_max, self.marker_ttl])
        if not result:
            return None
        raw: Any = await self.redis.hgetall(self.keys.incident(incident_id))
        return Incident.from_hash(raw), f"escalated:{incident_id}:{tag}"
