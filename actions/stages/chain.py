"""The checks before a run, composed in one fixed order (docs/actions.md, "How a run is decided"):

    shadow      STORMWATCH_ACTIONS_SHADOW: recorded, not run
    dry_run     the action's ``dry_run: true``: recorded, not run
    breaker     the action's circuit breaker is open (or its half-open trial is taken): skipped
    rate_limit  a window of the action's ``rate_limit``, or the fleet's, is full: skipped
    approval    ``approval: required``: held until approved, rejected or expired

The first stage that does not proceed decides, and the stages after it are not asked: a shadowed or dry run
never takes the breaker's trial or a rate-limit slot, and a run refused by the breaker takes no slot.
"""

from __future__ import annotations

from typing import Protocol
from collections.abc import Sequence

from actions.stages.approval import Approval, DueSchedule
from actions.stages.base import PROCEED, RunContext, Stage, Verdict
from actions.stages.breaker import Breaker, BreakerGate
from actions.stages.dry_run import DryRun
from actions.stages.rate_limit import RateLimit, RateWindows
from actions.stages.shadow import Shadow
from actions.templates import Renderer

ORDER = ("shadow", "dry_run", "breaker", "rate_limit", "approval")


class Chain:
    """Stages in sequence; itself a stage (a chain may hold a chain)."""

    name = "chain"

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    async def check(self, run: RunContext) -> Verdict:
        for stage in self.stages:
            verdict = await stage.check(run)
            if verdict.outcome != "proceed":
                return verdict
        return PROCEED


class Policies(BreakerGate, RateWindows, DueSchedule, Protocol):
    """What the stages need from the action state (actions.state.ActionState is one)."""


def checks(policies: Policies, renderer: Renderer, *, shadow: bool = False, fleet_max: int = 0,
           fleet_window: float = 60.0) -> Chain:
    """The runner's chain, in ``ORDER``."""
    return Chain([Shadow(shadow), DryRun(), Breaker(policies), RateLimit(policies, renderer, fleet_max, fleet_window),
                  Approval(policies)])
