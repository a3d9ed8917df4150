"""Where the ticket action keeps an incident's ticket reference (``actions.tickets.executor.TicketRefs``): the
incident hash's ``ticket`` field, the ticket -> incident index the inbound webhook reads, and the creation claim."""

from __future__ import annotations

from redis.asyncio import Redis

from correlation.core.model import parse_incident_id
from correlation.store.keyspace import Keyspace


class RedisTicketRefs:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    async def ref(self, incident_id: str, system: str) -> str | None:
        parse_incident_id(incident_id)
        raw = await self.redis.hget(self.keys.incident(incident_id), "ticket")
        if not raw:
            return None
        stored_system, _, ref = _text(raw).partition(":")
        return ref if stored_system == system else None

    async def claim(self, incident_id: str, system: str, holder: str, lease: float) -> bool:
        key = self.keys.ticket_claim(incident_id, system)
        if await self.redis.set(key, holder, nx=True, px=int(lease * 1000)):
            return True
        return _text(await self.redis.get(key)) == holder  # this run's own claim (a retry)

    async def store(self, incident_id: str, system: str, ref: str) -> None:
        await self.redis.hset(self.keys.incident(incident_id), "ticket", f"{system}:{ref}")
        await self.redis.set(self.keys.ticket_incident(system, ref), incident_id)
        await self.redis.delete(self.keys.ticket_claim(incident_id, system))

    async def incident_of(self, system: str, ref: str) -> str | None:
        raw = await self.redis.get(self.keys.ticket_incident(system, ref))
        return _text(raw) or None


def _text(raw: bytes | str | None) -> str:
    return raw.decode() if isinstance(raw, bytes) else (raw or "")
