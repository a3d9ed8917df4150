"""Putting incidents, problems and silences back into Redis after it lost its data (a restart without
persistence, a failover to an empty replica), from a record kept elsewhere (the shell's history).

Nothing live is overwritten: an incident, alert state, problem or silence that exists is left as it is; a group's
incident counter is only ever raised (``restore_seq.lua``), so an id the record holds is never issued again. Each
incident is restored by one script on its group's slot (``restore_incident.lua``): its hash, members, their alert
states and its symptoms, and the group's current incident (or, if the group already has a live one, the restored
one joins the group's older open incidents). The global indexes and timers follow in one pipeline (idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis

from correlation.core.decision import expiry_timer
from correlation.core.model import parse_incident_id
from correlation.store.keyspace import Keyspace
from correlation.core.model import AlertState, Incident
from correlation.core.problems import Problem
from kv.due import DueIndex
from kv.scripts import Scripts

#: the people's fields an incident hash holds beside Incident.to_hash() (correlation.store.incident_commands)
PEOPLE_FIELDS = ("assignee", "acknowledged_by", "acknowledged_at", "resolved_by", "reopened_by",
                 # a major incident's (issue 21)
                 "major", "major_at", "commander", "communications_lead", "status_updates", "last_update_at")


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    incident: Incident
    people: Mapping[str, str] = field(default_factory=dict)
    members: Sequence[AlertState] = ()
    symptoms: Sequence[Mapping[str, Any]] = ()  # the symptom documents as links.py stores them
    current: bool = True  # the group's current incident (False: an older one, closed to new alerts)


@dataclass(frozen=True, slots=True)
class ProblemRecord:
    problem: Problem  # with its linked incidents
    seq_floor: int  # the highest problem number its signature ever issued
    occurrences: Mapping[str, float] = field(default_factory=dict)  # incident -> when it was counted


@dataclass(slots=True)
class Restored:
    incidents: int = 0  # incident hashes written (absent before)
    incidents_live: int = 0  # found already in Redis: left as they were
    alerts: int = 0  # alert states written
    counters_raised: int = 0  # groups whose incident counter was raised
    problems: int = 0
    silences: int = 0


def whole_marker(keyspace: Keyspace) -> str:
    """A key that says this namespace's Redis data is whole: set on a first start (nothing to restore) and after a
    restore. Redis that lost its data has lost this key too, which is how a restore that runs by itself knows."""
    return f"{keyspace.namespace}:whole"


class Restorer:
    def __init__(self, redis: Redis, keyspace: Keyspace, *, restored_at: float) -> None:
        self.redis = redis
        self.keys = keyspace
        self.at = restored_at
        self.scripts = Scripts(redis, "correlation.store", "restore_incident", "restore_seq")
        self.due = DueIndex(redis, keyspace)  # held resolutions and expiry timers put back (only where absent)

    async def is_whole(self) -> bool:
        return bool(await self.redis.exists(whole_marker(self.keys)))

    async def mark_whole(self) -> None:
        await self.redis.set(whole_marker(self.keys), repr(self.at))

    async def raise_counters(self, seqs: Mapping[str, int], done: Restored) -> None:
        """Every group's counter to at least its highest issued number."""
        calls = [([self.keys.group(gid)], [seq]) for gid, seq in seqs.items()]
        for i in range(0, len(calls), 500):
            done.counters_raised += sum(int(r) for r in await self.scripts.run_many("restore_seq", calls[i:i + 500]))

    async def incidents(self, records: Sequence[IncidentRecord], done: Restored) -> None:
        calls = []
        for r in records:
            inc = r.incident
            gid, seq = parse_incident_id(inc.id)
            fields = inc.to_hash()
            fields["symptoms"] = str(inc.symptoms)
            fields.update({k: v for k, v in r.people.items() if k in PEOPLE_FIELDS and v})
            flat = [x for kv in fields.items() for x in kv]
            entry = orjson.dumps({"at": self.at, "kind": "restored",
                                  "text": "restored from the history after Redis lost its data"})
            keys = [self.keys.group(gid), self.keys.incident(inc.id), self.keys.incident_alerts(inc.id),
                    self.keys.incident_timeline(inc.id), self.keys.incident_symptoms(inc.id)]
            keys += [self.keys.alert(gid, m.fingerprint) for m in r.members]
            args: list[Any] = [seq, "current" if r.current else "older", inc.id, entry, len(flat), *flat]
            args += [m.to_json() for m in r.members]
            for s in r.symptoms:
                args += [f"{s['group']}:{s['fingerprint']}", orjson.dumps(dict(s))]
            calls.append((keys, args))
        for i in range(0, len(calls), 200):
            for restored, written in await self.scripts.run_many("restore_incident", calls[i:i + 200]):
                done.incidents += int(restored)
                done.incidents_live += 1 - int(restored)
                done.alerts += int(written)
        pipe = self.redis.pipeline(transaction=False)
        for r in records:
            inc = r.incident
            gid, _ = parse_incident_id(inc.id)
            pipe.zadd(self.keys.incidents, {inc.id: inc.created_at})
            pipe.zadd(self.keys.open_incidents, {inc.id: inc.created_at})
            if inc.resolve_at is not None:  # a held resolution: due again
                resolve = self.due.key("resolve", inc.id, self.keys.timer_shard(gid))
                pipe.zadd(resolve, {inc.id: inc.resolve_at}, nx=True)
            for m in r.members:
                if m.expires_at is not None and m.status == "firing":
                    timer = expiry_timer(gid, m.fingerprint)
                    pipe.zadd(self.due.key("expire", timer, self.keys.timer_shard(gid)), {timer: m.expires_at}, nx=True)
        await pipe.execute()

    async def problems(self, records: Sequence[ProblemRecord], done: Restored) -> None:
        for r in records:
            p = r.problem
            sig = p.id[len("PRB-"):].rpartition("-")[0]
            key = self.keys.problem(p.id)
            if await self.redis.exists(key):
                continue
            state = self.keys.problem_state(sig)
            pipe = self.redis.pipeline(transaction=True)  # one slot: the signature's hash tag
            record: dict[Any, Any] = dict(p.to_hash())
            pipe.hset(key, mapping=record)
            if p.incidents:
                pipe.sadd(key + ":incidents", *p.incidents)
            pipe.rpush(self.keys.problem_timeline(p.id), orjson.dumps(
                {"at": self.at, "kind": "restored", "text": "restored from the history after Redis lost its data"}))
            if r.occurrences:
                pipe.zadd(self.keys.problem_occurrences(sig), dict(r.occurrences), nx=True)
            pipe.hsetnx(state, "open", p.id)
            await pipe.execute()
            current = int(await self.redis.hget(state, "seq") or 0)
            if current < r.seq_floor:
                await self.redis.hset(state, "seq", r.seq_floor)
            await self.redis.zadd(self.keys.problems, {p.id: p.created_at})
            await self.redis.zadd(self.keys.open_problems, {p.id: p.created_at})
            done.problems += 1

    async def silences(self, silences: Sequence[Mapping[str, Any]], done: Restored) -> None:
        """Silences that have not ended (their stored JSON: ``Silence.public()`` without ``state``)."""
        for s in silences:
            doc = {k: s[k] for k in ("id", "matchers", "starts_at", "ends_at", "created_by", "comment", "created_at")}
            done.silences += int(await self.redis.hsetnx(self.keys.silences, str(s["id"]), orjson.dumps(doc)))
