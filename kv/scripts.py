"""Lua scripts, the one convention: ``<package>/lua/<name>.lua`` loaded by name, run many at a time by SHA in one
pipeline, reloaded once if Redis forgot them (a restart or ``SCRIPT FLUSH``)."""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError


class Scripts:
    def __init__(self, redis: Redis, package: str, *names: str) -> None:
        """Load ``names`` from ``package``'s ``lua/`` folder (``package`` as imported, e.g. ``"correlation.store"``)."""
        self.redis = redis
        self._src = {name: resources.files(package).joinpath("lua", f"{name}.lua").read_text() for name in names}
        self._sha: dict[str, str] = {}
        self._cluster = isinstance(redis, RedisCluster)

    async def load(self) -> None:
        for name, src in self._src.items():
            self._sha[name] = await self.redis.script_load(src)

    def sha(self, name: str) -> str:
        """The SHA1 a script is run by (empty until loaded)."""
        return self._sha.get(name, "")

    async def run_many(self, name: str, calls: Sequence[tuple[list[str], list[Any]]]) -> list[Any]:
        """Run one script for many key sets in one pipeline; reload the scripts once if Redis forgot them."""
        if not calls:
            return []
        if name not in self._sha:
            await self.load()
        for attempt in (1, 2):
            results = await self._evalsha_all(self._sha[name], calls)
            if attempt == 1 and any(isinstance(r, NoScriptError) for r in results):
                await self.load()  # Redis restarted or SCRIPT FLUSH: load and redo
                continue
            for r in results:
                if isinstance(r, Exception):
                    raise r
            return results
        raise AssertionError("unreachable")

    async def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run one script once (``run_many`` with one call)."""
        return (await self.run_many(name, [(keys, args)]))[0]

    async def _evalsha_all(self, sha: str, calls: Sequence[tuple[list[str], list[Any]]]) -> list[Any]:
        if self._cluster:
            # redis-py refuses EVALSHA in a cluster pipeline: send them concurrently instead (each one goes to
            # the node owning its keys' slot, so the round trips overlap as in a pipeline)
            return list(await asyncio.gather(
                *(self.redis.evalsha(sha, len(keys), *keys, *args) for keys, args in calls), return_exceptions=True))
        pipe = self.redis.pipeline(transaction=False)
        for keys, args in calls:
            pipe.evalsha(sha, len(keys), *keys, *args)
        return await pipe.execute(raise_on_error=False)
