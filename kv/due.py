"""The due-time service: everything that must happen later, exactly once across workers, as timers of kinds.

A timer is a *key* of a *kind* (``resolve`` + an incident id, ``approved`` + a run id, ...) due at a time. The index
is a number of shards (16), each one Redis Cluster slot (hash tag ``{t<n>}``), so a Cluster spreads it; in each
shard every kind has its own sorted set (timer key -> due time). The keyspace names them and says how many shards
there are (``DueKeys``; correlation/keyspace.py lists every key). The shard of a timer is chosen by whoever
schedules it: by default a hash of its key (``DueIndex.shard_of``).

- ``DueIndex``: ``schedule`` (a later schedule of the same timer moves it), ``cancel``, ``claim`` and ``complete``.
  ``lua/due_claim.lua`` hands each due timer to one caller: up to ``limit`` per kind per shard are re-scored to
  now + a lease and returned with that score; a caller that dies loses them when the lease runs out.
  ``lua/due_complete.lua`` removes a timer only if its score is still the claimed one, so a reschedule between the
  claim and the completion wins. One poll costs one pipeline of 16 claims and one of completions, whatever the
  number of kinds: a shard's sorted sets share its slot, so one script call claims them together.
- Attempts: each claimed timer also carries its *attempt*, the lease of the first claim not completed yet (kept per
  shard in a claims hash beside the kind sets, ``<kind>:<timer key>`` -> attempt; the completion ends it). A timer
  whose caller died before completing it is claimed again under the same attempt, so a handler that marks its
  writes with the attempt finds the dead caller's write and can finish what it left undone (correlation's
  ``TimerFiring`` replays its follow-ups); a timer completed, or rescheduled and then completed, starts a new one.
- ``DueTimers``: the handlers registered per kind (``DueHandler``, one line per kind) and one poll. A process
  claims only the kinds it has a handler for: the other kinds are other sorted sets, which its claim never reads,
  so a ``serve --role actions`` process never holds a correlation timer, and a backlog of one kind cannot starve
  another (a claim filtering one shared set by kind would have to scan past every due timer it cannot handle).
- ``Legacy`` and ``DueIndex.upgrade``: sorted sets an older version kept timers in are moved into the index.

A timer claimed again after a lease ran out is fired again, so a handler must be idempotent (each of Stormwatch's
is: a compare-and-set with an idempotency marker per (timer, attempt), or a state transition that happens once).
"""

from __future__ import annotations

import re
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from redis.asyncio import Redis

from kv.scripts import Scripts

CLAIM_LIMIT = 100  # due timers claimed per kind per shard per poll
LEASE = 60.0  # seconds a claimed timer is held before it falls due again
UPGRADE_CHUNK = 500  # old members moved per script call
UPGRADE_LOCK_MS = 60_000
KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
RESERVED = {"claims"}  # names beside the kind sets in a shard (``DueKeys.due_claims``)


class DueKeys(Protocol):
    """Where the index lives (``correlation.store.keyspace.Keyspace``)."""

    @property
    def due_shards(self) -> int:
        """How many shards the index has (shards 0 to due_shards - 1)."""
        ...

    def due(self, kind: str, shard: int) -> str:
        """The sorted set of one kind in one shard; every kind's set of shard ``n`` is in the same Cluster slot."""
        ...

    def due_claims(self, shard: int) -> str:
        """The claims hash of one shard (``<kind>:<timer key>`` -> attempt), in the slot of the shard's sets."""
        ...


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed timer: its kind, key and shard, the score it was claimed with (when its lease runs out), and its
    attempt: the lease of the first claim not completed yet, ``claimed`` itself unless an earlier caller's lease ran
    out before it completed the timer."""

    kind: str
    key: str
    shard: int
    claimed: str
    attempt: str

    @property
    def field(self) -> str:
        """Its field in its shard's claims hash."""
        return claim_field(self.kind, self.key)

    @property
    def retried(self) -> bool:
        """An earlier claim of this attempt was not completed (its caller died or its handler failed)."""
        return self.attempt != self.claimed


def claim_field(kind: str, key: str) -> str:
    return f"{kind}:{key}"


class DueHandler(Protocol):
    async def fire(self, due: Sequence[Due], now: float) -> Iterable[Due]:
        """Act on claimed timers of the kinds it is registered for; return those done (they are completed). The
        others stay claimed until their lease runs out and then fall due again."""
        ...


@dataclass(frozen=True, slots=True)
class Legacy:
    """A sorted set (member -> due time) an older version kept timers in, and where its members go.

    ``parse`` maps an old member to (kind, timer key), or None for one that is not a timer (left where it is).
    ``claims``: the old set's claims hash (member -> attempt), if it had one: the attempts move with their members
    (only with ``shard``: the hash must share the slot of the index's shard).
    ``shard``: the shard whose slot the old set shares; its members are moved there in one script per chunk (each
    member added and removed in one step). None: the old set is in another slot, so each member goes to the shard
    of its key, added first and then removed only if unchanged, under ``lock`` (one mover at a time)."""

    key: str
    parse: Callable[[str], tuple[str, str] | None]
    shard: int | None = None
    lock: str = ""
    claims: str = ""

    def __post_init__(self) -> None:
        if self.shard is None and not self.lock:
            raise ValueError(f"moving {self.key} across slots needs a lock key")
        if self.shard is None and self.claims:
            raise ValueError(f"the claims of {self.key} move only within its slot (give its shard)")


@dataclass(slots=True)
class Claimed:
    timers: list[Due]
    backlog: bool  # some kind of some shard gave a full share: more may be due already


class DueIndex:
    def __init__(self, redis: Redis, keys: DueKeys) -> None:
        self.redis = redis
        self.keys = keys
        self.shards = keys.due_shards
        self.scripts = Scripts(redis, "kv", "due_claim", "due_complete", "due_upgrade")

    def shard_of(self, text: str) -> int:
        """The default shard of a timer: a stable hash of its key."""
        return zlib.crc32(text.encode()) % self.shards

    def key(self, kind: str, timer: str, shard: int | None = None) -> str:
        """The sorted set a timer is in."""
        return self.keys.due(kind, self.shard_of(timer) if shard is None else shard)

    # -- scheduling ----------------------------------------------------------------------------------------------

    def schedule_in(self, pipe: Any, kind: str, timer: str, when: float, *, shard: int | None = None) -> None:
        """Schedule within a caller's pipeline (``shard``: what the caller shards by, e.g. a group's)."""
        pipe.zadd(self.key(kind, timer, shard), {timer: when})

    async def schedule(self, kind: str, timer: str, when: float, *, shard: int | None = None) -> None:
        await self.redis.zadd(self.key(kind, timer, shard), {timer: when})

    async def cancel(self, kind: str, timer: str, *, shard: int | None = None) -> bool:
        return bool(await self.redis.zrem(self.key(kind, timer, shard), timer))

    async def due_at(self, kind: str, timer: str, *, shard: int | None = None) -> float | None:
        """When a timer is due (its lease's end while claimed), None when it is not scheduled."""
        return await self.redis.zscore(self.key(kind, timer, shard), timer)

    async def count(self, kinds: Sequence[str], until: float = float("inf")) -> int:
        """Timers of these kinds due at or before ``until`` (tools and tests; one pipeline)."""
        pipe = self.redis.pipeline(transaction=False)
        for kind in kinds:
            for n in range(self.shards):
                pipe.zcount(self.keys.due(kind, n), "-inf", until)
        return sum(await pipe.execute())

    # -- claiming ------------------------------------------------------------------------------------------------

    async def claim(self, kinds: Sequence[str], now: float, *, lease: float = LEASE, limit: int = CLAIM_LIMIT
                    ) -> Claimed:
        """Claim due timers of ``kinds`` from every shard, at most ``limit`` per kind per shard."""
        if not kinds:
            return Claimed([], False)
        calls = [([self.keys.due_claims(n), *(self.keys.due(kind, n) for kind in kinds)], [now, lease, limit, *kinds])
                 for n in range(self.shards)]
        results = await self.scripts.run_many("due_claim", calls)
        timers: list[Due] = []
        backlog = False
        for n, (score, *per_kind) in enumerate(results):
            claimed = score.decode()
            for kind, pairs in zip(kinds, per_kind, strict=True):
                backlog = backlog or len(pairs) >= 2 * limit
                timers += [Due(kind, pairs[i].decode(), n, claimed, pairs[i + 1].decode())
                           for i in range(0, len(pairs), 2)]
        return Claimed(timers, backlog)

    async def complete(self, done: Iterable[Due]) -> None:
        """End fired timers' attempts, and remove each only if it still holds the score it was claimed with (one
        pipeline)."""
        by_shard: dict[int, list[Due]] = {}
        for d in done:
            by_shard.setdefault(d.shard, []).append(d)
        calls = []
        for n, items in by_shard.items():
            kinds = list(dict.fromkeys(d.kind for d in items))
            index = {kind: i for i, kind in enumerate(kinds, 2)}
            args: list[Any] = []
            for d in items:
                args += (index[d.kind], d.key, d.claimed, d.field, d.attempt)
            calls.append(([self.keys.due_claims(n), *(self.keys.due(kind, n) for kind in kinds)], args))
        await self.scripts.run_many("due_complete", calls)

    # -- upgrading -----------------------------------------------------------------------------------------------

    async def upgrade(self, legacy: Legacy) -> bool:
        """Move the timers of an older layout's sorted set into the index; True once none is left there.
        Idempotent, and safe with any number of callers at once."""
        timers = await self._legacy_timers(legacy)
        if not timers:
            return True
        if legacy.shard is not None:
            await self._move_in_slot(legacy, legacy.shard, [(old, parsed) for old, _, parsed in timers])
        elif not await self._move_across_slots(legacy, timers):
            return False  # another caller holds the lock: it moves them
        return not await self._legacy_timers(legacy)

    async def _legacy_timers(self, legacy: Legacy) -> list[tuple[str, float, tuple[str, str]]]:
        raw = cast(list[tuple[bytes, float]], await self.redis.zrange(legacy.key, 0, -1, withscores=True))
        found = []
        for member, score in raw:
            parsed = legacy.parse(member.decode())
            if parsed is not None:
                found.append((member.decode(), score, parsed))
        return found

    async def _move_in_slot(self, legacy: Legacy, shard: int, timers: Sequence[tuple[str, tuple[str, str]]]) -> None:
        calls = []
        for start in range(0, len(timers), UPGRADE_CHUNK):
            chunk = timers[start:start + UPGRADE_CHUNK]
            kinds = list(dict.fromkeys(kind for _, (kind, _) in chunk))
            index = {kind: i for i, kind in enumerate(kinds, 4)}
            args: list[Any] = ["1" if legacy.claims else "0"]
            for member, (kind, timer) in chunk:
                args += (member, index[kind], timer, claim_field(kind, timer))
            keys = [legacy.key, legacy.claims or legacy.key, self.keys.due_claims(shard)]
            calls.append((keys + [self.keys.due(kind, shard) for kind in kinds], args))
        await self.scripts.run_many("due_upgrade", calls)

    async def _move_across_slots(self, legacy: Legacy,
                                 timers: Sequence[tuple[str, float, tuple[str, str]]]) -> bool:
        if not await self.redis.set(legacy.lock, uuid.uuid4().hex, nx=True, px=UPGRADE_LOCK_MS):
            return False  # left to expire, not released: a caller that sees the old set gone is done anyway
        for start in range(0, len(timers), UPGRADE_CHUNK):
            chunk = timers[start:start + UPGRADE_CHUNK]
            pipe = self.redis.pipeline(transaction=False)
            for _, score, (kind, timer) in chunk:
                pipe.zadd(self.key(kind, timer), {timer: score}, nx=True)
            await pipe.execute()
            # then off the old set, each only if no one changed it meanwhile (the completion's condition)
            args: list[Any] = []
            for old, score, _ in chunk:
                args += (2, old, repr(score), "", "")  # no attempt to end: an old set in another slot has no claims
            await self.scripts.run_many("due_complete", [([legacy.key, legacy.key], args)])
        return True


@dataclass(slots=True)
class Poll:
    """What one poll did."""

    claimed: int = 0
    fired: dict[str, int] = field(default_factory=dict)  # timers done, per kind
    backlog: bool = False  # a full share was claimed somewhere: poll again at once
    failed: list[tuple[list[str], Exception]] = field(default_factory=list)  # a handler's kinds and its error


class DueTimers:
    """The kinds one process handles, their handlers, and one poll over them."""

    def __init__(self, index: DueIndex, *, lease: float = LEASE, limit: int = CLAIM_LIMIT) -> None:
        self.index = index
        self.lease = lease
        self.limit = limit
        self.handlers: dict[str, DueHandler] = {}
        self.legacy: list[Legacy] = []

    def register(self, kind: str, handler: DueHandler) -> None:
        """``handler`` fires the timers of ``kind`` in this process (one handler may take several kinds: each poll
        hands it all of its timers in one call)."""
        if not KIND.match(kind):
            raise ValueError(f"a timer kind is 1-32 characters of a-z, 0-9, '_', starting with a letter: {kind!r}")
        if kind in RESERVED:
            raise ValueError(f"timer kind {kind!r} is reserved")
        if kind in self.handlers:
            raise ValueError(f"timer kind {kind!r} already has a handler")
        self.handlers[kind] = handler

    def upgrade_from(self, legacy: Legacy) -> None:
        """Move this older layout's timers into the index (``upgrade``)."""
        self.legacy.append(legacy)

    async def upgrade(self) -> bool:
        """Move what older layouts left; True once nothing is left (a caller stops asking then)."""
        left = []
        for legacy in self.legacy:
            if not await self.index.upgrade(legacy):
                left.append(legacy)
        self.legacy = left
        return not left

    async def poll(self, now: float) -> Poll:
        """Claim what is due of the registered kinds, fire it through the handlers, complete what they did."""
        claimed = await self.index.claim(list(self.handlers), now, lease=self.lease, limit=self.limit)
        poll = Poll(claimed=len(claimed.timers), backlog=claimed.backlog)
        per_handler: dict[int, tuple[DueHandler, list[Due]]] = {}
        for d in claimed.timers:
            handler = self.handlers[d.kind]
            per_handler.setdefault(id(handler), (handler, []))[1].append(d)
        done: list[Due] = []
        for handler, timers in per_handler.values():
            try:
                fired = list(await handler.fire(timers, now))
            except Exception as exc:  # noqa: BLE001 - its timers stay claimed; the lease runs out, they fall due again
                poll.failed.append((sorted({d.kind for d in timers}), exc))
                continue
            done += fired
        await self.index.complete(done)
        for d in done:
            poll.fired[d.kind] = poll.fired.get(d.kind, 0) + 1
        return poll
