"""``approval: required``: the run waits (``pending_approval``) until a person approves it (due work then runs it)
or rejects it, or until ``approval_expires`` passes (due work then expires it)."""

from __future__ import annotations

from typing import Protocol

from actions.due_kinds import APPROVAL_EXPIRY
from actions.stages.base import PROCEED, RunContext, Verdict, hold


class DueSchedule(Protocol):
    """actions.state.ActionState: a run's due work of a kind (``actions/due_kinds.py``) at a time."""

    async def schedule(self, kind: str, run_id: str, when: float) -> None: ...


class Approval:
    name = "approval"

    def __init__(self, due: DueSchedule) -> None:
        self.due = due

    async def check(self, run: RunContext) -> Verdict:
        if run.action.approval != "required":
            return PROCEED
        run_id = run.run.run_id
        expires = run.now + run.action.approval_expires
        await self.due.schedule(APPROVAL_EXPIRY, run_id, expires)
        return hold("approval_pending", f"waiting for approval until {expires:.0f} "
                    f"(stormwatch actions approve {run_id})", saved=dict(run.saved), expires_at=expires)
