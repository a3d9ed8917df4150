from __future__ import annotations

from typing import AsyncIterator

import pytest

from stormwatch.app import Worker
from stormwatch.config import Settings


@pytest.fixture
async def worker(clean: Settings) -> AsyncIterator[Worker]:
    w = Worker(clean)
    await w.start()
    try:
        yield w
    finally:
        await w.stop()
