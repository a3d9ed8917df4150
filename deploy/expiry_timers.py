"""What resolve_timeout costs: a drain with expiry armed against one without, then the timer passes.

    .venv/bin/python deploy/expiry_timers.py ALERTS [WORKERS]

ALERTS distinct Prometheus-shaped alerts (50 per message) are drained twice by WORKERS workers (default 1) sharing
an injected clock: once under a rule without resolve_timeout, once under the same rule with ``resolve_timeout: 5m``
(each alert arms one expiry timer). Then, on the second namespace, the clock moves past the timeout twice: first
with every alert notified again meanwhile (each timer falls due and is armed again), then with none notified (each
alert expires and every incident resolves). Prints alerts/s for each drain and timers/s for each pass.
"""
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import uvloop
from rich.progress import Progress
from correlation.core.decision import TIMER_KINDS
from stormwatch.tools.bench import make_bodies, _fill
from stormwatch.app import Worker
from stormwatch.config import load_settings
from stormwatch.logging import configure_logging
from stormwatch.namespace import delete_namespace
from stormwatch.publisher import publish_many
from stormwatch.runtime import tune_gc

RULE = "groups:\n  - name: all\n    group_by: [alertname, service]\n{extra}"


ACKED = [0]  # messages acked by the workers of the current drain


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def drain(bodies, workers_n, rules_dir, clock):
    s = load_settings().model_copy(update={"namespace": f"xp-{uuid.uuid4().hex[:8]}", "metrics_enabled": False,
                                           "rules": str(rules_dir), "actions_enabled": False})
    configure_logging(s.log_format, s.log_level)  # STORMWATCH_LOG_LEVEL as `serve` honours it
    done = asyncio.Event()

    def on_batch(m, _alerts, _latency):
        ACKED[0] += m
        if ACKED[0] >= len(bodies):
            done.set()
    ACKED[0] = 0
    workers = [Worker(s, clock=clock, on_batch=on_batch) for _ in range(workers_n)]
    for w in workers:
        await w.connect()
    with Progress(disable=True) as p:
        await _fill(workers[0].topology.alerts, "bench", bodies, p, p.add_task("x"))
    tune_gc(s)
    t0 = time.perf_counter()
    for w in workers:
        await w.start()
    await done.wait()
    return s, workers, time.perf_counter() - t0


async def due_below(store, bound):
    return await store.due.count(TIMER_KINDS, bound)


async def timers_pass(store, clock, advance, remaining_below):
    """Move the clock and wait until no timer is left due (``remaining_below`` the new clock minus one)."""
    start_due = await due_below(store, clock.now + advance)
    clock.now += advance
    t0 = time.perf_counter()
    while await due_below(store, remaining_below(clock.now)):  # noqa: ASYNC110 - polls Redis, no event to wait on
        await asyncio.sleep(0.05)
    return start_due, time.perf_counter() - t0


async def main(alerts, workers_n):
    bodies = make_bodies(alerts, 50, 500, distinct=alerts)
    with tempfile.TemporaryDirectory() as tmp:
        plain, expiring = Path(tmp, "plain"), Path(tmp, "expiring")
        plain.mkdir()  # noqa: ASYNC240 - a benchmark's set-up, before anything runs
        expiring.mkdir()  # noqa: ASYNC240
        (plain / "r.yaml").write_text(RULE.format(extra=""))
        (expiring / "r.yaml").write_text(RULE.format(extra="    resolve_timeout: 5m\n"))
        s, workers, took = await drain(bodies, workers_n, plain, Clock())
        for w in workers:
            await w.stop()
        await delete_namespace(s)
        print(f"drain without resolve_timeout: {alerts / took:,.0f} alerts/s")
        clock = Clock()
        s, workers, took = await drain(bodies, workers_n, expiring, clock)
        print(f"drain with resolve_timeout:    {alerts / took:,.0f} alerts/s")
        store = workers[0].store
        try:
            clock.now += 200
            await publish_many(workers[0].topology.alerts, bodies, routing_key="bench")  # every alert again
            while ACKED[0] < 2 * len(bodies):  # noqa: ASYNC110 - a benchmark script's wait
                await asyncio.sleep(0.05)
            n, took = await timers_pass(store, clock, 101, lambda now: now + 99)  # re-armed for +500
            print(f"timers armed again: {n:,} in {took:.2f}s = {n / took:,.0f} timers/s")
            n, took = await timers_pass(store, clock, 200, lambda now: float("inf"))  # all expire
            open_left = await store.count_incidents(open_only=True)
            print(f"alerts expired: {n:,} in {took:.2f}s = {n / took:,.0f} timers/s; open incidents left {open_left}")
        finally:
            for w in workers:
                await w.stop()
            await delete_namespace(s)


uvloop.run(main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1))
