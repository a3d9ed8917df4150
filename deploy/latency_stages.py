"""Where a message's publish-to-state latency goes: the latency phase of ``stormwatch bench``, instrumented.

    STORMWATCH_HISTORY_ENABLED=false STORMWATCH_RULES=examples STORMWATCH_LOG_LEVEL=warning \\
        .venv/bin/python deploy/latency_stages.py RATE MESSAGES [ALERTS_PER_MESSAGE]

Publishes MESSAGES messages at RATE msg/s from a separate process (as the bench does) into a worker in this process,
and prints the latency percentiles, the batches (size, time in the consumer, how long the oldest message had waited
before its batch started), the wall time of each await of a batch (p50, p99, total) and the garbage collections
that took over 5 ms. The timing wrappers are installed in this process only; nothing of the worker is changed.
"""

import collections
import gc
import statistics
import sys
import time
import uuid

import uvloop
from rich.progress import Progress

import ingest.consumer as consumer
from correlation.store.change_windows import ChangeWindowStore
from correlation.store.changes import ChangeStore
from correlation.store.links import Links
from correlation.store.pipeline import CorrelationPipeline
from correlation.store.store import IncidentStore
from events.amqp import AmqpEventPublisher
from stormwatch.config import load_settings
from stormwatch.namespace import delete_namespace
from stormwatch.runtime import tune_gc
from stormwatch.tools.bench import _latency, _percentile, make_bodies

STAGES = [(IncidentStore, "read_groups"), (IncidentStore, "apply"), (IncidentStore, "index"), (Links, "read_causes"),
          (Links, "apply"), (ChangeWindowStore, "with_silences"), (ChangeStore, "recent_since"),
          (CorrelationPipeline, "open_declared"), (CorrelationPipeline, "submit"),
          (AmqpEventPublisher, "publish_events"), (consumer.AlertConsumer, "_ack_all")]


def instrument() -> tuple[list[tuple[int, float, float, float]], dict[str, list[float]], list[tuple[int, float]]]:
    batches: list[tuple[int, float, float, float]] = []  # (messages, seconds in _process, oldest wait, start)
    stages: dict[str, list[float]] = collections.defaultdict(list)
    pauses: list[tuple[int, float]] = []
    process = consumer.AlertConsumer._process

    async def timed_process(self, batch):
        started = time.time()
        oldest = max(started - consumer._published_at(m.headers, received) for m, received in batch)
        await process(self, batch)
        batches.append((len(batch), time.time() - started, oldest, started))

    consumer.AlertConsumer._process = timed_process

    def wrap(cls, name):
        original = getattr(cls, name)

        async def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                stages[f"{cls.__name__}.{name}"].append(time.perf_counter() - started)
        setattr(cls, name, timed)

    for cls, name in STAGES:
        wrap(cls, name)
    gc_started = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - gc_started[0]))
    gc.callbacks.append(on_gc)
    return batches, stages, pauses


async def main(rate: float, messages: int, per_message: int) -> None:
    settings = load_settings().model_copy(update={"namespace": f"lat-{uuid.uuid4().hex[:8]}", "metrics_enabled": False})
    tune_gc(settings)  # before the probes: its own full collection (~80 ms, before any message) is not the run's
    batches, stages, pauses = instrument()
    bodies = make_bodies(messages * per_message, per_message, 500, distinct=max(500, messages * per_message // 4))
    try:
        with Progress(disable=True) as progress:
            latencies = await _latency(settings, bodies, rate, progress)
    finally:
        await delete_namespace(settings)
    ms = [v * 1000 for v in latencies]
    print(f"{len(ms)} messages at {rate:,.0f} msg/s: latency p50 {_percentile(ms, .5):.1f} p90 "
          f"{_percentile(ms, .9):.1f} p99 {_percentile(ms, .99):.1f} ms")
    sizes = [b[0] for b in batches]
    spent = [b[1] * 1000 for b in batches]
    waited = [b[2] * 1000 for b in batches]
    print(f"{len(batches)} batches: size p50 {statistics.median(sizes)} max {max(sizes)}; in the consumer p50 "
          f"{statistics.median(spent):.1f} p99 {_percentile(spent, .99):.1f} ms; oldest message waited p50 "
          f"{statistics.median(waited):.1f} p99 {_percentile(waited, .99):.1f} ms")
    for name, values in stages.items():
        values = sorted(values)
        print(f"  {name:40s} {len(values):6d}  p50 {values[len(values) // 2] * 1000:7.2f}  "
              f"p99 {values[int(len(values) * .99)] * 1000:7.2f} ms  total {sum(values):.2f} s")
    print("collections over 5 ms (generation, ms):", [(g, round(s * 1000, 1)) for g, s in pauses if s > 0.005])


if __name__ == "__main__":
    uvloop.run(main(float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1))
