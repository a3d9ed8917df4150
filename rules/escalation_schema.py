"""Escalation policies in rule files (``escalation_policies:``): named, ordered steps that start actions while an
incident is not acknowledged (or not resolved). Group rules name one (``escalation: <policy>``); the whole-set checks
(``rules/checks.py``) refuse an unknown policy or action. Reference: ``docs/service-levels.md``, "Escalation".

Each step's ``after`` counts from the incident's opening (its ``created_at``), not from the previous step: every
due time is a pure function of the opening and the policy, so a worker that was down does not push the later steps
back, and rule tests read step times off the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rules.scalars import _fail
from rules.schema_types import Duration, Name, PositiveDuration, RuleModel

#: what a step waits for: while the incident is not acknowledged (acknowledged or resolved both stop it), or not
#: resolved
IfNot = Literal["acknowledged", "resolved"]
#: the most repeats a step may have (a bound on the runs one incident can start)
MAX_REPEATS = 100


class EscalationRepeat(RuleModel):
    """Run the step's action ``count`` more times, every ``interval`` after its first run."""

    count: int = Field(ge=1, le=MAX_REPEATS)
    interval: PositiveDuration


class EscalationStep(RuleModel):
    """``after`` the incident opened, if it is not ``if_not`` yet, start ``action`` (then ``repeat``)."""

    after: Duration
    if_not: IfNot = "acknowledged"
    action: Name
    repeat: EscalationRepeat | None = None

    @property
    def runs(self) -> int:
        """How many times the step may start its action: once, plus its repeats."""
        return 1 + (self.repeat.count if self.repeat is not None else 0)

    def offset(self, n: int) -> float:
        """Seconds after the incident opened that run ``n`` (0: the first, 1..count: the repeats) falls due."""
        return self.after + (n * self.repeat.interval if self.repeat is not None and n else 0.0)


class EscalationPolicy(RuleModel):
    """Ordered steps; a group rule names the policy with ``escalation: <name>``."""

    name: Name
    description: str = ""
    steps: tuple[EscalationStep, ...]

    @model_validator(mode="after")
    def _ordered(self) -> EscalationPolicy:
        if not self.steps:
            raise _fail("needs at least one step, e.g. [{after: 5m, action: page-secondary}]")
        for i, (before, step) in enumerate(zip(self.steps, self.steps[1:], strict=False), start=1):
            if step.after < before.after:
                raise _fail(f"steps[{i}].after ({step.after:g}s) is earlier than steps[{i - 1}].after "
                            f"({before.after:g}s): steps are ordered, each after counted from the incident's opening")
        return self
