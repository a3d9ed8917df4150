"""What one ``GET /api/v2/alerts`` costs the API process: reading every firing alert of a namespace
(``correlation.store.alert_queries``, SCAN + MGET) and shaping them as Alertmanager's JSON, with resolved states
beside them.

    .venv/bin/python deploy/am_alerts_read.py FIRING RESOLVED

Writes FIRING firing and RESOLVED resolved alert states (over 1,000 groups) into a fresh namespace on
STORMWATCH_REDIS_URL (default redis://127.0.0.1:6379/0), reads them twice (the second read is reported), deletes
them. The garbage collector is tuned as ``stormwatch serve`` tunes it. Wall-clock on a shared machine: compare runs.
"""
import asyncio
import gc
import os
import sys
import time
import uuid

import orjson
from redis.asyncio import Redis

from correlation.store.alert_queries import AlertQueries
from correlation.store.keyspace import Keyspace
from correlation.core.model import AlertState
from rules.fingerprint import fingerprint
from stormwatch.api.alertmanager.alerts import am_alert

GROUPS = 1000


async def main(firing: int, resolved: int) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    redis = Redis.from_url(os.environ.get("STORMWATCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    keys = Keyspace("bench-am-" + uuid.uuid4().hex[:8])
    try:
        pipe = redis.pipeline(transaction=False)
        for i in range(firing + resolved):
            labels = {"alertname": f"A{i % 50}", "service": f"svc-{i % GROUPS}", "instance": f"host-{i}",
                      "severity": "critical"}
            fp = fingerprint(labels)
            state = AlertState(fp, labels, {"summary": "s" * 40}, "firing" if i < firing else "resolved", 1.78e9,
                               None, 1.78e9, 1.78e9, 1, "", "alertmanager_v2", "http://prometheus:9090/graph")
            pipe.set(keys.alert(f"{i % GROUPS:012x}", fp), state.to_json())
            if len(pipe) >= 5000:
                await pipe.execute()
                pipe = redis.pipeline(transaction=False)
        await pipe.execute()
        queries = AlertQueries(redis, keys)
        for _ in range(2):
            started = time.perf_counter()
            alerts = await queries.firing()
            read = time.perf_counter()
            body = orjson.dumps([am_alert(a, ["team"]) for a in alerts])
            shaped = time.perf_counter()
        print(f"firing={firing} resolved={resolved}: read {1000 * (read - started):.0f} ms, shape+JSON "
              f"{1000 * (shaped - read):.0f} ms, body {len(body) / 1e6:.1f} MB, {len(alerts)} alerts")
    finally:
        found = [k async for k in redis.scan_iter(match=f"{keys.namespace}:*", count=5000)]
        for n in range(0, len(found), 5000):
            await redis.unlink(*found[n:n + 5000])
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
