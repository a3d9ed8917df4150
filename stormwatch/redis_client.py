"""The one place a Redis client is made: a single server, or a Redis Cluster (``STORMWATCH_REDIS_CLUSTER``)."""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from stormwatch.config import Settings


class HiredisPackingConnection(Connection):
    """Packs commands with hiredis's C packer (redis-py's asyncio connection packs in Python: on the hot path,
    with hundreds of arguments per EVALSHA, that packing was a quarter of the worker's CPU time)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        first = args[0]
        if isinstance(first, str):
            args = tuple(first.encode().split()) + args[1:]
        elif b" " in first:
            args = tuple(first.split()) + args[1:]
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            pass  # a bytearray or memoryview argument (Stormwatch sends none): convert, as redis-py does
        try:
            return [hiredis.pack_command(  # its stub says a 1-tuple; it takes any length
                tuple(bytes(a) if isinstance(a, (bytearray, memoryview)) else a for a in args))]  # type: ignore[arg-type]
        except TypeError as exc:
            raise DataError(str(exc)) from None

    def pack_commands(self, commands: Any) -> list[bytes]:
        return [b"".join(self.pack_command(*cmd)[0] for cmd in commands)]


def redis_client(settings: Settings, **options: Any) -> Any:
    """A client for ``STORMWATCH_REDIS_URL``: with ``STORMWATCH_REDIS_CLUSTER=true`` the URL names any node of
    the cluster and the client discovers the rest; every script Stormwatch runs keeps to one hash slot."""
    if settings.redis_cluster:
        for name in ("health_check_interval", "retry_on_timeout"):  # single-server options
            options.pop(name, None)
        return RedisCluster.from_url(settings.redis_url, **options)
    if settings.redis_url.startswith("redis://"):
        options.setdefault("connection_class", HiredisPackingConnection)
    return Redis.from_url(settings.redis_url, **options)
