"""The Redis state store: reads group state for the engine and applies its decisions atomically.

Writes are compare-and-set on a per-group version, one Lua script per group per batch, guarded by an
idempotency marker per (message, group), so any number of workers can share the work and a redelivered message changes
nothing. Reads and writes of a whole batch go out as one pipeline each: a batch costs a fixed number of
round trips, not one per alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast
from collections.abc import Iterable, Sequence

import orjson
from redis.asyncio import Redis

from events.builders import alert_muted, incident_change

from correlation.core.decision import Decision, parse_timer
from correlation.store.keyspace import Keyspace
from correlation.store.open_index import settle
from correlation.core.model import AlertState, GroupState, Incident, parse_incident_id
from correlation.core.repeats import Repeats
from correlation.core.routing import Group
from kv.due import Due, DueIndex
from kv.scripts import Scripts


@dataclass(frozen=True, slots=True)
class FollowUps:
    """What must happen outside the group's slot after a decision is applied; safe to repeat."""

    opened: list[tuple[str, float]]
    resolved: list[str]
    events: list[dict[str, Any]]
    timers: list[tuple[str, float]] = field(default_factory=list)  # (timer member, due)
    sources: list[tuple[str, str, int, str]] = field(default_factory=list)  # cause index updates
    symptoms: list[dict[str, Any]] = field(default_factory=list)  # Symptom.public()
    recurrences: list[tuple[str, dict[str, str], str, float, str]] = field(default_factory=list)
    candidates: list[tuple[str, str, int, str]] = field(default_factory=list)  # symptom candidate index updates

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {"o": self.opened, "r": self.resolved, "e": self.events, "t": self.timers}
        if self.sources:
            doc["s"] = self.sources
        if self.symptoms:
            doc["y"] = self.symptoms
        if self.recurrences:
            doc["p"] = self.recurrences
        if self.candidates:
            doc["c"] = self.candidates
        return orjson.dumps(doc)

    @classmethod
    def from_json(cls, raw: bytes) -> FollowUps:
        if not raw:
            return cls([], [], [])
        d = orjson.loads(raw)
        return cls([tuple(x) for x in d["o"]], d["r"], d["e"], [tuple(x) for x in d.get("t", [])],
                   [tuple(x) for x in d.get("s", [])], d.get("y", []),
                   [tuple(x) for x in d.get("p", [])], [tuple(x) for x in d.get("c", [])])

    @property
    def empty(self) -> bool:
        return not (self.opened or self.resolved or self.events or self.timers or self.sources or self.symptoms
                    or self.recurrences or self.candidates)


_NOTHING = FollowUps([], [], [])


class ClaimedTimer(NamedTuple):
    """A timer of correlation's this worker claimed from the due-time service (``kv.due.Due``), as it is decided: its
    write is marked ``timer:<member>:<attempt>``. The attempt is the lease of the first claim not completed, so a
    worker that claims a timer whose previous worker died finds that worker's write, if it made one, and replays what
    it left undone; then it decides again under its own lease (``replayed``)."""

    due: Due
    replayed: bool = False  # the attempt's write was found and replayed: decide again under our own lease

    @property
    def member(self) -> str:
        return self.due.key

    @property
    def message_id(self) -> str:
        return f"timer:{self.member}:{self.due.claimed if self.replayed else self.due.attempt}"


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of one group's write for a batch."""

    status: str  # ok | dup | conflict
    follow_ups: list[FollowUps] = field(default_factory=list)  # ok: one per message, in order
    replayed: dict[int, FollowUps] = field(default_factory=dict)  # dup: message position -> stored follow-ups


@dataclass(slots=True)
class GroupRead:
    """One group as read: its state without alerts, and its alerts' stored rows (parsed JSON) by fingerprint."""

    state: GroupState
    rows: dict[str, Any]

    def materialise(self) -> GroupState:
        """The state with its alerts built, as the engine takes it."""
        self.state.alerts = {fp: AlertState.from_row(row) for fp, row in self.rows.items()}
        return self.state


@dataclass(frozen=True, slots=True)
class RepeatWrite:
    """A group's pure repeats (``correlation.core.repeats``) from these messages, written without a decision."""

    message_ids: Sequence[str]
    repeats: Repeats


#: a group's write for one batch: its decisions, one per message in order, or its pure repeats
GroupWrite = tuple[str, int, Sequence[tuple[str, Decision]] | RepeatWrite]


def decision_follow_ups(decision: Decision, message_id: str) -> FollowUps:
    opened = [(iid, decision.incidents[iid].created_at) for iid in decision.opened]
    events = [incident_change(f"{message_id}:{decision.group_id}:{n}", e.routing_key, e.reason, e.at, e.incident)
              for n, e in enumerate(decision.events)]
    if decision.mutes:  # kept in the marker with the others: a redelivery republishes the same event id
        events.append(alert_muted(message_id, decision.group_id, decision.mutes, decision.muted_at))
    return FollowUps(opened, list(decision.resolved), events, list(decision.timers), list(decision.sources),
                     [s.public() for s in decision.symptoms],
                     [(r.rule, r.signature, r.incident, r.at, r.title) for r in decision.recurrences],
                     list(decision.candidates))


class IncidentStore:
    def __init__(self, redis: Redis, keyspace: Keyspace, *, marker_ttl: int, timeline_max: int) -> None:
        self.redis = redis
        self.keys = keyspace
        self.marker_ttl = marker_ttl
        self.timeline_max = timeline_max
        self.scripts = Scripts(redis, "correlation.store", "read_group", "apply_group")
        self.due = DueIndex(redis, keyspace)  # the decisions' timers; fired by correlation.store.pipeline.TimerFiring

    async def load_scripts(self) -> None:
        await self.scripts.load()

    # -- reads for the engine -------------------------------------------------------------------

    async def load_groups(self, wanted: dict[str, tuple[Group, set[str]]]) -> dict[str, GroupState]:
        return {gid: read.materialise() for gid, read in (await self.read_groups(wanted)).items()}

    async def read_groups(self, wanted: dict[str, tuple[Group, set[str]]]) -> dict[str, GroupRead]:
        """Each group's state with its alerts' stored rows parsed but not yet built (``GroupRead.materialise``):
        the repeat fast path (``correlation.core.repeats``) works on the rows."""
        gids = list(wanted)
        calls = []
        fp_lists: dict[str, list[str]] = {}  # the order of the alert keys in each call
        for gid in gids:
            fp_list = fp_lists[gid] = sorted(wanted[gid][1])
            keys = [self.keys.group(gid)] + [self.keys.alert(gid, fp) for fp in fp_list]
            calls.append((keys, [self.keys.incident_prefix(gid), self.keys.alert_prefix(gid)]))
        results = await self.scripts.run_many("read_group", calls)
        reads: dict[str, GroupRead] = {}
        loads = orjson.loads
        for gid, result in zip(gids, results, strict=True):
            group, fp_list = wanted[gid][0], fp_lists[gid]
            raw_group, raw_incident, raw_older, *raw_alerts = result
            held = raw_alerts[len(fp_list):]
            raw_alerts = raw_alerts[: len(fp_list)]
            h = dict(zip(raw_group[::2], raw_group[1::2], strict=True))
            state = GroupState(
                group_id=gid,
                group_key=group.key,
                group_labels=group.labels,
                version=int(h.get(b"v", 0)),
                seq=int(h.get(b"seq", 0)),
                route=group.route,
            )
            if raw_incident:
                state.incident = Incident.from_hash(dict(zip(raw_incident[::2], raw_incident[1::2], strict=True)))
            for raw in raw_older:
                if raw:
                    older = Incident.from_hash(dict(zip(raw[::2], raw[1::2], strict=True)))
                    state.older[older.id] = older
            rows = {fp: loads(raw) for fp, raw in zip(fp_list, raw_alerts, strict=True) if raw}
            if h.get(b"pending"):
                state.pending = {fp: (since, name) for fp, (since, name) in orjson.loads(h[b"pending"]).items()}
            for fp, raw in zip(held[::2], held[1::2], strict=True):
                if raw and fp.decode() not in rows:
                    rows[fp.decode()] = loads(raw)
            reads[gid] = GroupRead(state, rows)
        return reads

    # -- writes ---------------------------------------------------------------------------------

    def _group_write(self, gid: str, version: int, decisions: Sequence[tuple[str, Decision]]
                     ) -> tuple[list[str], list[Any], list[FollowUps]]:
        """One script call for all of a batch's decisions on one group (applied in order), and their follow-ups."""
        keys = [self.keys.group(gid)] + [self.keys.marker(gid, mid) for mid, _ in decisions]
        index: dict[str, int] = {}

        def k(name: str) -> int:
            if name not in index:
                keys.append(name)
                index[name] = len(keys)
            return index[name]

        alerts: dict[str, AlertState] = {}
        incidents: dict[str, Incident] = {}
        members: dict[str, list[str]] = {}
        timeline: dict[str, list[dict[str, Any]]] = {}
        for _, d in decisions:
            alerts.update(d.alerts)
            incidents.update(d.incidents)
            for iid, fps in d.new_members.items():
                members.setdefault(iid, []).extend(fps)
            for iid, entries in d.timeline.items():
                timeline.setdefault(iid, []).extend(entries)
        last = decisions[-1][1]
        ops: list[list[Any]] = []
        for fp, state in alerts.items():
            ops.append(["set", k(self.keys.alert(gid, fp)), state.to_json()])
        for iid, incident in incidents.items():
            fields: list[str] = []
            for name, value in incident.to_hash().items():
                fields += (name, value)
            ops.append(["hset", k(self.keys.incident(iid))] + fields)
        for iid, fps in members.items():
            ops.append(["sadd", k(self.keys.incident_alerts(iid))] + fps)
        for iid, entries in timeline.items():
            tk = k(self.keys.incident_timeline(iid))
            ops.append(["rpush", tk] + [orjson.dumps(e) for e in entries])
            ops.append(["ltrim", tk, -self.timeline_max, -1])
        ops.append(
            ["hset", 1, "seq", str(last.seq), "inc", last.current_incident, "pending", orjson.dumps(last.pending),
             "older", orjson.dumps(last.older)]
        )
        follow_ups = [decision_follow_ups(d, mid) for mid, d in decisions]
        blobs = [b"" if follow.empty else follow.to_json() for follow in follow_ups]
        flat: list[Any] = [version, self.marker_ttl, len(decisions), len(ops), *blobs]
        for name, key_index, *args in ops:
            flat += (name, key_index, len(args), *args)
        return keys, flat, follow_ups

    def _repeat_write(self, gid: str, version: int, write: RepeatWrite
                      ) -> tuple[list[str], list[Any], list[FollowUps]]:
        """The same script call as ``_group_write`` (version compare-and-set, one marker per message), carrying only
        the repeated alerts' rows and their incidents' ``occurrences`` and ``updated_at``; nothing to follow up."""
        keys = [self.keys.group(gid)] + [self.keys.marker(gid, mid) for mid in write.message_ids]
        flat: list[Any] = [version, self.marker_ttl, len(write.message_ids),
                           len(write.repeats.rows) + len(write.repeats.incidents)]
        flat += [b""] * len(write.message_ids)  # an empty follow-up: a redelivery finds the marker and replays nothing
        dumps = orjson.dumps
        for fp, row in write.repeats.rows.items():
            keys.append(self.keys.alert(gid, fp))
            flat += ("set", len(keys), 1, dumps(row))
        for iid, (occurrences, updated_at) in write.repeats.incidents.items():
            keys.append(self.keys.incident(iid))
            flat += ("hset", len(keys), 4, "occurrences", str(occurrences), "updated_at", repr(updated_at))
        return keys, flat, [_NOTHING] * len(write.message_ids)

    async def apply(self, writes: Sequence[GroupWrite]) -> list[Applied]:
        """Apply (group id, expected version, [(message id, decision), ...] or ``RepeatWrite``) writes in one
        pipeline."""
        built = [self._repeat_write(gid, version, what) if isinstance(what, RepeatWrite)
                 else self._group_write(gid, version, what) for gid, version, what in writes]
        results = await self.scripts.run_many("apply_group", [(keys, flat) for keys, flat, _ in built])
        applied = []
        for (_, _, follow_ups), result in zip(built, results, strict=True):
            status = result[0].decode()
            if status == "ok":
                applied.append(Applied("ok", follow_ups))
            elif status == "dup":
                pairs = result[1:]
                dups = {int(pairs[i]) - 1: FollowUps.from_json(pairs[i + 1]) for i in range(0, len(pairs), 2)}
                applied.append(Applied("dup", replayed=dups))
            else:
                applied.append(Applied("conflict"))
        return applied

    async def index(self, follow_ups: Iterable[FollowUps]) -> int:
        """Maintain the global incident indexes (idempotent); returns the number of open incidents.

        The open index is written after the group's write, outside it (another slot), so an incident added to it
        may have been resolved meanwhile (a redelivered opening message replaying its follow-ups, a slow opener
        between its write and this), and one taken out may have been reopened by a person since. Every incident
        this adds or removes is then settled against its status (:func:`correlation.store.open_index.settle`)."""
        pipe = self.redis.pipeline(transaction=False)
        written: dict[str, bool | None] = {}
        for f in follow_ups:
            for iid, created_at in f.opened:
                pipe.zadd(self.keys.incidents, {iid: created_at})
                pipe.zadd(self.keys.open_incidents, {iid: created_at})
                written[iid] = True
            if f.resolved:
                pipe.zrem(self.keys.open_incidents, *f.resolved)
                written.update(dict.fromkeys(f.resolved, False))
            for member, due in f.timers:
                kind, gid, _ = parse_timer(member)
                self.due.schedule_in(pipe, kind, member, due, shard=self.keys.timer_shard(gid))
        pipe.zcard(self.keys.open_incidents)
        results = await pipe.execute()
        if not written or not await settle(self.redis, self.keys, written):
            return int(results[-1])
        return int(await self.redis.zcard(self.keys.open_incidents))

    async def incident_members(self, incident_ids: Sequence[str]) -> dict[str, list[str]]:
        """The member fingerprints of each incident (one pipeline: each set lives in its group's slot)."""
        pipe = self.redis.pipeline(transaction=False)
        for iid in incident_ids:
            pipe.smembers(self.keys.incident_alerts(iid))
        raws = await pipe.execute() if incident_ids else []
        return {iid: sorted(m.decode() for m in raw) for iid, raw in zip(incident_ids, raws, strict=True)}

    async def sender_key_groups(self, fingerprints: Sequence[str]) -> dict[str, dict[str, str]]:
        """Labels remembered for sender-keyed fingerprints (one MGET)."""
        if not fingerprints:
            return {}
        pipe = self.redis.pipeline(transaction=False)  # not MGET: the keys span Cluster slots
        for fp in fingerprints:
            pipe.get(self.keys.sender_key(fp))
        raws = await pipe.execute()
        return {fp: orjson.loads(raw) for fp, raw in zip(fingerprints, raws, strict=True) if raw}

    async def remember_sender_keys(self, groups: dict[str, dict[str, str]]) -> None:
        if not groups:
            return
        pipe = self.redis.pipeline(transaction=False)
        for fp, labels in groups.items():
            pipe.set(self.keys.sender_key(fp), orjson.dumps(labels), nx=True)
        await pipe.execute()

    # -- queries (CLI, API, tests) ---------------------------------------------------------------

    async def incident(self, incident_id: str) -> Incident | None:
        try:
            parse_incident_id(incident_id)
        except ValueError:
            return None
        raw = await self.redis.hgetall(self.keys.incident(incident_id))
        return Incident.from_hash(raw) if raw else None

    async def list_incidents(self, *, open_only: bool = False, limit: int = 100, offset: int = 0) -> list[Incident]:
        index = self.keys.open_incidents if open_only else self.keys.incidents
        ids = cast(list[bytes], await self.redis.zrevrange(index, offset, offset + limit - 1))  # a bytes client
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for iid in ids:
            pipe.hgetall(self.keys.incident(iid.decode()))
        return [Incident.from_hash(h) for h in await pipe.execute() if h]

    async def count_incidents(self, *, open_only: bool = False) -> int:
        return int(await self.redis.zcard(self.keys.open_incidents if open_only else self.keys.incidents))

    async def incident_alerts(self, incident_id: str) -> list[AlertState]:
        gid, _ = parse_incident_id(incident_id)
        members = cast(set[bytes], await self.redis.smembers(self.keys.incident_alerts(incident_id)))  # a bytes client
        fps = sorted(m.decode() for m in members)
        if not fps:
            return []
        raws = await self.redis.mget([self.keys.alert(gid, fp) for fp in fps])
        return [AlertState.from_json(r) for r in raws if r]

    async def timeline(self, incident_id: str) -> list[dict[str, Any]]:
        return [orjson.loads(e) for e in await self.redis.lrange(self.keys.incident_timeline(incident_id), 0, -1)]

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except Exception:  # noqa: BLE001 - readiness answers yes/no
            return False

    async def delete_namespace(self) -> int:
        """Delete every key of this namespace (tests and demo clean-up)."""
        deleted = 0
        async for batch in _chunks(self.redis.scan_iter(match=self.keys.pattern, count=1000), 500):
            deleted += await self.redis.unlink(*batch)  # on a Cluster the client splits it by slot
        return deleted


async def _chunks(aiter: Any, size: int) -> Any:
    batch = []
    async for item in aiter:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = ["Applied", "ClaimedTimer", "FollowUps", "GroupRead", "GroupWrite", "IncidentStore", "RepeatWrite"]
