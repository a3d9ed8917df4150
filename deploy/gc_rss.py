"""Full collections and worker RSS over a long run: how a GC setting behaves in steady state (issue 20).

    STORMWATCH_HISTORY_ENABLED=false STORMWATCH_RULES=examples STORMWATCH_LOG_LEVEL=warning \\
        [STORMWATCH_GC_THRESHOLD=10000,10,100] .venv/bin/python deploy/gc_rss.py ALERTS CHUNK DISTINCT

A worker in this process, tuned as ``stormwatch serve`` tunes it (``tune_gc`` after the start), drains ALERTS alerts
in 50-alert messages, CHUNK alerts at a time (each chunk published, then drained, so the broker never holds the whole
run), their label sets cycling over DISTINCT (more than the memos hold, so they keep turning over). Prints VmRSS after
each tenth of the run, and every full (generation 2) collection: its pause, the objects of each generation when it
started, and how many it collected.
"""

import asyncio
import gc
import os
import sys
import time
import uuid

import orjson
import uvloop
from rich.progress import Progress

from stormwatch.app import Worker
from stormwatch.config import load_settings
from stormwatch.logging import configure_logging
from stormwatch.namespace import delete_namespace
from stormwatch.runtime import tune_gc
from stormwatch.tools.bench import _fill
from stormwatch.tools.bench_workers import rss_mib



def bodies(start: int, count: int, distinct: int, starts: str) -> list[bytes]:
    out, batch = [], []
    for i in range(start, start + count):
        n = i % distinct
        g = (n // 10) % 500
        batch.append({"labels": {"alertname": f"Alert{g % 50}", "service": f"svc-{g // 50}",
                                 "instance": f"10.{n // 62500}.{n // 250 % 250}.{n % 250}:9100", "job": "node",
                                 "severity": "critical" if n % 7 == 0 else "warning", "cluster": "prod-eu-1"},
                      "annotations": {"summary": f"firing on instance {n}", "runbook_url": "https://runbooks/x"},
                      "startsAt": starts, "generatorURL": "http://prometheus:9090/graph?g0.expr=up"})
        if len(batch) == 50:
            out.append(orjson.dumps(batch))
            batch = []
    return out


full: list[tuple[float, tuple[int, ...], int]] = []  # (pause s, objects per generation at its start, collected)
_started = [0.0, ()]


def on_gc(phase: str, info: dict[str, int]) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        sizes = tuple(len(gc.get_objects(g)) for g in range(3))  # counted before the clock starts
        _started[:] = [time.perf_counter(), sizes]
    else:
        full.append((time.perf_counter() - _started[0], _started[1], info["collected"]))


async def main(alerts: int, chunk: int, distinct: int) -> None:
    settings = load_settings().model_copy(update={"namespace": f"gcrss-{uuid.uuid4().hex[:8]}",
                                                  "metrics_enabled": False, "actions_enabled": False,
                                                  "history_enabled": False})
    configure_logging(settings.log_format, settings.log_level)  # STORMWATCH_LOG_LEVEL as `serve` honours it
    starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    state = {"acked": 0, "want": 0}
    drained = asyncio.Event()

    def on_batch(messages: int, _alerts: int, _latencies: object) -> None:
        state["acked"] += messages
        if state["acked"] >= state["want"]:
            drained.set()

    worker = Worker(settings, on_batch=on_batch)
    await worker.start()
    tune_gc(settings)  # as serve: after the start
    gc.callbacks.insert(0, on_gc)
    marks, t0 = [], time.perf_counter()
    try:
        with Progress(disable=True) as progress:
            chunks = range(0, alerts, chunk)
            for k, start in enumerate(chunks):
                chunk_bodies = bodies(start, chunk, distinct, starts)
                state["want"] += len(chunk_bodies)
                drained.clear()
                await _fill(worker.topology.alerts, "bench", chunk_bodies, progress, progress.add_task("fill"))
                del chunk_bodies
                await drained.wait()
                if (k + 1) % max(1, len(chunks) // 10) == 0:
                    marks.append(f"{start + chunk:,}:{rss_mib(os.getpid()):.0f}")
    finally:
        gc.callbacks.remove(on_gc)
        await worker.stop()
        await delete_namespace(settings)
    print(f"{alerts:,} alerts in {time.perf_counter() - t0:.0f} s, GC thresholds {gc.get_threshold()}; "
          f"RSS MiB after N alerts: " + " ".join(marks))
    print(f"full collections: {len(full)}; pause ms: {[round(p * 1000) for p, _, _ in full]}; objects per "
          f"generation at their start: {[s for _, s, _ in full]}; collected: {[c for _, _, c in full]}")


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
