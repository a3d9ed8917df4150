"""The due-time loop: a process fires the timers of the kinds it has handlers for (the service is ``kv/due.py``).

A worker runs one loop over correlation's kinds (every ``STORMWATCH_TIMER_POLL_SECONDS``; none in a process that
consumes no alerts) and, with the action runner, one over the runner's kinds (every
``STORMWATCH_ACTIONS_POLL_SECONDS``); ``serve --role actions`` runs only the second, so it never claims a timer it
cannot handle. A poll that claimed a full share of some kind in some shard is followed by the next at once, so a
backlog is not paced by the poll interval. A loop polls once when it starts, and its first polls move the timers the
previous version left in its old keys into the index (``correlation/keyspace.py``, "Upgrading").

A new kind of timer is one line: ``timers.register("<kind>", handler)`` where its loop's kinds are registered below.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from actions.due_kinds import KINDS as ACTION_KINDS
from actions.due_kinds import legacy as legacy_action
from correlation.core.decision import TIMER_KINDS, parse_timer
from correlation.store.keyspace import Keyspace
from kv.due import LEASE, DueHandler, DueIndex, DueTimers, Legacy, Poll
from stormwatch.cancelling import cancel_and_wait
from stormwatch.metrics import Metrics
from stormwatch.escalation_timers import ESCALATE_KIND
from stormwatch.sla_timers import SLA_KIND

log = structlog.get_logger("stormwatch")


def correlation_timers(index: DueIndex, firing: DueHandler, keys: Keyspace, sla: DueHandler | None = None,
                       escalate: DueHandler | None = None, *, lease: float = LEASE) -> DueTimers:
    """Correlation's kinds (``correlation.store.pipeline.TimerFiring``): held resolutions, holds for a cause, flap quiet
    periods, alert expiry, late causes' merges; and, given their handlers, the SLA checkpoints (``sla``,
    ``stormwatch.sla_timers.SlaTimers``) and the escalation steps (``escalate``,
    ``stormwatch.escalation_timers.EscalationTimers``). An old shard's claims (attempts of claims not completed) move
    with its timers, so a timer a worker of the previous version claimed and died on is recovered as it would have
    been. ``lease``: how long a claimed timer is held before it falls due again (a dead worker's timers wait that)."""
    timers = DueTimers(index, lease=lease)
    for kind in TIMER_KINDS:
        timers.register(kind, firing)
    if sla is not None:
        timers.register(SLA_KIND, sla)
    if escalate is not None:
        timers.register(ESCALATE_KIND, escalate)
    for n, key in enumerate(keys.legacy_timer_shards):  # old shard n shares the slot of the index's shard n
        timers.upgrade_from(Legacy(key, legacy_timer, shard=n, claims=keys.legacy_timer_claims(key)))
    return timers


def action_timers(index: DueIndex, work: DueHandler, keys: Keyspace) -> DueTimers:
    """The action runner's kinds (``actions.due.DueWork``): approved runs, approval expiry, verification, retries
    (a ``retry`` timer is completed by the task that makes its attempt, which counts it in ``due_fired`` itself)."""
    timers = DueTimers(index)
    for kind in ACTION_KINDS:
        timers.register(kind, work)
    timers.upgrade_from(Legacy(keys.legacy_action_due, legacy_action, lock=keys.due_upgrade_lock))
    return timers


def legacy_timer(member: str) -> tuple[str, str] | None:
    """A member of an old timer shard -> (kind, timer key): correlation keeps the engine's timer names as keys."""
    try:
        kind = parse_timer(member)[0]
    except ValueError:
        return None
    return kind, member


class DueLoop:
    """One loop over one set of kinds: start() then ``await stop()``; ``fire_due`` is one poll (tests call it by hand).

    ``stop`` returns once the loop has ended, so a stopped process's loop cannot outlive the connections it polls
    and fires through. It does not rely on the cancellation alone: a client library that swallows a cancel (the
    task then shows ``cancelling`` and carries on; redis-py's client reconnects on the next command) would leave a
    loop that keeps claiming timers and fails to publish them on a closed channel, each then held for its lease.
    The loop also ends at its next turn once stopping, its wait between polls ends at once, and it is cancelled
    again until it has ended (``stormwatch.cancelling``)."""

    def __init__(self, name: str, timers: DueTimers, clock: Callable[[], float], poll_seconds: float,
                 metrics: Metrics) -> None:
        self.name = name
        self.timers = timers
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.metrics = metrics
        self.polls = 0  # polls started
        self.completed = 0  # polls that returned (a test waits on it for a poll in flight to be over)
        self.backlog = False  # the last poll claimed a full share somewhere: more may be due already
        self._upgraded = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        for kind in timers.handlers:  # a series per kind from the start: /metrics does not grow when one first fires,
            metrics.due_fired.labels(kind)  # and rate() over it sees 0 rather than nothing

    async def fire_due(self) -> Poll:
        self.polls += 1
        self.backlog = False
        if not self._upgraded:
            self._upgraded = await self.timers.upgrade()
        poll = await self.timers.poll(self.clock())
        self.backlog = poll.backlog
        for kind, n in poll.fired.items():
            self.metrics.due_fired.labels(kind).inc(n)
        for kinds, exc in poll.failed:  # their timers stay claimed until the lease runs out, then fall due again
            self.metrics.redis_errors.inc()
            log.warning("due_failed", loop=self.name, kinds=kinds, error=repr(exc))
        self.completed += 1
        return poll

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.fire_due()
            except Exception as exc:  # noqa: BLE001 - retried at the next tick (leases keep timers safe)
                self.backlog = False  # wait a whole tick before trying again
                self.metrics.redis_errors.inc()
                log.warning("due_failed", loop=self.name, error=repr(exc))
            if self.backlog:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):  # the poll interval, or until stop()
                async with asyncio.timeout(self.poll_seconds):
                    await self._stopping.wait()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name=f"stormwatch-due-{self.name}")

    @property
    def running(self) -> bool:
        """Started and not ended yet."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """End the loop and wait until it has ended (a poll in hand is cancelled: its timers stay claimed until
        their lease runs out, as after a crash)."""
        self._stopping.set()
        task = self._task
        if task is None or task.done():
            return
        await cancel_and_wait([task])
        if not task.cancelled() and task.exception() is not None:
            log.warning("due_loop_failed", loop=self.name, error=repr(task.exception()))
