"""An action with ``dry_run: true``: its runs are recorded with their inputs, not run."""

from __future__ import annotations

from actions.stages.base import PROCEED, RunContext, Verdict, skip


class DryRun:
    name = "dry_run"

    async def check(self, run: RunContext) -> Verdict:
        return skip("dry_run", "dry run: recorded, not run") if run.action.dry_run else PROCEED
