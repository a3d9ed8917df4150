"""A private redis-server per test: started on a free port, stopped (and restarted) at will.

Tests that take Redis away must not touch the shared server other tests (and other engineers) use.
The server keeps its data in ``directory`` only through ``shutdown_save()`` (an RDB written on the way
down and loaded on the next ``start()``), so a stop-and-restart keeps the state like a real restart does.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.conftest import eventually

REDIS_SERVER = shutil.which("redis-server") or "redis-server"


def free_port() -> int:
    """A port nobody listens on right now (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)

    async def start(self) -> None:
        """Start on ``self.port`` (loading ``dump.rdb`` from the directory if there is one); wait for PING."""
        assert self.process is None or self.process.returncode is not None, "already running"
        self.process = await asyncio.create_subprocess_exec(
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "no",
            "--save", "", "--appendonly", "no", "--dir", str(self.directory), "--dbfilename", "dump.rdb",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        await eventually(self._answers, timeout=10, what=f"redis-server on port {self.port} answering PING")

    async def _answers(self) -> bool:
        assert self.process is not None
        if self.process.returncode is not None:
            raise AssertionError(f"redis-server on port {self.port} exited with {self.process.returncode}")
        client = self.client()
        try:
            return bool(await client.ping())
        except (RedisConnectionError, OSError):
            return False
        finally:
            await client.aclose()

    async def shutdown_save(self) -> None:
        """``SHUTDOWN SAVE``: write the RDB, exit; the next ``start()`` loads it (state kept, scripts flushed)."""
        assert self.process is not None
        client = self.client()
        try:
            await client.shutdown(save=True)
        except RedisConnectionError:
            pass  # the server closes the connection instead of answering
        finally:
            await client.aclose()
        code = await asyncio.wait_for(self.process.wait(), timeout=10)
        assert code == 0, f"redis-server exited with {code} on SHUTDOWN SAVE"
        assert (self.directory / "dump.rdb").exists(), "SHUTDOWN SAVE wrote no RDB"

    async def stop(self) -> None:
        """Teardown: terminate, kill if it does not go within 5 s."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            process.kill()
            await process.wait()
