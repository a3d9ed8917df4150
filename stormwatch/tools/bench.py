"""``stormwatch bench``: end-to-end throughput and latency beside the bare broker ceiling, in one run.

For each message size (alerts per message):

* **bare ceiling**: a quorum queue like Stormwatch's is filled with the same messages, then drained by a
  plain aio-pika consumer that acks each message and does nothing else (same prefetch);
* **stormwatch**: the alerts queue is filled with the same messages, then a worker (in this process,
  one event loop) drains it: normalise, correlate, write Redis, publish events, ack. The clock stops
  when the last message is acked, i.e. when every alert's state is written;
* **latency**: messages published at a steady rate (a quarter of the measured throughput, or ``--rate``) by a
  separate process while the worker runs, for about five seconds; latency is publish -> state written and acked,
  per message.

With ``--rounds N`` the bare ceiling and the drain are measured N times each, alternating which goes first, each
drain in a fresh namespace (a second drain of the same alerts would be all repeats); the table gives their medians,
the JSON every round too. The ceiling moves most between runs on a shared machine, so a ratio is only as good as the
pairs behind it.

Every scenario runs in a fresh namespace that is deleted afterwards, with the history writer off: it is a consumer of
the events beside the alert path, and a history database kept in the working directory belongs to the first
namespace that used it, so a later run's writer would stop at start (an error line) while the first run's wrote in
its process: figures of one run would not compare with the next.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import tempfile
import time
from pathlib import Path
import uuid
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import Any

import aio_pika
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stormwatch.app import Worker
from stormwatch.config import Settings
from stormwatch.namespace import delete_namespace
from stormwatch.publisher import alert_message, publish_many


@dataclass
class Result:
    alerts_per_message: int
    messages: int
    bare_msgs_per_s: float
    stormwatch_msgs_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_rate_msgs_per_s: float
    bare_rounds: list[float] = field(default_factory=list)  # msg/s of each round; the fields above are medians
    stormwatch_rounds: list[float] = field(default_factory=list)

    @property
    def stormwatch_alerts_per_s(self) -> float:
        return self.stormwatch_msgs_per_s * self.alerts_per_message

    @property
    def ratio(self) -> float:
        return self.stormwatch_msgs_per_s / self.bare_msgs_per_s if self.bare_msgs_per_s else 0.0


def make_bodies(alerts: int, per_message: int, groups: int, distinct: int) -> list[bytes]:
    """Prometheus-shaped (API v2) bodies; fingerprints repeat the way an alert storm repeats."""
    starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    bodies = []
    batch: list[dict[str, Any]] = []
    for i in range(alerts):
        n = i % distinct
        g = (n // 10) % groups  # alerts of one rule arrive together, as Prometheus sends them
        batch.append({
            "labels": {"alertname": f"Alert{g % 50}", "service": f"svc-{g // 50}",
                       "instance": f"10.0.{n // 250}.{n % 250}:9100", "job": "node",
                       "severity": "critical" if n % 7 == 0 else "warning", "cluster": "prod-eu-1"},
            "annotations": {"summary": f"Alert{g % 50} firing on instance {n}", "runbook_url": "https://runbooks/x"},
            "startsAt": starts,
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        })
        if len(batch) == per_message:
            bodies.append(orjson.dumps(batch))
            batch = []
    if batch:
        bodies.append(orjson.dumps(batch))
    return bodies


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _bare_ceiling(settings: Settings, bodies: list[bytes], progress: Progress) -> float:
    connection = await aio_pika.connect_robust(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=settings.prefetch)
        queue = await channel.declare_queue(
            f"{settings.namespace}.bare", durable=True,
            arguments={"x-queue-type": "quorum", "x-delivery-limit": settings.delivery_limit},
        )
        task = progress.add_task("  fill bare queue", total=len(bodies))
        await _fill(channel.default_exchange, queue.name, bodies, progress, task)
        done = asyncio.Event()
        count = 0
        drain = progress.add_task("  bare consume+ack", total=len(bodies))

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal count
            await message.ack()
            count += 1
            if count % 500 == 0 or count == len(bodies):
                progress.update(drain, completed=count)
            if count == len(bodies):
                done.set()

        started = time.perf_counter()
        tag = await queue.consume(on_message)
        await done.wait()
        elapsed = time.perf_counter() - started
        await queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
        return len(bodies) / elapsed
    finally:
        await connection.close()


async def _fill(exchange: Any, routing_key: str, bodies: list[bytes], progress: Progress, task: Any) -> None:
    for start in range(0, len(bodies), 1000):
        chunk = bodies[start:start + 1000]
        await publish_many(exchange, chunk, routing_key=routing_key)
        progress.update(task, completed=start + len(chunk))


async def _stormwatch(settings: Settings, bodies: list[bytes], progress: Progress) -> float:
    done = asyncio.Event()
    acked = 0
    drain = progress.add_task("  stormwatch drain", total=len(bodies))

    def on_batch(messages: int, alerts: int, latencies: Any) -> None:
        nonlocal acked
        acked += messages
        progress.update(drain, completed=acked)
        if acked >= len(bodies):
            done.set()

    worker = Worker(settings, on_batch=on_batch)
    await worker.connect()
    try:
        fill = progress.add_task("  fill alerts queue", total=len(bodies))
        assert worker.topology is not None
        await _fill(worker.topology.alerts, "bench", bodies, progress, fill)
        started = time.perf_counter()
        await worker.start()
        await done.wait()
        elapsed = time.perf_counter() - started
    finally:
        await worker.stop()
    return len(bodies) / elapsed


def _paced_publisher(amqp_url: str, exchange_name: str, bodies: list[bytes], rate: float) -> None:
    """Runs in a child process so that publishing does not steal the worker's CPU time."""

    async def publish() -> None:
        connection = await aio_pika.connect(amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(exchange_name, ensure=False)
            interval = 1.0 / rate
            started = time.perf_counter()
            pending: set[asyncio.Future] = set()
            for i, body in enumerate(bodies):
                delay = started + i * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                pending.add(asyncio.ensure_future(exchange.publish(alert_message(body), routing_key="bench")))
                if len(pending) > 200:
                    _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.gather(*pending)
        finally:
            await connection.close()

    asyncio.run(publish())


async def _latency(settings: Settings, bodies: list[bytes], rate: float, progress: Progress) -> list[float]:
    latencies: list[float] = []
    target = len(bodies)
    done = asyncio.Event()
    task = progress.add_task(f"  latency at {rate:,.0f} msg/s", total=target)

    def on_batch(messages: int, alerts: int, values: Any) -> None:
        latencies.extend(values)
        progress.update(task, completed=len(latencies))
        if len(latencies) >= target:
            done.set()

    worker = Worker(settings, on_batch=on_batch)
    await worker.start()
    try:
        assert worker.topology is not None
        publisher = multiprocessing.get_context("spawn").Process(
            target=_paced_publisher,
            args=(settings.amqp_url, worker.topology.alerts.name, bodies, rate),
            daemon=True,
        )
        publisher.start()
        await asyncio.wait_for(done.wait(), timeout=300)
        await asyncio.get_running_loop().run_in_executor(None, publisher.join, 30)
    finally:
        await worker.stop()
    return latencies


async def _between_phases(phase: Any) -> Any:
    """Run one phase, then collect what it left behind.

    A stopped worker's memos and connections are cyclic garbage (about 85,000 objects after 20,000 single-alert
    messages); left to the collector, the full collection that frees them (200-250 ms here) falls inside a later
    phase and shows up as that phase's latency tail. A long-running worker has no such teardown.
    """
    try:
        return await phase
    finally:
        gc.collect()


def _fresh_namespace(settings: Settings) -> Settings:
    return settings.model_copy(update={"namespace": f"bench-{uuid.uuid4().hex[:8]}", "metrics_enabled": False,
                                       "history_enabled": False})


async def run_bench(settings: Settings, console: Console, *, alerts: int, sizes: list[int], groups: int,
                    as_json: bool = False, latency_rate: float | None = None, rounds: int = 1) -> list[Result]:
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=as_json) as progress:
        for size in sizes:
            bodies = make_bodies(alerts, size, groups, distinct=max(groups, alerts // 4))
            if not as_json:  # --json prints the JSON document alone
                progress.console.print(
                    f"[bold]{size} alert(s) per message[/bold]: {len(bodies):,} messages, {alerts:,} alerts")
            bares: list[float] = []
            drains: list[float] = []
            phases = [(bares, _bare_ceiling), (drains, _stormwatch)]
            for round_ in range(rounds):
                ns = _fresh_namespace(settings)
                try:  # alternate which goes first: a machine getting busier or quieter favours neither
                    for into, phase in phases if round_ % 2 == 0 else phases[::-1]:
                        into.append(await _between_phases(phase(ns, bodies, progress)))
                finally:
                    await delete_namespace(ns)
            bare, sw = median(bares), median(drains)
            ns = _fresh_namespace(settings)
            rate = latency_rate or max(10.0, sw / 4)
            lat_bodies = bodies[: max(200, min(len(bodies), int(rate * 5)))]
            try:
                lat = await _between_phases(_latency(ns, lat_bodies, rate, progress))
            finally:
                await delete_namespace(ns)
            results.append(Result(size, len(bodies), bare, sw, _percentile(lat, 0.5) * 1000,
                                  _percentile(lat, 0.99) * 1000, rate, bares, drains))
    if as_json:
        console.print_json(orjson.dumps([asdict(r) | {"stormwatch_alerts_per_s": r.stormwatch_alerts_per_s,
                                                      "ratio": r.ratio} for r in results]).decode())
    else:
        console.print(results_table(results))
        for r in results:
            if len(r.bare_rounds) > 1:
                console.print(f"{r.alerts_per_message} alert(s)/msg, {len(r.bare_rounds)} rounds (medians above): "
                              f"bare {' / '.join(f'{x:,.0f}' for x in r.bare_rounds)} msg/s, stormwatch "
                              f"{' / '.join(f'{x:,.0f}' for x in r.stormwatch_rounds)} msg/s")
    return results


def write_rules(directory: Path, count: int) -> Path:
    """``count`` group rules, one per alertname and service, each with a regex matcher too.

    They group as the default does, so 10 and 1,000 rules produce the same groups and the comparison measures
    rule evaluation, not a different workload."""
    groups = [
        {
            "name": f"rule-{i}",
            "match": [f'alertname="Alert{i % 50}"', f'service="svc-{i // 50}"', 'severity=~"critical|warning"'],
            "group_by": ["alertname", "service"],  # the default grouping: the same groups whatever the rule count
            "priority": {"impact": {"from_label": "severity", "map": {"critical": "high"}, "default": "medium"},
                         "urgency": "medium"},
            "team": f"team-{i % 7}",
        }
        for i in range(count)
    ]
    (directory / "bench-rules.yaml").write_bytes(orjson.dumps({"groups": groups}))  # JSON is YAML
    return directory


async def run_rules_bench(settings: Settings, console: Console, *, alerts: int, size: int, groups: int,
                          rule_counts: list[int]) -> list[tuple[int, float]]:
    """Stormwatch drain throughput for each rule-set size, same messages, in one run."""
    bodies = make_bodies(alerts, size, groups, distinct=max(groups, alerts // 4))
    out = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        for count in rule_counts:
            with tempfile.TemporaryDirectory() as tmp:
                ns = settings.model_copy(update={
                    "namespace": f"bench-{uuid.uuid4().hex[:8]}", "metrics_enabled": False, "history_enabled": False,
                    "rules": str(write_rules(Path(tmp), count)) if count else "none",
                })
                progress.console.print(f"[bold]{count} group rules[/bold]: {len(bodies):,} messages of {size} alert(s)")
                try:
                    out.append((count, await _stormwatch(ns, bodies, progress) * size))
                finally:
                    await delete_namespace(ns)
    table = Table(title=f"stormwatch bench: rule-set size ({size} alert(s)/message, one worker)")
    for col in ("group rules", "alerts/s", "vs first"):
        table.add_column(col, justify="right")
    for count, rate in out:
        table.add_row(f"{count:,}", f"{rate:,.0f}", f"{rate / out[0][1]:.2f}x")
    console.print(table)
    return out


def results_table(results: list[Result]) -> Table:
    table = Table(title="stormwatch bench (one worker, this machine)")
    for col in ("alerts/msg", "messages", "bare ceiling msg/s", "stormwatch msg/s", "stormwatch alerts/s",
                "ratio", "latency p50 ms", "latency p99 ms", "at msg/s"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(
            str(r.alerts_per_message), f"{r.messages:,}", f"{r.bare_msgs_per_s:,.0f}",
            f"{r.stormwatch_msgs_per_s:,.0f}", f"{r.stormwatch_alerts_per_s:,.0f}", f"{r.ratio:.2f}x",
            f"{r.latency_p50_ms:.1f}", f"{r.latency_p99_ms:.1f}",
            f"{r.latency_rate_msgs_per_s:,.0f}",
        )
    return table
