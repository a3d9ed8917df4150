"""Shared fixtures: real RabbitMQ and Redis, one namespace per test, cleaned up afterwards.

A missing server skips the test locally and fails it under CI=true.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import time
import uuid
from typing import Any
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from rules import label_names
from stormwatch.config import Settings, load_settings
from stormwatch.namespace import delete_namespace

pytest_plugins = ["tests.fault_summary"]  # the fault suite's table, printed by the xdist controller too

# pytest-xdist's `--dist loadfile` hands whole files to its processes; with `--no-loadscope-reorder` (deploy/dev.sh)
# it hands them out in collection order, and this order is longest first by the seconds each file last took
# (tests/file_seconds.txt, written by deploy/test_seconds.py): the run does not end with one long file running alone.
# A file the table does not know goes last; a test's order within its file is kept.
FILE_SECONDS = Path(__file__).with_name("file_seconds.txt")


def _file_seconds() -> dict[str, float]:
    seconds: dict[str, float] = {}
    for line in FILE_SECONDS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            value, path = line.split(maxsplit=1)
            seconds[path] = float(value)
    return seconds


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seconds = _file_seconds()
    items.sort(key=lambda item: -seconds.get(item.nodeid.split("::", 1)[0], 0.0))  # stable: a file keeps its order


# CI runs a fixed set of examples (reproducible: a red CI is a real regression); locally hypothesis explores.
# No deadline and no too_slow health check in either: both are timing assertions (200 ms per example, slow data
# generation), which a loaded 2-core CI machine fails with nothing wrong; the example counts stay as they are.
settings_profile = "ci" if os.environ.get("CI") == "true" else "dev"
_untimed = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "print_blob": True}
hypothesis_settings.register_profile("ci", derandomize=True, **_untimed)
hypothesis_settings.register_profile("dev", **_untimed)
hypothesis_settings.load_profile(settings_profile)

AMQP_URL = os.environ.get("STORMWATCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("STORMWATCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or default_port), timeout=2).close()
        return True
    except OSError:
        return False


def missing_tool(message: str) -> None:
    """A tool a test needs is not installed: fail under CI=true, skip locally."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_services() -> None:
    missing = [name for name, url, port in (("RabbitMQ", AMQP_URL, 5672), ("Redis", REDIS_URL, 6379))
               if not _answers(url, port)]
    if missing:
        message = f"{' and '.join(missing)} not answering ({AMQP_URL}, {REDIS_URL}); run `make services`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _utf8_label_names() -> Any:
    """The label name scheme is process-wide (``rules.label_names``): every test starts and ends with the default."""
    label_names.set_scheme("utf8")
    yield
    label_names.set_scheme("utf8")


@pytest.fixture
def classic_label_names() -> None:
    """STORMWATCH_LABEL_NAMES=classic for one test."""
    label_names.set_scheme("classic")


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(namespace: str) -> Settings:
    require_services()
    return load_settings(
        namespace=namespace, amqp_url=AMQP_URL, redis_url=REDIS_URL, metrics_port=0, batch_wait_ms=1,
        redis_retry_max_seconds=0.5, rules="none",  # the default grouping; rule tests choose their rules
        history_enabled=False,  # on by default in `serve`; the history's tests give it a database of their own
    )


@pytest.fixture
async def clean(settings: Settings) -> AsyncIterator[Settings]:
    yield settings
    await delete_namespace(settings)


async def eventually(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Wait until ``check()`` returns something truthy (polling the condition, not sleeping a guess)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while loop.time() < deadline:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; last value {last!r}")


class ManualClock:
    """An injected clock the test moves (``clock.now += 300``): time-based behaviour without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now
