"""Fixtures of the fault suite (its summary table: tests/fault_summary.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from collections.abc import AsyncIterator

import pytest

from stormwatch.config import Settings
from tests.faults.harness import Scenario


def require_tools() -> None:
    missing = [tool for tool in ("redis-server", "rabbitmqctl") if shutil.which(tool) is None]
    if missing:
        message = f"fault tests need {', '.join(missing)} on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
async def scenario(request: pytest.FixtureRequest, clean: Settings, tmp_path: Path) -> AsyncIterator[Scenario]:
    require_tools()
    world = Scenario(request.node.name.removeprefix("test_"), clean, tmp_path)
    try:
        yield world
    finally:
        await world.stop_all()
