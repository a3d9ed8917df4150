"""Reading incidents for people (the HTTP API): filtered, newest first, in pages with a keyset cursor.

The index ``<ns>:incidents`` (or ``<ns>:incidents:open`` when only open statuses are asked for) is read in
chunks by creation time; records are fetched in one pipeline per chunk and filtered here. The cursor is the
last returned item's (created_at, id), so pages stay stable while new incidents arrive.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from correlation.store.incident_commands import incident_view
from correlation.store.keyspace import Keyspace
from correlation.store.sla import sla_stage, sla_view
from correlation.core.model import AlertState, OPEN_STATUSES, parse_incident_id

CHUNK = 200


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    statuses: frozenset[str] = frozenset()  # empty: any
    priorities: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    since: float | None = None  # created_at >= since
    until: float | None = None  # created_at <= until
    sla: frozenset[str] = frozenset()  # at_risk, breached (correlation.store.sla.sla_stage); empty: any

    def matches(self, doc: dict[str, Any]) -> bool:
        return (
            (not self.sla or sla_stage(doc.get("sla", [])) in self.sla)
            and (not self.statuses or doc["status"] in self.statuses)
            and (not self.priorities or doc["priority"] in self.priorities)
            and (not self.teams or doc["team"] in self.teams)
            and (not self.rules or doc["rule"] in self.rules)
        )


def encode_cursor(created_at: float, incident_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([created_at, incident_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """ValueError when it is not a cursor this module made."""
    try:
        created_at, incident_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return float(created_at), str(incident_id)
    except Exception:  # noqa: BLE001 - any garbage is the same mistake
        raise ValueError("not a cursor returned by this API") from None


def with_sla(raw: dict[Any, Any], now: float) -> dict[str, Any]:
    """The incident's public view with its SLA records (``sla``) and their one-word stage (``sla_stage``)."""
    doc = incident_view(raw)
    stored = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
              for k, v in raw.items()}
    doc["sla"] = sla_view(stored, now)
    doc["sla_stage"] = sla_stage(doc["sla"])
    return doc


class IncidentQueries:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    async def page(self, filters: IncidentFilter, *, limit: int, cursor: str | None = None, now: float | None = None
                   ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` incidents, newest first, and the cursor of the next page (None at the end); each with
        its SLA records (``sla``, time left at ``now``, the wall clock by default)."""
        now = time.time() if now is None else now
        open_only = bool(filters.statuses) and filters.statuses <= OPEN_STATUSES
        index = self.keys.open_incidents if open_only else self.keys.incidents
        high: Any = "+inf" if filters.until is None else filters.until
        low: Any = "-inf" if filters.since is None else filters.since
        after: tuple[float, str] | None = decode_cursor(cursor) if cursor else None
        if after is not None:
            high = after[0]
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            chunk = cast(list[tuple[bytes, float]],  # a bytes client; withscores: (member, score) pairs
                         await self.redis.zrevrangebyscore(index, high, low, start=offset, num=CHUNK, withscores=True))
            if not chunk:
                return found, None
            offset += len(chunk)
            ids = []
            for raw_id, score in chunk:
                iid = raw_id.decode()
                # same created_at as the cursor: ZREVRANGEBYSCORE orders ties by id descending
                if after is not None and score == after[0] and iid >= after[1]:
                    continue
                ids.append(iid)
            pipe = self.redis.pipeline(transaction=False)
            for iid in ids:
                pipe.hgetall(self.keys.incident(iid))
            for raw in await pipe.execute() if ids else []:
                if not raw:
                    continue
                doc = with_sla(raw, now)
                if filters.matches(doc):
                    found.append(doc)
                    if len(found) == limit:
                        return found, encode_cursor(doc["created_at"], doc["id"])
            if len(chunk) < CHUNK:
                return found, None

    async def exists(self, incident_id: str) -> bool:
        try:
            parse_incident_id(incident_id)
        except ValueError:
            return False
        return bool(await self.redis.exists(self.keys.incident(incident_id)))

    async def detail(self, incident_id: str, *, timeline_limit: int = 1000, now: float | None = None
                     ) -> dict[str, Any] | None:
        """One incident with its member alerts and timeline (newest ``timeline_limit`` entries)."""
        try:
            gid, _ = parse_incident_id(incident_id)
        except ValueError:
            return None
        key = self.keys.incident(incident_id)
        pipe = self.redis.pipeline(transaction=False)  # one slot, read-only: no MULTI (Redis Cluster)
        pipe.hgetall(key)
        pipe.smembers(self.keys.incident_alerts(incident_id))
        pipe.lrange(self.keys.incident_timeline(incident_id), -timeline_limit, -1)
        raw, members, timeline = await pipe.execute()
        if not raw:
            return None
        fps = sorted(m.decode() for m in members)
        states = [AlertState.from_json(r) for r in await self.redis.mget([self.keys.alert(gid, f) for f in fps]) if r] \
            if fps else []
        doc = with_sla(raw, time.time() if now is None else now)
        doc["members"] = [s.public() for s in states]
        doc["timeline"] = [orjson.loads(e) for e in timeline]
        return doc
