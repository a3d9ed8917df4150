"""Fault injectors: a private durable redis-server that can be killed, frozen and thawed; a TCP proxy that delays,
cuts and resets; closing one worker's RabbitMQ connections with rabbitmqctl (never anyone else's)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import struct

from tests.conftest import eventually
from tests.integration.redis_server import REDIS_SERVER, RedisServer
from tests.integration.tcp_proxy import TcpProxy

RABBITMQCTL = shutil.which("rabbitmqctl") or "rabbitmqctl"


class DurableRedis(RedisServer):
    """A private redis-server with ``--appendonly yes --appendfsync always``: every write it answered is on disk,
    so a SIGKILL loses nothing it acknowledged, and a restart on the same port and directory loads it again."""

    async def start(self) -> None:
        assert self.process is None or self.process.returncode is not None, "already running"
        self.process = await asyncio.create_subprocess_exec(
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "no", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        await eventually(self._answers, timeout=20, what=f"redis-server on port {self.port} answering PING")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no save, no goodbye
        await self.process.wait()

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)  # connections stay open, nothing answers

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.thaw()  # a stopped process does not act on SIGTERM until continued
        await super().stop()


class ChaosProxy(TcpProxy):
    """The integration tests' TCP proxy plus latency (``delay`` seconds before each chunk is forwarded),
    ``hold()``/``release()`` (nothing forwarded in between: connections stay open, every command waits) and
    ``reset()`` (every proxied connection closed with a TCP RST on both sides, the listener kept)."""

    delay: float = 0.0
    _flowing: asyncio.Event | None = None

    def hold(self) -> None:
        if self._flowing is None:
            self._flowing = asyncio.Event()
        self._flowing.clear()

    def release(self) -> None:
        if self._flowing is not None:
            self._flowing.set()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await src.read(65536):
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self._flowing is not None:
                    await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        dst.close()

    def reset(self) -> int:
        writers = list(self._writers)
        for writer in writers:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self._writers.clear()
        return len(writers) // 2  # each proxied connection has two sides


async def _rabbitmqctl(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        RABBITMQCTL, "-q", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, f"rabbitmqctl {' '.join(args)}: {out.decode(errors='replace')}"
    return out.decode(errors="replace")


async def worker_connections(namespace: str, pid: int) -> list[str]:
    """The broker's pids of one worker's connections, found by the name it gives them in its client properties
    (``stormwatch <ns> pid N``, stormwatch/app.py)."""
    wanted = f'"stormwatch {namespace} pid {pid}"'  # {"connection_name","stormwatch <ns> pid N"}: exact
    out = await _rabbitmqctl("list_connections", "pid", "client_properties", "--no-table-headers")
    return [line.partition("\t")[0] for line in out.splitlines() if wanted in line.partition("\t")[2]]


async def consuming_on(connection: str, queue: str) -> tuple[bool, int]:
    """Whether one connection has a consumer on ``queue``, and how many deliveries its channels consuming it have
    not acked yet, as the broker counts them."""
    consumers = await _rabbitmqctl("list_consumers", "queue_name", "channel_pid", "--no-table-headers")
    consuming = {row[1] for row in (line.split("\t") for line in consumers.splitlines())
                 if len(row) == 2 and row[0] == queue}
    channels = await _rabbitmqctl("list_channels", "pid", "connection", "messages_unacknowledged",
                                  "--no-table-headers")
    mine = [row for row in (line.split("\t") for line in channels.splitlines())
            if len(row) == 3 and row[1] == connection and row[0] in consuming]
    return bool(mine), sum(int(row[2]) for row in mine)


async def close_connection(connection: str) -> None:
    """Close one connection by its broker pid (from ``worker_connections``): never anybody else's."""
    await _rabbitmqctl("close_connection", connection, "fault test: connection closed under the worker")


async def queue_counts(namespace: str) -> dict[str, tuple[int, int]]:
    """(ready, unacked) per queue of the namespace, as the broker counts them."""
    out = await _rabbitmqctl("list_queues", "name", "messages_ready", "messages_unacknowledged", "--no-table-headers")
    counts = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].startswith(namespace + "."):
            counts[parts[0]] = (int(parts[1]), int(parts[2]))
    return counts
