"""The due-time service (kv/due.py) against the real Redis: claims racing, leases, reschedules, kinds, upgrades.

Time is the ``now`` each poll is given; nothing sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from correlation.store.keyspace import DUE_SHARDS as SHARDS
from correlation.store.keyspace import Keyspace
from kv.due import CLAIM_LIMIT, LEASE, Due, DueIndex, DueTimers
from stormwatch.due_loop import action_timers, correlation_timers

T0 = 1_800_000_000.0


class Recorder:
    """A handler recording what it fired, as (handler, kind, key); ``fail`` makes it raise instead."""

    def __init__(self, name: str, fired: list[tuple[str, str, str]], fail: bool = False) -> None:
        self.name = name
        self.fired = fired
        self.fail = fail

    async def fire(self, due: Sequence[Due], now: float) -> list[Due]:
        await asyncio.sleep(0)  # let a racing claimer run in between
        if self.fail:
            raise RuntimeError("handler down")
        self.fired += [(self.name, d.kind, d.key) for d in due]
        return list(due)


@pytest.fixture
async def redis(clean) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(clean.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def other_redis(clean) -> AsyncIterator[aioredis.Redis]:
    """A second connection: another worker's."""
    client = aioredis.from_url(clean.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def timers_of(redis: aioredis.Redis, namespace: str, fired: list[tuple[str, str, str]], name: str,
              *kinds: str) -> DueTimers:
    timers = DueTimers(DueIndex(redis, Keyspace(namespace)))
    handler = Recorder(name, fired)
    for kind in kinds:
        timers.register(kind, handler)
    return timers


async def test_two_claimers_racing_fire_each_timer_exactly_once(clean, redis, other_redis):
    index = DueIndex(redis, Keyspace(clean.namespace))
    keys = [f"t-{i}" for i in range(3 * CLAIM_LIMIT)]
    for i, key in enumerate(keys):
        await index.schedule("alpha", key, T0 + i % 7)
    fired: list[tuple[str, str, str]] = []
    a = timers_of(redis, clean.namespace, fired, "a", "alpha")
    b = timers_of(other_redis, clean.namespace, fired, "b", "alpha")
    for _ in range(10):
        await asyncio.gather(*(t.poll(T0 + 10) for t in (a, b, a, b)))
        if not await index.count(["alpha"]):
            break
    assert sorted(key for _, _, key in fired) == sorted(keys)  # every timer, none twice
    assert await index.count(["alpha"]) == 0


async def test_a_crashed_claimer_s_timers_are_claimed_again_when_the_lease_runs_out(clean, redis, other_redis):
    index = DueIndex(redis, Keyspace(clean.namespace))
    await index.schedule("alpha", "one", T0)
    crashed = await index.claim(["alpha"], T0 + 1, lease=30)  # claimed, then its worker died: never completed
    assert [(d.kind, d.key) for d in crashed.timers] == [("alpha", "one")]
    assert await index.due_at("alpha", "one") == T0 + 31
    fired: list[tuple[str, str, str]] = []
    survivor = timers_of(other_redis, clean.namespace, fired, "survivor", "alpha")
    assert (await survivor.poll(T0 + 30)).claimed == 0  # still leased
    poll = await survivor.poll(T0 + 31)
    assert poll.fired == {"alpha": 1} and fired == [("survivor", "alpha", "one")]
    assert await index.due_at("alpha", "one") is None
    await index.complete(crashed.timers)  # the first claimer comes back late: nothing left to remove
    assert await index.count(["alpha"]) == 0


async def test_a_reschedule_between_claim_and_complete_wins(clean, redis):
    index = DueIndex(redis, Keyspace(clean.namespace))
    await index.schedule("alpha", "one", T0)
    await index.schedule("alpha", "two", T0)
    claimed = await index.claim(["alpha"], T0 + 1)
    await index.schedule("alpha", "one", T0 + 500)  # moved by someone else while the claim was being handled
    await index.complete(claimed.timers)
    assert await index.due_at("alpha", "one") == T0 + 500  # kept, at its new time
    assert await index.due_at("alpha", "two") is None
    fired: list[tuple[str, str, str]] = []
    later = timers_of(redis, clean.namespace, fired, "w", "alpha")
    assert (await later.poll(T0 + 499)).claimed == 0
    assert (await later.poll(T0 + 500)).fired == {"alpha": 1}
    assert fired == [("w", "alpha", "one")]


async def test_a_process_claims_only_the_kinds_it_handles_and_another_kind_s_backlog_does_not_starve_it(
        clean, redis):
    index = DueIndex(redis, Keyspace(clean.namespace))
    for i in range(3 * CLAIM_LIMIT):  # a backlog of a kind this process cannot handle, all in one shard
        await index.schedule("beta", f"b-{i}", T0, shard=3)
    await index.schedule("alpha", "a-1", T0 + 5, shard=3)
    fired: list[tuple[str, str, str]] = []
    alpha_only = timers_of(redis, clean.namespace, fired, "w", "alpha")
    poll = await alpha_only.poll(T0 + 10)
    assert poll.fired == {"alpha": 1} and not poll.backlog and fired == [("w", "alpha", "a-1")]
    assert await index.count(["beta"], T0) == 3 * CLAIM_LIMIT  # untouched: not even claimed (re-scored)
    both = timers_of(redis, clean.namespace, fired, "v", "alpha", "beta")
    polls = []
    while not polls or polls[-1].backlog:
        polls.append(await both.poll(T0 + 10))
    assert [p.claimed for p in polls] == [CLAIM_LIMIT, CLAIM_LIMIT, CLAIM_LIMIT, 0]
    assert await index.count(["alpha", "beta"]) == 0


async def test_a_failing_handler_keeps_its_timers_claimed_and_the_others_complete(clean, redis):
    index = DueIndex(redis, Keyspace(clean.namespace))
    await index.schedule("alpha", "a", T0)
    await index.schedule("beta", "b", T0)
    fired: list[tuple[str, str, str]] = []
    timers = DueTimers(index)
    timers.register("alpha", Recorder("ok", fired))
    broken = Recorder("broken", fired, fail=True)
    timers.register("beta", broken)
    poll = await timers.poll(T0 + 1)
    assert poll.fired == {"alpha": 1} and [kinds for kinds, _ in poll.failed] == [["beta"]]
    assert await index.due_at("beta", "b") == T0 + 1 + LEASE  # claimed: falls due again when the lease runs out
    broken.fail = False
    assert (await timers.poll(T0 + LEASE)).claimed == 0
    assert (await timers.poll(T0 + 1 + LEASE)).fired == {"beta": 1}
    assert fired == [("ok", "alpha", "a"), ("broken", "beta", "b")]


# -- attempts -----------------------------------------------------------------------------------------------------

async def test_a_claim_after_a_lease_ran_out_keeps_the_first_claim_s_attempt_until_the_timer_completes(clean, redis):
    keys = Keyspace(clean.namespace)
    index = DueIndex(redis, keys)
    await index.schedule("alpha", "one", T0)
    (first,) = (await index.claim(["alpha"], T0 + 1, lease=30)).timers
    assert first.attempt == first.claimed and not first.retried  # a first claim is its own attempt
    assert await redis.hgetall(keys.due_claims(first.shard)) == {b"alpha:one": first.attempt.encode()}
    (second,) = (await index.claim(["alpha"], T0 + 31, lease=30)).timers  # the first claimer died
    assert second.claimed != first.claimed and second.attempt == first.attempt and second.retried
    await index.complete([second])
    assert await index.due_at("alpha", "one") is None
    assert await redis.exists(keys.due_claims(first.shard)) == 0  # the attempt ended with the timer
    await index.schedule("alpha", "one", T0 + 100)  # scheduled again later: a new attempt
    (third,) = (await index.claim(["alpha"], T0 + 100)).timers
    assert third.attempt == third.claimed != first.attempt


async def test_a_timer_rescheduled_while_claimed_ends_its_attempt_at_completion(clean, redis):
    keys = Keyspace(clean.namespace)
    index = DueIndex(redis, keys)
    await index.schedule("alpha", "one", T0)
    await index.schedule("beta", "one", T0)  # the same key under another kind is another timer
    claimed = (await index.claim(["alpha", "beta"], T0 + 1)).timers
    assert sorted(d.field for d in claimed) == ["alpha:one", "beta:one"]
    await index.schedule("alpha", "one", T0 + 500)
    await index.complete([d for d in claimed if d.kind == "alpha"])
    assert await index.due_at("alpha", "one") == T0 + 500  # kept at its new time ...
    assert await redis.hkeys(keys.due_claims(claimed[0].shard)) == [b"beta:one"]  # ... its attempt ended
    (again,) = (await index.claim(["alpha"], T0 + 500)).timers
    assert again.attempt == again.claimed  # the next claim starts a new one


# -- upgrading from the previous layout --------------------------------------------------------------------------

OLD_TIMERS = {  # member as the previous version wrote it -> (kind, due); gid "0a..." is in old shard 10
    "INC-0a1b2c3d4e5f-1": ("resolve", T0 + 1),
    "h|0a1b2c3d4e5f|fp1": ("hold", T0 + 2),
    "q|0a1b2c3d4e5f|fp2": ("quiet", T0 + 3),
    "x|0a1b2c3d4e5f|fp3": ("expire", T0 + 4),
    "x|1f00000000aa|fp4": ("expire", T0 + 5),  # gid 0x1f: old shard 15
    "m|0a1b2c3d4e5f|INC-0a1b2c3d4e5f-2": ("merge", T0 + 6),  # a late cause's merge
}
OLD_ACTIONS = {"ready:r1": ("approved", "r1", T0 + 1), "expire:r2": ("approval_expiry", "r2", T0 + 2),
               "verify:r3": ("verify", "r3", T0 + 3)}


async def write_previous_layout(redis, keys: Keyspace) -> None:
    """Timers as the previous version stored them: 16 ``timers:{t<n>}`` shards by group, and ``act:due``."""
    for member, (_, due) in OLD_TIMERS.items():
        gid = member.split("|")[1] if "|" in member else member[4:16]
        await redis.zadd(keys.legacy_timer_shards[int(gid[:2], 16) % 16], {member: due})
    await redis.zadd(keys.legacy_action_due, {m: due for m, (_, _, due) in OLD_ACTIONS.items()})


def upgrading(redis, keys: Keyspace, fired: list[tuple[str, str, str]], name: str) -> list[DueTimers]:
    """A new worker's two families of timers as the shell registers them, each kind recorded by ``name``."""
    index, handler = DueIndex(redis, keys), Recorder(name, fired)
    return [correlation_timers(index, handler, keys), action_timers(index, handler, keys)]


async def test_timers_of_the_previous_layout_move_on_start_and_fire_exactly_once(clean, redis, other_redis):
    keys = Keyspace(clean.namespace)
    await write_previous_layout(redis, keys)
    index = DueIndex(redis, keys)
    await index.schedule("expire", "x|1f00000000aa|fp4", T0 + 50, shard=keys.timer_shard("1f"))  # a new worker's
    fired: list[tuple[str, str, str]] = []
    loops = upgrading(redis, keys, fired, "a") + upgrading(other_redis, keys, fired, "b")
    done = await asyncio.gather(*(loop.upgrade() for loop in loops))  # two workers start at once
    # all finish, or the one that found the act:due move under way (its lock held) finishes on a later poll
    for loop, finished in zip(loops, done, strict=True):
        if not finished:
            assert await loop.upgrade()
    for old in [*keys.legacy_timer_shards, keys.legacy_action_due]:
        assert await redis.exists(old) == 0
    for member, (kind, due) in OLD_TIMERS.items():
        expected = T0 + 50 if member == "x|1f00000000aa|fp4" else due  # one scheduled since keeps its time
        assert await index.due_at(kind, member, shard=keys.timer_shard(member.split("|")[1] if "|" in member
                                                                        else member[4:16])) == expected
    for kind, run_id, due in OLD_ACTIONS.values():
        assert await index.due_at(kind, run_id) == due

    for now in (T0, T0 + 3, T0 + 10, T0 + 60, T0 + 60 + LEASE + 1):  # racing polls as time passes
        await asyncio.gather(*(loop.poll(now) for loop in loops))
    expected = {(kind, m) for m, (kind, _) in OLD_TIMERS.items()} | {(k, r) for k, r, _ in OLD_ACTIONS.values()}
    assert sorted((kind, key) for _, kind, key in fired) == sorted(expected)  # each exactly once
    assert await index.count(["resolve", "hold", "quiet", "expire", "merge", "approved", "approval_expiry",
                              "verify"]) == 0


class Keeper:
    """A handler keeping the timers it fired, attempts included."""

    def __init__(self) -> None:
        self.fired: list[Due] = []

    async def fire(self, due: Sequence[Due], now: float) -> list[Due]:
        self.fired += due
        return list(due)


async def test_a_timer_an_old_worker_claimed_and_died_on_moves_with_its_attempt(clean, redis):
    """The previous version kept each old shard's attempts in ``timers:{t<n>}:claims``: a timer claimed there and
    never completed is claimed in the index under that attempt, so its handler finds the dead worker's write."""
    keys = Keyspace(clean.namespace)
    old = keys.legacy_timer_shards[10]
    member, attempt = "m|0a1b2c3d4e5f|INC-0a1b2c3d4e5f-2", repr(T0 + 61)
    await redis.zadd(old, {member: T0 + 61, "h|0a1b2c3d4e5f|fp1": T0 + 5})  # claimed at T0 + 1 with a 60 s lease
    await redis.hset(keys.legacy_timer_claims(old), mapping={member: attempt, "x|0a1b2c3d4e5f|gone": "1.0"})
    handler = Keeper()
    correlation = correlation_timers(DueIndex(redis, keys), handler, keys)
    assert await correlation.upgrade()
    assert await redis.exists(old, keys.legacy_timer_claims(old)) == 0  # the stale attempt went with the old hash
    assert await redis.hgetall(keys.due_claims(10)) == {f"merge:{member}".encode(): attempt.encode()}
    assert (await correlation.poll(T0 + 61)).fired == {"hold": 1, "merge": 1}
    by_kind = {d.kind: d for d in handler.fired}
    assert by_kind["merge"].attempt == attempt and by_kind["merge"].retried  # the old claim's attempt
    assert not by_kind["hold"].retried  # never claimed before: its own attempt
    assert await redis.exists(keys.due_claims(10)) == 0


async def test_an_upgrade_leaves_what_is_not_a_timer_and_says_it_is_done(clean, redis):
    keys = Keyspace(clean.namespace)
    await redis.zadd(keys.legacy_action_due, {"ready:r1": T0, "garbage": T0})
    _, actions = upgrading(redis, keys, [], "a")
    assert await actions.upgrade()
    assert await redis.zrange(keys.legacy_action_due, 0, -1) == [b"garbage"]
    assert await DueIndex(redis, keys).due_at("approved", "r1") == T0


async def test_the_index_and_its_upgrade_on_a_redis_cluster(settings, cluster):
    """Every script keeps to one slot: a shard's kinds share it, and an old shard shares its new shard's."""
    redis = RedisCluster.from_url(cluster.url)
    keys = Keyspace(settings.namespace)
    try:
        await write_previous_layout(redis, keys)
        for n in range(SHARDS):
            await redis.zadd(keys.due("alpha", n), {f"a-{n}": T0})
        fired: list[tuple[str, str, str]] = []
        correlation, actions = upgrading(redis, keys, fired, "c")
        correlation.register("alpha", Recorder("c", fired))
        assert await correlation.upgrade() and await actions.upgrade()
        polls = [await correlation.poll(T0 + 60), await actions.poll(T0 + 60)]
        assert [p.claimed for p in polls] == [len(OLD_TIMERS) + SHARDS, len(OLD_ACTIONS)]
        assert all(sum(p.fired.values()) == p.claimed and not p.failed for p in polls)
        assert await DueIndex(redis, keys).count(["alpha", "expire", "approved"]) == 0
        left = [k async for k in redis.scan_iter(match=f"{settings.namespace}:*")]
        assert left == [keys.due_upgrade_lock.encode()]  # fired and completed everywhere, the old keys gone
    finally:
        await redis.delete(keys.due_upgrade_lock)
        await redis.aclose()
