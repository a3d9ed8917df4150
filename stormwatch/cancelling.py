"""Ending a background task for certain: cancelled again until it has ended.

A single ``cancel()`` can be swallowed when it lands as an await inside the task completes: Python 3.11's
``asyncio.wait_for`` then returns the result instead of raising (database, broker and Redis clients use it), and
the task carries on as if nothing was asked, into its next wait: a stop that awaited it hung for as long as that
wait (seen as a worker's stop hanging in the history writer under load). Each further cancel lands in the task's
next await, so the task ends within a turn or two of its loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None], retry_every: float = 1.0) -> None:
    """Cancel each task, and again every ``retry_every`` seconds while it has not ended; return once all have."""
    pending = {t for t in tasks if t is not None and not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=retry_every)
