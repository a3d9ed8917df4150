"""The due-time service's pure parts: its key layout and slots, sharding, kinds, and reading the previous layout."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from actions.due_kinds import KINDS as ACTION_KINDS
from actions.due_kinds import legacy as legacy_action
from correlation.core.decision import TIMER_KINDS, expiry_timer, hold_timer, merge_timer, parse_timer, quiet_timer
from correlation.store.keyspace import DUE_SHARDS as SHARDS
from correlation.store.keyspace import Keyspace
from kv.due import Due, DueIndex, DueTimers, Legacy
from stormwatch.due_loop import DueLoop, action_timers, correlation_timers, legacy_timer
from stormwatch.metrics import Metrics
from tests.unit.test_keyspace import hash_tag, keyslot

KEYS = Keyspace("stormwatch")
GID = "0a1b2c3d4e5f"


class Nothing:
    async def fire(self, due: Sequence[Due], now: float) -> list[Due]:
        return []


def test_the_index_is_one_sorted_set_per_kind_in_each_of_16_shards_each_its_own_slot() -> None:
    assert KEYS.due("expire", 3) == "stormwatch:due:{t3}:expire"
    slots = {n: {keyslot(KEYS.due(kind, n)) for kind in (*TIMER_KINDS, *ACTION_KINDS)} for n in range(SHARDS)}
    assert all(len(s) == 1 for s in slots.values())  # a shard's kinds share its slot: one claim call per shard
    assert len({s.pop() for s in slots.values()}) == SHARDS  # the shards spread over a Cluster


def test_an_old_timer_shard_shares_the_slot_of_the_new_shard_it_moves_into() -> None:
    for n, old in enumerate(KEYS.legacy_timer_shards):
        assert old == f"stormwatch:timers:{{t{n}}}"
        assert hash_tag(old) == hash_tag(KEYS.due("resolve", n)) == f"t{n}"
    assert KEYS.legacy_action_due == "stormwatch:act:due"


def test_a_group_s_timers_share_one_shard_as_in_the_previous_layout() -> None:
    assert KEYS.timer_shard(GID) == 0x0A % SHARDS == 10
    assert KEYS.timer_shard("ff0000000000") == 15


def test_the_default_shard_is_a_stable_hash_of_the_key() -> None:
    index = DueIndex(Redis(), KEYS)  # a client object: nothing connects
    assert index.shard_of("r-1") == index.shard_of("r-1")
    assert {index.shard_of(f"run-{i}") for i in range(500)} == set(range(SHARDS))  # spread over every shard


def test_every_timer_the_engine_writes_is_of_a_registered_kind() -> None:
    members = [hold_timer(GID, "fp"), quiet_timer(GID, "fp"), expiry_timer(GID, "fp"), f"INC-{GID}-4",
               merge_timer(f"INC-{GID}-4")]
    assert [parse_timer(m)[0] for m in members] == ["hold", "quiet", "expire", "resolve", "merge"]
    assert set(TIMER_KINDS) == {"resolve", "hold", "quiet", "expire", "merge"}
    assert {parse_timer(m)[1] for m in members} == {GID}  # each one in its group's shard
    assert not set(TIMER_KINDS) & set(ACTION_KINDS)  # one index: kinds never collide


def test_kinds_are_registered_once_under_a_plain_name() -> None:
    timers = DueTimers(DueIndex(Redis(), KEYS))  # a client object: nothing connects
    timers.register("sla_warning", Nothing())
    with pytest.raises(ValueError, match="already has a handler"):
        timers.register("sla_warning", Nothing())
    for bad in ("", "Upper", "with:colon", "{t1}", "x" * 33, "1st"):
        with pytest.raises(ValueError, match="a timer kind is"):
            timers.register(bad, Nothing())
    with pytest.raises(ValueError, match="reserved"):  # the shard's claims hash sits beside the kinds' sets
        timers.register("claims", Nothing())


def test_a_shard_s_claims_hash_shares_its_slot_and_names_a_timer_by_kind_and_key() -> None:
    for n in range(SHARDS):
        assert KEYS.due_claims(n) == f"stormwatch:due:{{t{n}}}:claims"
        assert hash_tag(KEYS.due_claims(n)) == hash_tag(KEYS.due("merge", n)) == f"t{n}"
    first = Due("merge", merge_timer(f"INC-{GID}-4"), 10, "160.5", "160.5")
    again = Due("merge", merge_timer(f"INC-{GID}-4"), 10, "221.5", "160.5")  # claimed after the first lease ran out
    assert first.field == again.field == f"merge:m|{GID}|INC-{GID}-4"
    assert not first.retried and again.retried


@pytest.mark.parametrize(("member", "expected"), [
    ("INC-0a1b2c3d4e5f-12", ("resolve", "INC-0a1b2c3d4e5f-12")),
    ("h|0a1b2c3d4e5f|abc", ("hold", "h|0a1b2c3d4e5f|abc")),
    ("q|0a1b2c3d4e5f|abc", ("quiet", "q|0a1b2c3d4e5f|abc")),
    ("x|0a1b2c3d4e5f|abc", ("expire", "x|0a1b2c3d4e5f|abc")),
    ("m|0a1b2c3d4e5f|INC-0a1b2c3d4e5f-3", ("merge", "m|0a1b2c3d4e5f|INC-0a1b2c3d4e5f-3")),
    ("nonsense", None),
    ("INC-zz-1", None),
])
def test_a_member_of_an_old_timer_shard_keeps_its_name_under_its_kind(member: str, expected: object) -> None:
    assert legacy_timer(member) == expected


@pytest.mark.parametrize(("member", "expected"), [
    ("ready:r-1", ("approved", "r-1")),
    ("expire:r-2", ("approval_expiry", "r-2")),
    ("verify:r-3", ("verify", "r-3")),
    ("verify:", None),
    ("later:r-4", None),
    ("r-5", None),
])
def test_a_member_of_the_old_action_due_set_becomes_a_run_id_under_its_kind(member: str, expected: object) -> None:
    assert legacy_action(member) == expected


def test_an_old_set_in_another_slot_is_moved_only_under_a_lock() -> None:
    with pytest.raises(ValueError, match="needs a lock key"):
        Legacy(KEYS.legacy_action_due, legacy_action)
    assert Legacy(KEYS.legacy_timer_shards[0], legacy_timer, shard=0).lock == ""  # same slot: one script, no lock


def test_an_old_shard_s_claims_move_only_within_its_slot() -> None:
    old = KEYS.legacy_timer_shards[3]
    assert KEYS.legacy_timer_claims(old) == "stormwatch:timers:{t3}:claims"
    assert hash_tag(KEYS.legacy_timer_claims(old)) == hash_tag(KEYS.due_claims(3))
    with pytest.raises(ValueError, match="only within its slot"):
        Legacy(KEYS.legacy_action_due, legacy_action, lock=KEYS.due_upgrade_lock, claims="stormwatch:act:claims")


def test_a_loop_exports_a_fired_count_of_every_kind_it_handles_from_the_start() -> None:
    """A series that first appears when a timer fires makes /metrics grow on the worker's own timing (and rate()
    over it sees nothing rather than 0): every kind the loop handles has its series at 0 before any poll."""
    metrics = Metrics.create(CollectorRegistry())
    index = DueIndex(Redis(), KEYS)  # a client object: nothing connects
    DueLoop("correlation", correlation_timers(index, Nothing(), KEYS, sla=Nothing(), escalate=Nothing()),
            clock=lambda: 0.0, poll_seconds=1.0, metrics=metrics)
    DueLoop("actions", action_timers(index, Nothing(), KEYS), clock=lambda: 0.0, poll_seconds=1.0, metrics=metrics)
    for kind in (*TIMER_KINDS, "sla", "escalate", *ACTION_KINDS):
        assert metrics.registry.get_sample_value("stormwatch_due_fired_total", {"kind": kind}) == 0, kind
