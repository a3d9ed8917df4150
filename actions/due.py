"""Due work of the action runner: the handler of its timer kinds (``actions/due_kinds.py``) on the due-time
service (``kv.due``), which hands each due timer to one worker at a time. Each kind is idempotent: a timer claimed
again after a worker died finds its work done, or does it once.

A ``retry`` timer's attempt runs in a task of its own, so a slow attempt holds up neither the other due work nor the
next polls; the task completes its timer when the attempt is recorded. Until then the timer stays claimed, so if
this worker stops or dies mid-attempt the timer falls due again when its lease runs out, and the worker that claims
it then runs the attempt once the run's own claim has lapsed (at least once, as for any run whose worker died).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog
from rules.schema import Action

from actions.due_kinds import APPROVAL_EXPIRY, APPROVED, RETRY, VERIFY
from actions.run_record import ActionRun
from actions.runner import ActionRunner
from actions.templates import SecretMissing, Secrets, TemplateFailed, context
from kv.due import Due

log = structlog.get_logger("stormwatch.actions")


class DueWork:
    def __init__(self, runner: ActionRunner, complete: Callable[[Sequence[Due]], Awaitable[None]] | None = None,
                 fired: Callable[[str], None] | None = None) -> None:
        """``complete``: the due index's completion, for the timers done in their own tasks (``retry``; default
        the runner's index), and ``fired``: told the kind of each of those once done (the shell's metric)."""
        self.runner = runner
        self.complete = runner.state.due.complete if complete is None else complete
        self.fired = fired
        self.attempts: dict[str, asyncio.Task[None]] = {}  # run id -> its attempt under way in this process

    async def fire(self, due: Sequence[Due], now: float) -> list[Due]:
        """Do each claimed timer's work; returns those done (one that failed stays claimed: its lease runs out and
        a later poll tries again). A ``retry`` timer is started in its task and completed by it."""
        done = []
        for timer in due:
            try:
                if timer.kind == RETRY:
                    self._start_retry(timer, now)
                    continue
                if timer.kind == APPROVED:
                    await self._ready(timer.key)
                elif timer.kind == APPROVAL_EXPIRY:
                    await self._expire(timer.key, now)
                elif timer.kind == VERIFY:
                    await self._verify(timer.key, now)
            except Exception as exc:  # noqa: BLE001 - the lease runs out and another poll tries again
                log.warning("action_due_failed", kind=timer.kind, run_id=timer.key, error=repr(exc))
                continue
            done.append(timer)
        return done

    async def stop(self, drain_seconds: float = 30.0) -> None:
        """Let the attempts under way finish for up to ``drain_seconds``, then cancel the rest (their timers stay
        claimed: another worker runs them when the leases run out)."""
        tasks = set(self.attempts.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=drain_seconds)
        for task in late:
            task.cancel()
        if late:
            log.warning("action_retries_abandoned_on_stop", runs=len(late))
            await asyncio.gather(*late, return_exceptions=True)

    # -- retries -------------------------------------------------------------------------------------------------

    def _start_retry(self, timer: Due, now: float) -> None:
        if timer.key in self.attempts:  # claimed again while this process still runs it: the lease runs out
            return
        task = asyncio.create_task(self._retry_task(timer, now), name=f"stormwatch-retry-{timer.key}")
        self.attempts[timer.key] = task
        task.add_done_callback(lambda _: self.attempts.pop(timer.key, None))

    async def _retry_task(self, timer: Due, now: float) -> None:
        try:
            done = await self._retry(timer.key, now)
            if done:
                await self.complete([timer])
                if self.fired is not None:
                    self.fired(timer.kind)
        except Exception as exc:  # noqa: BLE001 - the timer stays claimed: its lease runs out, a later poll retries
            log.warning("action_due_failed", kind=timer.kind, run_id=timer.key, error=repr(exc))

    async def _retry(self, run_id: str, now: float) -> bool:
        """The next attempt of a retrying run; True when the timer is done. A ``running`` run is one whose worker
        stopped mid-attempt, or before recording ``retrying`` (``ActionRunner._retry_later``): once its claim lapses
        it is run again (attempt: the last one recorded, plus one), or, a first attempt with no saved event context,
        left to its event, which was not acked and is delivered again. False (the timer stays claimed, due again
        after its lease) while a worker holds the run."""
        r = self.runner
        run = await r.state.load(run_id)
        if run is None or run.state not in ("retrying", "running"):
            return True  # settled since (or gone): nothing is left to do
        if run.state == "retrying" and run.retry_at is not None and run.retry_at > now:
            await r.state.schedule(RETRY, run_id, run.retry_at)  # not due yet by this clock: at its time
            return True
        action = self._action(run.action)
        lease = r.lease(action) if action is not None else 60.0
        status = await r.state.claim_retry(run_id, r.owner, lease, run.attempt)
        if status != "claimed":
            return status != "busy"
        if run.saved is None:  # its event takes it over: released as it was
            await r.state.finish(run_id, r.owner, {})
            return True
        await self._run_claimed(run, action)
        return True

    async def _ready(self, run_id: str) -> None:
        """Execute an approved run (or resume one whose worker died while running it)."""
        r = self.runner
        run = await r.state.load(run_id)
        if run is None or run.state not in ("approved", "running"):
            return
        if run.saved is None:  # never the case for an approved run; the lease runs out and a later poll finds it
            raise ValueError(f"run {run_id} has no saved event context")
        action = self._action(run.action)
        lease = r.lease(action) if action is not None else 60.0
        status, _ = await r.state.claim(run_id, r.owner, lease, resumable=("approved", "running"))
        if status == "claimed":
            await self._run_claimed(run, action)

    def _action(self, name: str | None) -> Action | None:
        rule_set = self.runner.rules()
        return next((a for a in rule_set.actions if a.name == name), None) if rule_set else None

    async def _run_claimed(self, run: ActionRun, action: Action | None) -> None:
        """The next attempt of a run just claimed (after the last one recorded), from its saved event context;
        failed if its action is no longer defined or its inputs no longer render."""
        r = self.runner
        if action is None:
            await r._settle(run, "failed", r.clock(), detail="the action is no longer defined")
            return
        saved = run.saved or {}
        secrets = Secrets(r.environ)
        try:
            prepared = r.executors[action.type].prepare(action, context(saved, saved.get("alerts") or [], action.name),
                                                        r.renderer, secrets)
        except (TemplateFailed, SecretMissing) as exc:
            await r._settle(run, "failed", r.clock(), detail=secrets.scrub(str(exc)), reason="inputs")
            return
        await r.execute(run, action, prepared, secrets, saved, attempt=(run.attempt or 0) + 1)

    async def _expire(self, run_id: str, now: float) -> None:
        r = self.runner
        run = await r.state.load(run_id)
        if run is not None and run.state == "approved":  # approved, but its ready entry was never added
            await r.state.schedule(APPROVED, run_id, now)
            return
        if await r.state.transition(run_id, "pending_approval", "expired", {"finished_at": now}):
            run = await r.state.load(run_id)
            assert run is not None
            await r.record(run, "expired", now, {"detail": "not approved in time", "reason": "expired"})

    async def _verify(self, run_id: str, now: float) -> None:
        r = self.runner
        run = await r.state.load(run_id)
        if run is None or run.state != "succeeded" or run.verified:
            return
        incident_id = run.incident or ""
        incident = await r.incidents.incident(incident_id)
        resolved = incident is not None and incident.get("status") == "resolved"
        verdict = "remediated" if resolved else "escalated"
        if not await r.state.transition(run_id, "succeeded", "succeeded", {"verified": verdict, "verified_at": now}):
            return
        if resolved:
            detail = "incident resolved within the verify window: remediated"
        else:
            detail = "incident not resolved within the verify window: escalated"
            await r.incidents.escalate(incident_id, f"action {run.action} did not remediate", now)
        await r.record(run, verdict, now, {"detail": detail, "reason": "verify"})
