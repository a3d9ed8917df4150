"""Due work of the action runner: the handler of its timer kinds (``actions/due_kinds.py``) on the due-time
service (``kv.due``), which hands each due timer to one worker at a time. Each kind is idempotent: a timer claimed
again after a worker died finds its work done, or does it once.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from actions.due_kinds import APPROVAL_EXPIRY, APPROVED, VERIFY
from actions.runner import ActionRunner
from actions.templates import SecretMissing, Secrets, TemplateFailed, context
from kv.due import Due

log = structlog.get_logger("stormwatch.actions")


class DueWork:
    def __init__(self, runner: ActionRunner) -> None:
        self.runner = runner

    async def fire(self, due: Sequence[Due], now: float) -> list[Due]:
        """Do each claimed timer's work; returns those done (one that failed stays claimed: its lease runs out and
        a later poll tries again)."""
        done = []
        for timer in due:
            try:
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

    async def _ready(self, run_id: str) -> None:
        """Execute an approved run (or resume one whose worker died while running it)."""
        r = self.runner
        run = await r.state.load(run_id)
        if run is None or run.state not in ("approved", "running"):
            return
        rule_set = r.rules()
        action = next((a for a in rule_set.actions if a.name == run.action), None) if rule_set else None
        if action is None:
            status, _ = await r.state.claim(run_id, r.owner, 60.0, resumable=("approved", "running"))
            if status == "claimed":
                await r._settle(run, "failed", r.clock(), detail="the action is no longer defined")
            return
        status, _ = await r.state.claim(run_id, r.owner, r.lease(action), resumable=("approved", "running"))
        if status != "claimed":
            return
        saved = run.saved
        if saved is None:  # never the case for an approved run; the lease runs out and a later poll finds it again
            raise ValueError(f"run {run_id} has no saved event context")
        secrets = Secrets(r.environ)
        try:
            prepared = r.executors[action.type].prepare(action, context(saved, saved.get("alerts") or [], action.name),
                                                        r.renderer, secrets)
        except (TemplateFailed, SecretMissing) as exc:
            await r._settle(run, "failed", r.clock(), detail=secrets.scrub(str(exc)), reason="inputs")
            return
        await r.execute(run, action, prepared, secrets)

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
