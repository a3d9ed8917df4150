"""Rate limits: the action's own (``rate_limit: [{max, window, per}]``, ``per`` a template naming the window) and
the fleet's (``STORMWATCH_ACTIONS_FLEET_MAX`` per ``..._FLEET_WINDOW_SECONDS``, every action together). A run
takes a slot in every window or in none (one step across workers); the first full window names the skip."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol
from collections.abc import Mapping, Sequence

from actions.stages.base import PROCEED, RunContext, Verdict, skip
from actions.templates import Renderer

FLEET = "*fleet*"  # the rate-limit window shared by every action


class RateWindows(Protocol):
    """actions.state.ActionState: take a slot in every (action, key, max, window) window or none; 0, or the
    1-based limit that is full."""

    async def take_rate(self, limits: Sequence[tuple[str, str, int, float]], member: str, now: float) -> int: ...


class RateLimit:
    name = "rate_limit"

    def __init__(self, windows: RateWindows, renderer: Renderer, fleet_max: int = 0,
                 fleet_window: float = 60.0) -> None:
        self.windows = windows
        self.renderer = renderer
        self.fleet_max = fleet_max
        self.fleet_window = fleet_window

    async def check(self, run: RunContext) -> Verdict:
        action = run.action
        limits = [(action.name, self.key(rl.per, run.ctx), rl.max, rl.window) for rl in action.rate_limit]
        if self.fleet_max:
            limits.append((FLEET, "all", self.fleet_max, self.fleet_window))
        full = await self.windows.take_rate(limits, run.run.run_id, run.now)
        if not full:
            return PROCEED
        which = limits[full - 1]
        what = "fleet-wide" if which[0] == FLEET else f"per {action.rate_limit[full - 1].per or 'action'}"
        return skip("rate_limit", f"rate limit {what}: {which[2]} per {which[3]:g}s reached")

    def key(self, per: str, ctx: Mapping[str, Any]) -> str:
        """The window a run counts in: ``all``, or a short hash of ``per`` rendered for this run."""
        if not per:
            return "all"
        return hashlib.blake2b(self.renderer.render(per, ctx).encode(), digest_size=8).hexdigest()
