"""Start-up failures say which service, where, and how to start it."""

from __future__ import annotations

import socket

import pytest

from stormwatch.app import ServiceUnavailable, Worker


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_unreachable_rabbitmq_is_named_with_a_hint(settings):
    port = _closed_port()
    broken = settings.model_copy(update={"amqp_url": f"amqp://guest:secret@127.0.0.1:{port}/"})
    with pytest.raises(ServiceUnavailable) as err:
        await Worker(broken).start()
    message = str(err.value)
    assert "RabbitMQ is not answering" in message and f"127.0.0.1:{port}" in message
    assert "rabbitmq-server -detached" in message and "STORMWATCH_AMQP_URL" in message
    assert "secret" not in message


async def test_unreachable_redis_is_named_with_a_hint(settings):
    port = _closed_port()
    broken = settings.model_copy(update={"redis_url": f"redis://:secret@127.0.0.1:{port}/0"})
    with pytest.raises(ServiceUnavailable) as err:
        await Worker(broken).start()
    message = str(err.value)
    assert "Redis is not answering" in message and f"127.0.0.1:{port}" in message
    assert "redis-server" in message and "secret" not in message
