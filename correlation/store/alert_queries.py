"""Reading alerts for people (Alertmanager's API v2): every alert that fires now, and the incidents they are in.

There is no index of all alerts: each lives under its group's hash tag (``<ns>:{g<gid>}:a:<fingerprint>``,
``correlation.store.keyspace``), so listing them walks the keyspace with SCAN (``MATCH <ns>:{g*}:a:*``, server-side
filtering; on a Redis Cluster the client scans every primary) and reads the states with MGET in chunks (per slot on
a Cluster). Resolved states, the bulk of a long-lived store, are skipped without being parsed. The cost grows with
the namespace's key count, not with the answer: it is what ``amtool alert query`` pays per call, not something the
hot path does (docs/alertmanager-api.md, "Cost"). Read-only.
"""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import Redis

from correlation.store.incident_commands import incident_view
from correlation.store.keyspace import Keyspace
from correlation.core.model import AlertState

CHUNK = 1000  # keys read per MGET
#: in a stored state (a JSON array, ``AlertState.to_json``) a status is an array element: '"firing"' between commas.
#: Label and annotation values are object members (after ':'), and quotes inside strings are escaped, so a state
#: without this is not firing; one with it is parsed and checked.
FIRING = b',"firing",'


class AlertQueries:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    @property
    def pattern(self) -> str:
        """The SCAN pattern of every alert state of the namespace (glob characters in it escaped)."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in self.keys.namespace)
        return f"{escaped}:{{g*}}:a:*"

    async def firing(self) -> list[AlertState]:
        """Every stored alert whose status is firing (muted, held and symptoms included), by fingerprint."""
        found: list[AlertState] = []
        chunk: list[Any] = []
        async for key in self.redis.scan_iter(match=self.pattern, count=1000):
            chunk.append(key)
            if len(chunk) >= CHUNK:
                found += await self._read(chunk)
                chunk = []
        if chunk:
            found += await self._read(chunk)
        return sorted(found, key=lambda a: a.fingerprint)

    async def _read(self, keys: list[Any]) -> list[AlertState]:
        mget = getattr(self.redis, "mget_nonatomic", None) or self.redis.mget  # a Cluster: one MGET per slot
        raws = await mget(keys)
        states = [AlertState.from_json(raw) for raw in raws
                  if raw and (FIRING in raw or raw[:1] == b"{")]  # "{": the older object layout, parsed
        return [s for s in states if s.status == "firing"]

    async def incidents(self, incident_ids: set[str]) -> dict[str, dict[str, Any]]:
        """The public records of these incidents (id -> incident_view), those that exist."""
        ids = sorted(i for i in incident_ids if i)
        if not ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for iid in ids:
            pipe.hgetall(self.keys.incident(iid))
        raws = cast(list[dict[bytes, bytes]], await pipe.execute())
        return {iid: incident_view(raw) for iid, raw in zip(ids, raws, strict=True) if raw}
