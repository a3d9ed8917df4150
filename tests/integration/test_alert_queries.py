"""correlation.store.alert_queries on the real Redis: every firing alert of the namespace and none other (resolved states,
other namespaces, a namespace name with glob characters), whichever layout a state was stored in."""

from __future__ import annotations

import uuid

import orjson
from redis.asyncio import Redis

from correlation.store.alert_queries import AlertQueries
from correlation.store.keyspace import Keyspace
from correlation.core.model import AlertState


def _state(fp: str, status: str, **labels: str) -> AlertState:
    return AlertState(fp, labels, {}, status, 1.0, None, 1.0, 2.0, 1, "", "generic")


async def test_firing_alerts_and_only_them(settings):
    redis = Redis.from_url(settings.redis_url)
    base = f"t-aq-{uuid.uuid4().hex[:8]}"
    keys, other = Keyspace(base + "*[x]"), Keyspace(base + "-other")  # glob characters are matched literally
    try:
        await redis.set(keys.alert("000000000001", "a"), _state("a", "firing", alertname="A").to_json())
        # a resolved state whose labels, annotations and muting say "firing" is still resolved
        tricky = AlertState("b", {"x": "firing"}, {"y": ',"firing",'}, "resolved", 1.0, None, 1.0, 1.0, 1, "", "s",
                            "", "firing")
        await redis.set(keys.alert("000000000001", "b"), tricky.to_json())
        # the object layout of earlier versions is still read
        await redis.set(keys.alert("000000000002", "c"), orjson.dumps(
            {"fp": "c", "l": {"alertname": "C"}, "an": {}, "s": "firing", "sa": 1.0, "ea": None, "fs": 1.0,
             "ls": 1.0, "n": 1, "i": "", "src": "generic"}))
        await redis.set(keys.alert("000000000002", "d"), _state("d", "resolved").to_json())
        await redis.set(other.alert("000000000001", "e"), _state("e", "firing").to_json())
        await redis.set(f"{keys.namespace}:incidents", b"not an alert")
        found = await AlertQueries(redis, keys).firing()
        assert [(a.fingerprint, a.labels) for a in found] == [("a", {"alertname": "A"}), ("c", {"alertname": "C"})]
        assert await AlertQueries(redis, other).firing() == [_state("e", "firing")]
        assert await AlertQueries(redis, keys).incidents({"", "INC-000000000001-1"}) == {}
    finally:
        for ns in (keys.namespace, other.namespace):
            pattern = "".join("\\" + c if c in "*?[]\\" else c for c in ns) + ":*"
            found_keys = [k async for k in redis.scan_iter(match=pattern)]
            if found_keys:
                await redis.delete(*found_keys)
        await redis.aclose()
