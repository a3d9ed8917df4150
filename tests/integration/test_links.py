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
