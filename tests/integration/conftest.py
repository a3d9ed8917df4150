from __future__ import annotations

from pathlib import Path
from collections.abc import AsyncIterator

import pytest

from stormwatch.app import Worker
from stormwatch.config import Settings
from tests.integration.redis_cluster import RedisCluster3
from tests.integration.redis_server import RedisServer


@pytest.fixture
async def worker(clean: Settings) -> AsyncIterator[Worker]:
    w = Worker(clean)
    await w.start()
    try:
        yield w
    finally:
        await w.stop()


@pytest.fixture
async def cluster(tmp_path) -> AsyncIterator[RedisCluster3]:
    """A private three-node Redis Cluster (redis-server in cluster mode), stopped afterwards."""
    c = RedisCluster3(tmp_path / "cluster")
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A private redis-server (its own port and directory, no persistence configured), stopped afterwards."""
    server = RedisServer(tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
