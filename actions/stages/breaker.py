"""The action's circuit breaker: open, its runs are skipped; half-open, one trial run at a time passes (leased for
the run's longest duration, so a trial whose worker died lets another try)."""

from __future__ import annotations

from typing import Protocol

from actions.stages.base import PROCEED, RunContext, Verdict, skip


class BreakerGate(Protocol):
    """actions.state.ActionState: a breaker's check-and-take of the half-open trial, in one step across workers."""

    async def breaker_allows(self, action: str, now: float, trial_lease: float = 60.0) -> bool: ...


class Breaker:
    name = "breaker"

    def __init__(self, gate: BreakerGate) -> None:
        self.gate = gate

    async def check(self, run: RunContext) -> Verdict:
        if await self.gate.breaker_allows(run.action.name, run.now, run.lease):
            return PROCEED
        return skip("breaker", "circuit breaker open")
