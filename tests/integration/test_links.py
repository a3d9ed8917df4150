"""Links (symptoms, causes, problems) against the real Redis: the edge cases the pipeline tests do not reach."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from correlation.core.model import incident_id
from correlation.store.keyspace import Keyspace
from correlation.store.links import Links
from correlation.core.routing import Router
from correlation.store.store import FollowUps
from rules.schema import RuleSet

T0 = 1_800_000_000.0


@pytest.fixture
async def links(clean) -> AsyncIterator[Links]:
    redis = aioredis.from_url(clean.redis_url)
    try:
        yield Links(redis, Keyspace(clean.namespace), timeline_max=100)
    finally:
        await redis.aclose()


async def test_symptom_of_an_incident_that_is_gone_is_dropped_under_shared_cause_rules(links):
    """add_symptom.lua answers only {0, ''} when the cause incident no longer exists: with shared-root-cause
    rules configured, that answer carries no service sets, and the symptom is dropped without an error."""
    rule_set = RuleSet.model_validate({"problems": [{"name": "root", "shared_root_cause": True}]})
    router = Router(rule_set, ("alertname", "service"))
    assert router.shared_cause
    gone = incident_id("0123abcd", 1)  # never written
    symptom = {"incident": gone, "group": "4567ef01", "fingerprint": "f" * 16,
               "labels": {"alertname": "HighLatency", "service": "checkout"}, "kind": "topology", "rule": "r",
               "path": ["checkout", "orders-db"], "at": T0}
    events = await links.apply([FollowUps([], [], [], symptoms=[symptom])], router, T0)
    assert events == []
    assert await links.redis.exists(links.keys.incident_symptoms(gone)) == 0


async def _merge_timers(links: Links) -> set[str]:
    found: set[str] = set()
    for shard in _merge_sets(links):
        found |= {m.decode() for m in await links.redis.zrange(shard, 0, -1)}
    return found


def _merge_sets(links: Links) -> list[str]:
    """The merge timers' sorted sets of the due index, one per shard."""
    return [links.keys.due("merge", n) for n in range(links.keys.due_shards)]


async def test_a_late_source_and_its_candidate_find_each_other_in_either_order(links):
    """A source and a candidate under one cause key, written by two workers at about the same time: each side writes
    its index, then reads the other's, so whichever comes second arms the merge timer of the candidate's incident."""
    router = Router(None, ("alertname", "service"))
    symptom, cause = incident_id("0000000000aa", 1), incident_id("0000000000bb", 1)
    candidate = FollowUps([], [], [], candidates=[("svc:db", "f" * 16, 1, symptom)])
    source = FollowUps([], [], [], sources=[("svc:db", "e" * 16, 1, cause)])
    assert await links.late_causes([candidate], T0) == set()  # nothing fires there yet
    await links.apply([candidate], router, T0)
    assert await _merge_timers(links) == set()
    await links.apply([source], router, T0)  # the source second: it reads the candidate
    assert await _merge_timers(links) == {f"m|0000000000aa|{symptom}"}

    await links.redis.delete(*_merge_sets(links), links.keys.cause("svc:db"),
                             links.keys.symptom_candidates("svc:db"))
    await links.apply([source], router, T0)
    assert await _merge_timers(links) == set()
    await links.apply([candidate], router, T0)  # the candidate second: it reads the source
    assert await _merge_timers(links) == {f"m|0000000000aa|{symptom}"}

    # a source that stops arms nothing; a candidate that leaves its incident is dropped from the index
    await links.redis.delete(*_merge_sets(links))
    await links.apply([FollowUps([], [], [], sources=[("svc:db", "e" * 16, 2, f"{cause}|{T0!r}")]),
                       FollowUps([], [], [], candidates=[("svc:db", "f" * 16, 2, "")])], router, T0)
    assert await _merge_timers(links) == set()
    assert (await links.redis.hget(links.keys.symptom_candidates("svc:db"), "f" * 16)) == b"2|"
