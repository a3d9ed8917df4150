"""cancel_and_wait: a task that swallowed a cancel still ends (the history writer's stop hung on one for ever)."""

from __future__ import annotations

import asyncio

from stormwatch.cancelling import cancel_and_wait


async def test_a_task_that_swallows_a_cancel_and_waits_again_is_ended() -> None:
    inbox: asyncio.Queue[int] = asyncio.Queue()
    swallowed = []

    async def loop() -> None:
        while True:
            try:
                await asyncio.sleep(0)  # a client's await that returns its result despite the cancel
            except asyncio.CancelledError:
                swallowed.append(True)
                continue  # ... and the task carries on to wait on an inbox nobody fills
            await inbox.get()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    await cancel_and_wait([task, None], retry_every=0.01)
    assert task.cancelled() and swallowed == [True]


async def test_tasks_already_ended_are_left_as_they_are() -> None:
    async def done() -> int:
        return 1
    task = asyncio.create_task(done())
    await task
    await cancel_and_wait([task])
    assert task.result() == 1
