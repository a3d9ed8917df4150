"""The one small interface every check before a run implements, and what it is given and answers.

A stage looks at one run about to be executed and answers a ``Verdict``: proceed (the next stage decides), skip (the
run is recorded as skipped, with why) or hold (the run waits, e.g. for approval). Stages depend on small
capabilities (a breaker gate, rate windows, a due-time schedule), never on the whole action state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from collections.abc import Mapping

from rules.schema import Action

from actions.model import SkipReason
from actions.run_record import ActionRun


@dataclass(frozen=True, slots=True)
class RunContext:
    """One claimed run about to be decided: its record, its action, the event it came from, its inputs."""

    run: ActionRun
    action: Action
    saved: Mapping[str, Any]  # the event context (what an approved run is run with later)
    ctx: Mapping[str, Any]  # the template context (rate-limit ``per`` keys render against it)
    inputs: Mapping[str, Any]  # the rendered inputs, secrets masked
    now: float
    lease: float  # the action's longest possible run plus the claim margin


@dataclass(frozen=True, slots=True)
class Verdict:
    """A stage's answer. ``settle``: the state a run that does not proceed is recorded in; ``fields``: more of the
    record (written between ``inputs`` and ``reason``)."""

    outcome: Literal["proceed", "skip", "hold"]
    reason: SkipReason | None = None
    detail: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def settle(self) -> str:
        return {"skip": "skipped", "hold": "pending_approval"}.get(self.outcome, "running")


PROCEED = Verdict("proceed")


def skip(reason: SkipReason, detail: str) -> Verdict:
    return Verdict("skip", reason, detail)


def hold(reason: SkipReason, detail: str, **fields: Any) -> Verdict:
    return Verdict("hold", reason, detail, fields)


class Stage(Protocol):
    """One check before a run. ``name`` is its place in the documented order (``actions.stages.chain.ORDER``)."""

    name: str

    async def check(self, run: RunContext) -> Verdict: ...
