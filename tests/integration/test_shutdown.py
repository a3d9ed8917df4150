"""The real ``stormwatch serve`` process: SIGTERM mid-stream loses nothing and leaves nothing half done.

Runs the console script as a subprocess (its own event loop, signal handlers, logging), talks to it only
through RabbitMQ, Redis and its HTTP port, the way an orchestrator would.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import aio_pika
import orjson
from redis.asyncio import Redis

from correlation.store.keyspace import Keyspace
from correlation.store.store import IncidentStore
from ingest.topology import Names
from stormwatch.config import Settings
from stormwatch.publisher import publish_many
from tests.conftest import eventually
from tests.integration.helpers import alerts_queue_state, body, v2_alert
from tests.integration.redis_server import RedisServer, free_port

STORMWATCH = shutil.which("stormwatch", path=str(Path(sys.executable).parent)) or shutil.which("stormwatch")
GROUPS, INSTANCES, REPEATS = 20, 10, 10
TOTAL = GROUPS * INSTANCES * REPEATS  # 2,000 single-alert messages


class Serve:
    """One ``stormwatch serve`` subprocess with its output in a file."""

    def __init__(self, settings: Settings, log: Path, *, args: Sequence[str] = (), **env: str) -> None:
        self.settings = settings
        self.args = tuple(args)  # after ``serve``
        self.log = log
        self.port = free_port()
        self.env = os.environ | {
            "STORMWATCH_NAMESPACE": settings.namespace,
            "STORMWATCH_AMQP_URL": settings.amqp_url,
            "STORMWATCH_REDIS_URL": settings.redis_url,
            "STORMWATCH_METRICS_PORT": str(self.port),
            "STORMWATCH_LOG_FORMAT": "json",
            "STORMWATCH_HISTORY_ENABLED": "false",  # on by default; the history's tests turn it on with a database
            "COLUMNS": "200",
        } | env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Serve:
        assert STORMWATCH, "the stormwatch console script is not installed next to the interpreter"
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                STORMWATCH, "serve", *self.args, env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def events(self) -> list[str]:
        out = []
        for line in self.output().splitlines():
            try:
                out.append(orjson.loads(line)["event"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                pass
        return out

    async def get(self, path: str) -> tuple[int, str] | None:
        """A tiny HTTP GET to the ops port; None while nothing listens."""
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return None
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(), timeout=5)
        except (TimeoutError, OSError):
            return None
        finally:
            writer.close()
        head, _, text = raw.decode("latin-1").partition("\r\n\r\n")
        return (int(head.split(" ", 2)[1]), text) if head else None

    async def ready(self) -> bool:
        assert self.process is not None
        if self.process.returncode is not None:
            raise AssertionError(f"stormwatch serve exited with {self.process.returncode}:\n{self.output()}")
        answer = await self.get("/readyz")
        return answer is not None and answer[0] == 200

    async def metric(self, name: str) -> float | None:
        answer = await self.get("/metrics")
        if answer is None or answer[0] != 200:
            return None
        match = re.search(rf"^{re.escape(name)} (\S+)$", answer[1], re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    async def terminate(self, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout=timeout)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def messages() -> tuple[list[bytes], Counter]:
    """TOTAL single-alert bodies: GROUPS x INSTANCES fingerprints, each sent REPEATS times, interleaved."""
    bodies, expected = [], Counter()
    for _ in range(REPEATS):
        for g in range(GROUPS):
            for i in range(INSTANCES):
                bodies.append(body([v2_alert(f"Shutdown{g}", f"svc-{g}", f"pod-{i}")]))
                expected[(f"Shutdown{g} / svc-{g}", f"pod-{i}")] += 1
    return bodies, expected


async def publish_all(settings: Settings, bodies: list[bytes]) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(settings.namespace).alerts_exchange)
        assert await publish_many(exchange, bodies, window=100) == len(bodies)
    finally:
        await connection.close()


async def written_messages(redis: Redis, namespace: str) -> int:
    """Messages whose state is in Redis: one idempotency marker per (message, group); one group per message."""
    return len([k async for k in redis.scan_iter(match=f"{namespace}:*:m:*", count=1000)])


async def test_sigterm_mid_stream_acks_everything_written_and_nothing_else(clean, tmp_path):
    settings = clean
    bodies, expected = messages()
    redis = Redis.from_url(settings.redis_url)
    first = await Serve(settings, tmp_path / "first.log").start()
    second = None
    try:
        await eventually(first.ready, timeout=20, what="first worker ready")
        publisher = asyncio.create_task(publish_all(settings, bodies))
        try:
            await eventually(lambda: _positive(first.metric("stormwatch_batch_messages_sum")),
                             what="first batches processed")
            code = await first.terminate(timeout=30)
        finally:
            await publisher
        assert code == 0, first.output()
        events = first.events()
        assert "worker_stopping" in events and "worker_stopped" in events, first.output()
        assert "gc_tuned" in events  # serve tunes the collector once started (stormwatch/runtime.py)
        assert events.index("worker_stopping") < events.index("worker_stopped")
        assert "processing_crashed" not in events and "store_unavailable" not in events, first.output()

        # the first worker is gone: whatever it held and did not ack is back in the queue; so every message is
        # either written (and then it must have been acked: not back in the queue) or still queued, never both
        written = await written_messages(redis, settings.namespace)
        assert 0 < written < TOTAL, "SIGTERM did not land mid-stream"
        # no consumer left, so nothing is unacked: all TOTAL - written unwritten messages are ready again
        await eventually(lambda: _equals(alerts_queue_state(settings), (TOTAL - written, 0)),
                         what="(ready, consumers) == (published - written, 0)")

        second = await Serve(settings, tmp_path / "second.log").start()
        await eventually(second.ready, timeout=20, what="second worker ready")
        await eventually(lambda: _equals(second.metric("stormwatch_batch_messages_sum"), TOTAL - written),
                         timeout=30, what="second worker drained the rest")
        assert await second.metric("stormwatch_replays_total") == 0  # nothing written by the first came back
        assert await alerts_queue_state(settings) == (0, 1)
        assert await second.terminate(timeout=30) == 0, second.output()
        assert "worker_stopped" in second.events()
    finally:
        for serve in (first, second):
            if serve is not None:
                await serve.kill()
        await redis.aclose()

    # exactly what was published, no alert counted twice or missed
    redis = Redis.from_url(settings.redis_url)
    try:
        store = IncidentStore(redis, Keyspace(settings.namespace), marker_ttl=60, timeline_max=1000)
        assert await written_messages(redis, settings.namespace) == TOTAL
        incidents = await store.list_incidents(limit=1000)
        assert len(incidents) == GROUPS
        seen: Counter = Counter()
        for incident in incidents:
            assert (incident.alerts, incident.firing, incident.occurrences) == (INSTANCES, INSTANCES, INSTANCES * REPEATS)
            for alert in await store.incident_alerts(incident.id):
                seen[(incident.title, alert.labels["instance"])] += alert.count
        assert seen == expected
        assert sum(seen.values()) == TOTAL
    finally:
        await redis.aclose()


async def test_sigterm_during_a_redis_outage_exits_and_hands_the_held_messages_back(clean, tmp_path):
    """The held batch cannot be finished while Redis is away: SIGTERM must not wait for Redis to come back."""
    redis_server = RedisServer(tmp_path)
    await redis_server.start()
    serve = Serve(clean, tmp_path / "serve.log", STORMWATCH_REDIS_URL=redis_server.url,
                  STORMWATCH_REDIS_RETRY_MAX_SECONDS="0.5")
    try:
        await serve.start()
        await eventually(serve.ready, timeout=20, what="worker ready")
        await redis_server.shutdown_save()
        await publish_all(clean, [body([v2_alert("Held", "svc", f"pod-{i}")]) for i in range(50)])
        await eventually(lambda: "store_unavailable" in serve.events(), what="the worker noticed the outage")
        assert (await serve.get("/readyz"))[0] == 503
        code = await serve.terminate(timeout=10)
        assert code == 0, serve.output()
        assert "worker_stopped" in serve.events()
        # it acked nothing: every message is back in the queue for the next worker
        await eventually(lambda: _equals(alerts_queue_state(clean), (50, 0)), what="all 50 messages ready again")
    finally:
        await serve.kill()
        await redis_server.stop()


async def test_serve_exits_quickly_naming_redis_when_it_is_not_there(clean, tmp_path):
    port = free_port()  # nothing listens there
    serve = Serve(clean, tmp_path / "serve.log", STORMWATCH_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    started = time.monotonic()
    await serve.start()
    try:
        code = await asyncio.wait_for(serve.process.wait(), timeout=20)
    finally:
        await serve.kill()
    output = " ".join(serve.output().split())  # rich may wrap the message
    assert code != 0, output
    assert time.monotonic() - started < 15
    assert "Redis is not answering" in output and f"127.0.0.1:{port}" in output, output
    assert "Traceback" not in output, output


async def _positive(value) -> bool:
    return (await value or 0) > 0


async def _equals(value, expected: float) -> bool:
    return await value == expected
