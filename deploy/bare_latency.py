"""The floor under the single-alert latency target: publish-to-consume latency of the bare broker at RATE msg/s.

    .venv/bin/python deploy/bare_latency.py RATE MESSAGES [quorum|classic]

The same paced publisher as ``stormwatch bench``'s latency phase (a child process, persistent messages with
confirms, each stamped with its publish time) into a quorum queue like Stormwatch's alerts queue (or a durable
classic queue, to see how much of the floor is the quorum queue's); the consumer does
nothing but take ``now - published_at`` and ack (prefetch 200). No correlation, no Redis: whatever p99 this prints,
Stormwatch's publish-to-state p99 at the same rate on the same machine cannot be lower (docs/performance.md,
"The latency floor of the broker").
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
import uuid

import aio_pika

from ingest.consumer import _published_at
from stormwatch.config import load_settings
from stormwatch.tools.bench import _paced_publisher, _percentile, make_bodies


async def main(rate: float, messages: int, queue_type: str = "quorum") -> None:
    settings = load_settings()
    bodies = make_bodies(messages, 1, 20, messages)
    connection = await aio_pika.connect_robust(settings.amqp_url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=200)
    name = f"bare-latency-{uuid.uuid4().hex[:8]}"
    exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.DIRECT, auto_delete=True)
    queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": queue_type})
    await queue.bind(exchange, "bench")
    latencies: list[float] = []
    done = asyncio.Event()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.time()
        latencies.append(now - _published_at(message.headers, now))
        await message.ack()
        if len(latencies) >= messages:
            done.set()

    try:
        await queue.consume(on_message)
        publisher = multiprocessing.get_context("spawn").Process(
            target=_paced_publisher, args=(settings.amqp_url, name, bodies, rate), daemon=True)
        publisher.start()
        await asyncio.wait_for(done.wait(), timeout=300)
        await asyncio.get_running_loop().run_in_executor(None, publisher.join, 30)
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await exchange.delete()
        await connection.close()
    ms = [x * 1000 for x in latencies]
    p50, p90, p99 = (_percentile(ms, q) for q in (0.5, 0.9, 0.99))
    print(f"bare broker ({queue_type} queue) at {rate:,.0f} msg/s, {messages:,} messages: "
          f"latency p50 {p50:.1f} / p90 {p90:.1f} / p99 {p99:.1f} ms")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[3:] not in ([], ["quorum"], ["classic"]):
        raise SystemExit("usage: python deploy/bare_latency.py RATE MESSAGES [quorum|classic]")
    asyncio.run(main(float(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:]))
