"""A private three-node Redis Cluster per test module: redis-server in cluster mode, slots spread by redis-cli."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
from pathlib import Path

from redis.asyncio import Redis

from tests.conftest import eventually
from tests.integration.redis_server import REDIS_SERVER


REDIS_CLI = shutil.which("redis-cli") or "redis-cli"


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too; both at most 65535."""
    while True:
        port = random.randint(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


class RedisCluster3:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports = [cluster_port() for _ in range(3)]
        self.processes: list[asyncio.subprocess.Process] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    async def start(self) -> None:
        for port in self.ports:
            node = self.directory / str(port)
            node.mkdir(parents=True, exist_ok=True)
            self.processes.append(await asyncio.create_subprocess_exec(
                REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "no",
                "--cluster-enabled", "yes", "--cluster-config-file", str(node / "nodes.conf"),
                "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no", "--dir", str(node),
                "--logfile", str(node / "redis.log"),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            ))
        for port, process in zip(self.ports, self.processes, strict=True):
            await eventually(lambda port=port, process=process: self._ping(port, process), timeout=10,
                             what=f"cluster node {port} up")
        create = await asyncio.create_subprocess_exec(
            REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-replicas", "0",
            "--cluster-yes", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(create.communicate(), timeout=30)
        assert create.returncode == 0, out.decode()
        for port in self.ports:
            await eventually(lambda port=port: self._cluster_ok(port), timeout=20, what=f"cluster state ok ({port})")

    async def _ping(self, port: int, process: asyncio.subprocess.Process) -> bool:
        if process.returncode is not None:
            log = (self.directory / str(port) / "redis.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"cluster node {port} exited with {process.returncode}:\n{log}")
        client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        try:
            return bool(await client.ping())
        except OSError:
            return False
        except Exception:  # noqa: BLE001 - not up yet
            return False
        finally:
            await client.aclose()

    async def _cluster_ok(self, port: int) -> bool:
        client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        try:
            info = await client.execute_command("CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            return "cluster_state:ok" in text
        finally:
            await client.aclose()

    async def keys_per_node(self, pattern: str) -> list[int]:
        counts = []
        for port in self.ports:
            client = Redis(host="127.0.0.1", port=port)
            try:
                counts.append(len([k async for k in client.scan_iter(match=pattern, count=1000)]))
            finally:
                await client.aclose()
        return counts

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.terminate()
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=5)
            except TimeoutError:
                process.kill()
                await process.wait()
