"""Shadow mode (``STORMWATCH_ACTIONS_SHADOW``): every run is recorded with its inputs, none is run."""

from __future__ import annotations

from actions.stages.base import PROCEED, RunContext, Verdict, skip


class Shadow:
    name = "shadow"

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    async def check(self, run: RunContext) -> Verdict:
        return skip("shadow", "shadow mode: recorded, not run") if self.enabled else PROCEED
