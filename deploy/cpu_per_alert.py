"""CPU time per alert of one worker draining a filled queue, in this process (for A/B comparisons of hot-path changes).

    .venv/bin/python deploy/cpu_per_alert.py ALERTS ALERTS_PER_MESSAGE DISTINCT [RULES_DIR|examples|none]

Wall-clock throughput on a shared 2-core machine moves with everything else running; ``time.process_time()`` of the
worker's own process moves much less. Run two checkouts alternately and compare. The garbage collector is tuned
as ``stormwatch serve`` tunes it (``STORMWATCH_GC_THRESHOLD``; set it empty for Python's defaults).

When the RabbitMQ (``beam.smp``) and Redis (``redis-server``) processes are visible in /proc (a local install), their
CPU time over the same drain is printed per alert too: on a shared machine it includes whatever else uses them.
"""
import asyncio
import os
import sys
import time
import uuid

import uvloop
from rich.progress import Progress
from stormwatch.tools.bench import make_bodies, _fill
from stormwatch.app import Worker
from stormwatch.config import load_settings
from stormwatch.logging import configure_logging
from stormwatch.namespace import delete_namespace
from stormwatch.runtime import tune_gc

def _service_cpu() -> dict[str, float]:
    """CPU seconds (user + system) so far of the local broker and Redis, by name; empty where /proc has none."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/comm") as f:
                name = {"beam.smp": "rabbitmq", "redis-server": "redis"}.get(f.read().strip())
        except OSError:
            continue
        if name:
            out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


async def main(alerts, batch, distinct, rules):
    bodies = make_bodies(alerts, batch, 500, distinct=distinct)
    s = load_settings().model_copy(update={"namespace": f"ab-{uuid.uuid4().hex[:8]}", "metrics_enabled": False,
                                           "rules": rules, "actions_enabled": False,
                                           "history_enabled": False})
    configure_logging(s.log_format, s.log_level)  # STORMWATCH_LOG_LEVEL as `serve` honours it
    done = asyncio.Event()
    acked = 0

    def on_batch(m, _alerts, _latency):
        nonlocal acked
        acked += m
        if acked >= len(bodies):
            done.set()
    w = Worker(s, on_batch=on_batch)
    await w.connect()
    try:
        with Progress(disable=True) as p:
            await _fill(w.topology.alerts, "bench", bodies, p, p.add_task("x"))
        c0, t0, s0 = time.process_time(), time.perf_counter(), _service_cpu()
        tune_gc(s)  # as `stormwatch serve` does once started
        await w.start()
        await done.wait()
        c1, t1, s1 = time.process_time(), time.perf_counter(), _service_cpu()
    finally:
        await w.stop()
        await delete_namespace(s)
    services = "".join(f"  {name} {(s1[name] - s0[name]) / alerts * 1e6:.1f}" for name in sorted(s1) if name in s0)
    print(f"cpu {((c1-c0)/alerts)*1e6:.1f} us/alert  wall {alerts/(t1-t0):,.0f} alerts/s"
          + (f"  services us/alert:{services}" if services else ""))

uvloop.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "examples"))
