"""``stormwatch bench --workers 1,2``: N worker processes share one queue; throughput, memory, RSS side by side.

For each worker count, in a fresh namespace: the alerts queue is filled with the same messages, then N
``stormwatch serve`` processes start and drain it with no coordination beyond RabbitMQ and Redis. Each worker's
``/metrics`` is scraped every 50 ms; throughput is the steady-state rate between 10% and 90% of the alerts stored
(so process start-up, which differs between 1 and 2 processes, is not counted). Also reported:

* Redis memory per active alert: ``MEMORY USAGE`` summed over every key of the namespace, divided by the
  distinct fingerprints (the alerts a storm keeps active);
* worker RSS (``/proc/<pid>/status`` VmRSS) at 10%, 50% and 100% of the stream: flat means no growth with the
  number of alerts processed (run with ``--alerts 1000000`` for the issue's figure);
* latency: after the drain, a child process publishes some of the same messages at half the measured rate for
  about 10 s; p50 and p99 from publish to state written and acked are read from the workers'
  ``stormwatch_processing_latency_seconds`` histograms (merged), as the upper bound of the bucket they fall in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import aio_pika
import orjson
from rich.console import Console
from rich.table import Table

from ingest.topology import Names, declare
from stormwatch.tools.bench import make_bodies
from stormwatch.config import Settings
from stormwatch.namespace import delete_namespace
from stormwatch.publisher import publish_many
from stormwatch.redis_client import redis_client


@dataclass
class WorkersResult:
    workers: int
    alerts: int
    alerts_per_s: float
    seconds: float
    redis_bytes_per_alert: float
    rss_mib: list[float] = field(default_factory=list)  # per worker: at 10%, 50%, 100%
    latency_msgs_per_s: float = 0.0  # the paced phase's rate
    latency_p50_ms_at_most: float = float("nan")  # bucket upper bounds (stormwatch.metrics.LATENCY_BUCKETS)
    latency_p99_ms_at_most: float = float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _scrape(port: int) -> str:
    """A worker's /metrics text ("" when it does not answer in time)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout=2)
    except (TimeoutError, OSError):
        return ""
    try:
        writer.write(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.read(), timeout=5)).decode(errors="replace")
    except (TimeoutError, OSError):
        return ""  # a worker busy with a long batch answers late: no sample this round (it is not a failure)
    finally:
        writer.close()


async def _stored(port: int) -> float:
    for line in (await _scrape(port)).splitlines():
        if line.startswith("stormwatch_batch_alerts_sum "):
            return float(line.split()[1])
    return 0.0


_BUCKET = 'stormwatch_processing_latency_seconds_bucket{le="'


def latency_buckets(text: str) -> dict[str, float]:
    """Cumulative counts of the processing-latency histogram by bucket bound (``le``)."""
    out = {}
    for line in text.splitlines():
        if line.startswith(_BUCKET):
            le, _, value = line[len(_BUCKET):].partition('"} ')
            out[le] = float(value)
    return out


def quantile_at_most(before: dict[str, float], after: dict[str, float], q: float) -> float:
    """The smallest bucket bound (seconds) holding at least ``q`` of the observations made between two scrapes."""
    bounds = sorted((float(le), after[le] - before.get(le, 0.0)) for le in after)
    total = bounds[-1][1] if bounds else 0.0
    for bound, count in bounds:
        if total and count >= q * total:
            return bound
    return float("nan")


async def _merged_buckets(ports: list[int]) -> dict[str, float]:
    merged: dict[str, float] = {}
    for text in await asyncio.gather(*(_scrape(p) for p in ports)):
        for le, count in latency_buckets(text).items():
            merged[le] = merged.get(le, 0.0) + count
    return merged


def rss_mib(pid: int) -> float:
    """A process's resident set in MiB (``/proc/<pid>/status`` VmRSS); NaN when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def _redis_bytes(settings: Settings) -> int:
    redis = redis_client(settings)
    total = 0
    try:
        batch: list[Any] = []
        async for key in redis.scan_iter(match=f"{settings.namespace}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                total += await _usage(redis, batch)
                batch = []
        if batch:
            total += await _usage(redis, batch)
    finally:
        await redis.aclose()
    return total


async def _usage(redis: Any, keys: list[Any]) -> int:
    pipe = redis.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key)
    return sum(v or 0 for v in await pipe.execute())


async def fill_queue(settings: Settings, bodies: list[bytes]) -> None:
    """The namespace's topology declared and its alerts queue filled with ``bodies`` (broker-confirmed)."""
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = await declare(channel, Names(settings.namespace), delivery_limit=settings.delivery_limit)
        for start in range(0, len(bodies), 1000):
            await publish_many(topology.alerts, bodies[start:start + 1000], routing_key="bench")
    finally:
        await connection.close()


def steady_rate(samples: list[tuple[float, float]], alerts: int) -> float:
    """Alerts per second between 10% and 90% of ``alerts`` stored (start-up and the tail not counted). A drain faster
    than the sampling (one sample already past 90%, a small run on a quiet machine) is measured instead from the
    last sample below 10% to the first at 90% or more, with the counts those two samples saw."""
    t10 = next(t for t, n in samples if n >= 0.1 * alerts)
    t90, n90 = next((t, n) for t, n in samples if n >= 0.9 * alerts)
    if t90 > t10:
        return 0.8 * alerts / (t90 - t10)
    below = [(t, n) for t, n in samples if n < 0.1 * alerts]
    if not below:
        return float("nan")  # stored before the first sample: nothing to measure
    t0, n0 = below[-1]
    return (n90 - n0) / (t90 - t0)


async def _one(settings: Settings, bodies: list[bytes], alerts: int, distinct: int, workers: int,
               console: Console) -> WorkersResult:
    await fill_queue(settings, bodies)
    ports = [_free_port() for _ in range(workers)]
    procs = []
    for port in ports:
        env = os.environ | {
            "STORMWATCH_NAMESPACE": settings.namespace, "STORMWATCH_AMQP_URL": settings.amqp_url,
            "STORMWATCH_REDIS_URL": settings.redis_url, "STORMWATCH_REDIS_CLUSTER": str(settings.redis_cluster),
            "STORMWATCH_METRICS_PORT": str(port), "STORMWATCH_RULES": settings.rules,
            "STORMWATCH_LOG_LEVEL": "warning", "STORMWATCH_HISTORY_ENABLED": "false", "STORMWATCH_LOG_FORMAT": "json",
        }
        procs.append(await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from stormwatch.cli import main; main()", "serve", env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
    samples: list[tuple[float, float]] = []
    rss: list[list[float]] = [[] for _ in procs]
    marks = [0.1, 0.5, 1.0]
    try:
        deadline = time.perf_counter() + 1800
        while time.perf_counter() < deadline:
            stored = sum(await asyncio.gather(*(_stored(p) for p in ports)))
            samples.append((time.perf_counter(), stored))
            while marks and stored >= marks[0] * alerts:
                marks.pop(0)
                for i, proc in enumerate(procs):
                    rss[i].append(rss_mib(proc.pid))
            if stored >= alerts:
                break
            if any(p.returncode is not None for p in procs):
                raise RuntimeError("a worker exited during the benchmark")
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the workers did not drain the queue within 30 minutes")
        memory = await _redis_bytes(settings)  # before the latency phase adds its idempotency markers
        rate = steady_rate(samples, alerts)
        pace, p50, p99 = await _latency_phase(settings, bodies, alerts, rate, ports, console)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), timeout=30)
            except TimeoutError:
                proc.kill()
    return WorkersResult(workers, alerts, rate, samples[-1][0] - samples[0][0], memory / max(1, distinct),
                         [round(v, 1) for r in rss for v in r], round(pace, 1), p50 * 1000, p99 * 1000)


async def _latency_phase(settings: Settings, bodies: list[bytes], alerts: int, rate: float, ports: list[int],
                         console: Console) -> tuple[float, float, float]:
    """Publish some of the same messages at half the drained rate for ~10 s from a child process; (msg/s, p50, p99)."""
    import multiprocessing

    from stormwatch.tools.bench import _paced_publisher

    per_message = max(1, round(alerts / len(bodies)))
    pace = max(1.0, 0.5 * rate / per_message) if rate == rate else 10.0
    paced = bodies[:max(20, min(len(bodies), int(pace * 10)))]
    sent = sum(len(orjson.loads(b)) for b in paced)
    before = await _merged_buckets(ports)
    publisher = multiprocessing.get_context("spawn").Process(
        target=_paced_publisher, args=(settings.amqp_url, Names(settings.namespace).alerts_exchange, paced, pace),
        daemon=True)
    publisher.start()
    deadline = time.perf_counter() + 120 + len(paced) / pace
    while time.perf_counter() < deadline:
        if sum(await asyncio.gather(*(_stored(p) for p in ports))) >= alerts + sent:
            break
        await asyncio.sleep(0.1)
    else:
        console.print("latency phase: the workers did not store the paced messages in time")
    await asyncio.get_running_loop().run_in_executor(None, publisher.join, 30)
    after = await _merged_buckets(ports)
    return pace, quantile_at_most(before, after, 0.5), quantile_at_most(before, after, 0.99)


async def run_workers_bench(settings: Settings, console: Console, *, alerts: int, size: int, groups: int,
                            worker_counts: list[int], as_json: bool = False) -> list[WorkersResult]:
    distinct = max(groups, alerts // 4)
    bodies = make_bodies(alerts, size, groups, distinct=distinct)
    distinct = min(distinct, alerts)
    results = []
    for n in worker_counts:
        if not as_json:
            console.print(f"[bold]{n} worker process(es)[/bold]: {len(bodies):,} messages of {size} alert(s), "
                          f"{distinct:,} distinct alerts")
        ns = settings.model_copy(update={"namespace": f"bench-{uuid.uuid4().hex[:8]}"})
        try:
            results.append(await _one(ns, bodies, alerts, distinct, n, console))
        finally:
            await delete_namespace(ns)
    if as_json:
        console.print_json(orjson.dumps([asdict(r) for r in results]).decode())
        return results
    table = Table(title=f"stormwatch bench --workers (this machine: {os.cpu_count()} cores)")
    for col in ("workers", "alerts/s (10%-90%)", "vs first", "drain s", "latency p50 / p99 ms (at most)",
                "at msg/s", "Redis bytes per active alert", "worker RSS MiB at 10% / 50% / 100%"):
        table.add_column(col, justify="right")
    for r in results:
        rss = " | ".join(" / ".join(f"{v:.0f}" for v in r.rss_mib[i:i + 3]) for i in range(0, len(r.rss_mib), 3))
        table.add_row(str(r.workers), f"{r.alerts_per_s:,.0f}", f"{r.alerts_per_s / results[0].alerts_per_s:.2f}x",
                      f"{r.seconds:.1f}", f"{r.latency_p50_ms_at_most:g} / {r.latency_p99_ms_at_most:g}",
                      f"{r.latency_msgs_per_s:,.0f}", f"{r.redis_bytes_per_alert:,.0f}", rss)
    console.print(table)
    return results
