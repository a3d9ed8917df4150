"""Silences in Redis: one hash per namespace, shared by every worker, the CLI and (later) the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar, cast

import orjson
import structlog
from redis.asyncio import Redis

from correlation.store.keyspace import Keyspace
from correlation.core.muting import Silence


log = structlog.get_logger("stormwatch.store")
T = TypeVar("T")


def readable(raws: list[bytes], known: dict[bytes, T], refused: set[bytes], decode: Callable[[bytes], T], what: str,
             key: str) -> dict[bytes, T]:
    """Each stored document decoded once (``known``: those decoded before). One that does not decode (a NaN time
    written before times were checked, a hand-edited value) is left out with a log line naming it, never raised:
    every batch reads these, and one bad document must not stop every alert. It goes into ``refused`` so that the
    line is written once per process, not once per batch."""
    out: dict[bytes, T] = {}
    for raw in raws:
        if raw in refused:
            continue
        found = known.get(raw)
        if found is None:
            try:
                found = decode(raw)
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
                log.warning(f"{what}_unreadable", key=key, stored=raw[:300].decode(errors="replace"),
                            error=str(exc)[:300], detail="left out; HDEL it from that hash")
                refused.add(raw)
                continue
        out[raw] = found
    return out


def new_silence_id() -> str:
    """A fresh silence id (random: the core takes it as an argument, so it stays free of hidden inputs)."""
    return uuid.uuid4().hex[:12]


class SilenceStore:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace
        self._parsed: dict[bytes, Silence] = {}  # workers read every batch: parse each stored silence once
        self._refused: set[bytes] = set()  # stored values that do not parse, logged once

    async def add(self, silence: Silence) -> Silence:
        await self.redis.hset(self.keys.silences, silence.id, silence.to_json())
        return silence

    async def all(self) -> list[Silence]:
        return self.parse(cast(list[bytes], await self.redis.hvals(self.keys.silences)))  # a bytes client

    def parse(self, raws: list[bytes]) -> list[Silence]:
        """The silences of the hash's values (read here, or in a caller's pipeline), each stored one parsed once."""
        parsed = readable(raws, self._parsed, self._refused, Silence.from_json, "silence", self.keys.silences)
        self._parsed = parsed  # forget silences that are gone
        self._refused.intersection_update(raws)
        return sorted(parsed.values(), key=lambda s: (s.starts_at, s.id))

    async def get(self, silence_id: str) -> Silence | None:
        raw = cast(bytes | None, await self.redis.hget(self.keys.silences, silence_id))
        if not raw:
            return None
        found = readable([raw], self._parsed, self._refused, Silence.from_json, "silence", self.keys.silences)
        return next(iter(found.values()), None)

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
