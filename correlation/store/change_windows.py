"""Change windows in Redis: one hash per namespace (``<ns>:change-windows``), shared by every worker, the API and
the CLI, read with the silences in one round trip for every batch (``docs/changes.md``)."""

from __future__ import annotations

import uuid
from typing import cast

from redis.asyncio import Redis

from correlation.core.change_windows import ChangeWindow
from correlation.core.muting import Silence
from correlation.store.silences import SilenceStore, readable
from correlation.store.keyspace import Keyspace


def new_window_id() -> str:
    return "cw-" + uuid.uuid4().hex[:10]


class ChangeWindowStore:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace
        self._parsed: dict[bytes, ChangeWindow] = {}  # read every batch: parse each stored window once
        self._refused: set[bytes] = set()  # stored values that do not parse, logged once

    async def add(self, window: ChangeWindow) -> ChangeWindow:
        await self.redis.hset(self.keys.change_windows, window.id, window.to_json())
        return window

    async def all(self) -> list[ChangeWindow]:
        return self.parse(cast(list[bytes], await self.redis.hvals(self.keys.change_windows)))  # a bytes client

    async def with_silences(self, silences: SilenceStore) -> tuple[list[Silence], list[ChangeWindow]]:
        """The silences and the change windows in one round trip (every batch reads both)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hvals(self.keys.silences)
        pipe.hvals(self.keys.change_windows)
        silence_raws, window_raws = await pipe.execute()
        return silences.parse(silence_raws), self.parse(window_raws)

    def parse(self, raws: list[bytes]) -> list[ChangeWindow]:
        parsed = readable(raws, self._parsed, self._refused, ChangeWindow.from_json, "change_window",
                          self.keys.change_windows)
        self._parsed = parsed
        self._refused.intersection_update(raws)
        return sorted(parsed.values(), key=lambda w: (w.starts_at, w.id))

    async def get(self, window_id: str) -> ChangeWindow | None:
        raw = cast(bytes | None, await self.redis.hget(self.keys.change_windows, window_id))
        if not raw:
            return None
        found = readable([raw], self._parsed, self._refused, ChangeWindow.from_json, "change_window",
                         self.keys.change_windows)
        return next(iter(found.values()), None)

    async def expire(self, window_id: str, now: float) -> ChangeWindow | None:
        """End a window now (kept for the record; alerts it muted are placed again by their timers, due now or at
        the old end, whichever comes first); None when there is no such window."""
        window = await self.get(window_id)
        if window is None:
            return None
        if window.ends_at > now:
            window = ChangeWindow(window.id, min(window.starts_at, now), now, window.mode, window.services,
                                  window.matchers, window.summary, window.created_by, window.created_at)
            await self.redis.hset(self.keys.change_windows, window.id, window.to_json())
        return window
