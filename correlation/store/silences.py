"""Silences in Redis: one hash per namespace, shared by every worker, the CLI and (later) the API."""

from __future__ import annotations

import uuid
from typing import cast

from redis.asyncio import Redis

from correlation.store.keyspace import Keyspace
from correlation.core.muting import Silence


def new_silence_id() -> str:
    """A fresh silence id (random: the core takes it as an argument, so it stays free of hidden inputs)."""
    return uuid.uuid4().hex[:12]


class SilenceStore:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace
        self._parsed: dict[bytes, Silence] = {}  # workers read every batch: parse each stored silence once

    async def add(self, silence: Silence) -> Silence:
        await self.redis.hset(self.keys.silences, silence.id, silence.to_json())
        return silence

    async def all(self) -> list[Silence]:
        return self.parse(cast(list[bytes], await self.redis.hvals(self.keys.silences)))  # a bytes client

    def parse(self, raws: list[bytes]) -> list[Silence]:
        """The silences of the hash's values (read here, or in a caller's pipeline), each stored one parsed once."""
        parsed = {raw: self._parsed.get(raw) or Silence.from_json(raw) for raw in raws}
        self._parsed = parsed  # forget silences that are gone
        return sorted(parsed.values(), key=lambda s: (s.starts_at, s.id))

    async def get(self, silence_id: str) -> Silence | None:
        raw = await self.redis.hget(self.keys.silences, silence_id)
        return Silence.from_json(raw) if raw else None

    async def expire(self, silence_id: str, now: float) -> Silence | None:
        """End a silence now (kept for the record); None when there is no such silence."""
        silence = await self.get(silence_id)
        if silence is None:
            return None
        if silence.ends_at > now:
            silence = Silence(silence.id, silence.matchers, min(silence.starts_at, now), now, silence.created_by,
                              silence.comment, silence.created_at)
            await self.redis.hset(self.keys.silences, silence.id, silence.to_json())
        return silence
