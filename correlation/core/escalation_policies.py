"""Escalation of an incident: which steps of its policy fall due and start their action, and when to look next
(pure: ``now`` and the incident's status are arguments, there is no I/O).

A policy (``rules.escalation_schema.EscalationPolicy``) is ordered steps; step ``i``'s run ``n`` (0: the first,
1..count: its repeats) falls due at ``opened + after + n * interval``. An incident following a policy has one
:class:`Escalation`: per step, how many of its runs are decided (``done``), how many started their action
(``fired``), and why it stopped (``acknowledged``, ``resolved``, ``policy_removed``; empty while it runs).

:func:`advance` decides at ``now``:

- a step whose condition holds (``if_not: acknowledged`` and the incident is acknowledged or resolved;
  ``if_not: resolved`` and it is resolved) stops, with every run it had left;
- otherwise its runs due at ``now`` that are not decided yet start the action once: the latest of them (runs a
  worker missed while none was polling are decided without starting anything, as the SLA's checkpoints are: paging
  three times at once helps no one).

The store applies the result under the incident's compare-and-set, so whichever of an acknowledgement and a
step's start is *written* first decides: the step sees the acknowledgement and stops, or the step is recorded as
started (its action runs) and the acknowledgement then stops the steps left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rules.escalation_schema import EscalationPolicy, EscalationStep

ACKNOWLEDGED, RESOLVED, POLICY_REMOVED = "acknowledged", "resolved", "policy_removed"


def condition_met(step: EscalationStep, status: str) -> str:
    """Why the step must not start anything any more (``acknowledged``, ``resolved``), or "" while it may."""
    if status == RESOLVED:
        return RESOLVED
    if step.if_not == ACKNOWLEDGED and status == ACKNOWLEDGED:
        return ACKNOWLEDGED
    return ""


@dataclass(frozen=True, slots=True)
class StepState:
    done: int = 0  # runs decided (started, or missed while no worker polled)
    fired: int = 0  # runs that started the action
    stopped: str = ""  # acknowledged | resolved | policy_removed; "" while running


@dataclass(frozen=True, slots=True)
class Fired:
    """A step's run that starts its action now."""

    step: int  # 1-based, as people read it
    run: int  # 0: the step's first run, 1..repeats: its repeats
    runs: int  # 1 + the step's repeat count
    action: str
    if_not: str
    due: float  # when it fell due
    missed: int = 0  # earlier runs of the step decided with it, without starting anything


@dataclass(frozen=True, slots=True)
class Stopped:
    step: int  # 1-based
    why: str
    left: int  # runs it had not started


@dataclass(frozen=True, slots=True)
class Escalation:
    policy: str
    opened: float  # the incident's creation: every step counts from it
    steps: tuple[StepState, ...] = ()

    def state(self, i: int) -> StepState:
        return self.steps[i] if i < len(self.steps) else StepState()

    @property
    def fired(self) -> int:
        return sum(s.fired for s in self.steps)

    def running(self, policy: EscalationPolicy | None) -> bool:
        """Some step may still start its action."""
        return policy is not None and any(
            not self.state(i).stopped and self.state(i).done < step.runs for i, step in enumerate(policy.steps))

    def next_check(self, policy: EscalationPolicy | None) -> float | None:
        """When the next run of a running step falls due; None: nothing left."""
        if policy is None:
            return None
        dues = [self.opened + step.offset(state.done) for i, step in enumerate(policy.steps)
                if not (state := self.state(i)).stopped and state.done < step.runs]
        return min(dues, default=None)

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "opened": self.opened,
                "steps": [{"done": s.done, "fired": s.fired, "stopped": s.stopped} for s in self.steps]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Escalation:
        return cls(policy=data["policy"], opened=float(data["opened"]),
                   steps=tuple(StepState(int(s.get("done", 0)), int(s.get("fired", 0)), s.get("stopped") or "")
                               for s in data.get("steps", ())))


def open_escalation(policy: EscalationPolicy, opened: float) -> Escalation:
    return Escalation(policy.name, opened, tuple(StepState() for _ in policy.steps))


def advance(escalation: Escalation, policy: EscalationPolicy | None, status: str, now: float
            ) -> tuple[Escalation, tuple[Fired, ...], tuple[Stopped, ...]]:
    """The escalation at ``now`` for an incident of ``status`` (open, acknowledged, resolved). ``policy`` None: the
    rule set no longer defines it, so every step left stops. Idempotent: advanced again at the same ``now`` and
    status, nothing changes."""
    fired: list[Fired] = []
    stopped: list[Stopped] = []
    if policy is None:
        states = []
        for i, state in enumerate(escalation.steps):
            if not state.stopped:
                stopped.append(Stopped(i + 1, POLICY_REMOVED, 0))
                state = replace(state, stopped=POLICY_REMOVED)
            states.append(state)
        return replace(escalation, steps=tuple(states)), (), tuple(stopped)
    states = []
    for i, step in enumerate(policy.steps):
        state = escalation.state(i)
        if state.stopped or state.done >= step.runs:
            states.append(state)
            continue
        why = condition_met(step, status)
        if why:
            stopped.append(Stopped(i + 1, why, step.runs - state.done))
            states.append(replace(state, stopped=why))
            continue
        due = [n for n in range(state.done, step.runs) if escalation.opened + step.offset(n) <= now]
        if due:
            last = due[-1]
            fired.append(Fired(i + 1, last, step.runs, step.action, step.if_not, escalation.opened + step.offset(last),
                               missed=len(due) - 1))
            state = replace(state, done=last + 1, fired=state.fired + 1)
        states.append(state)
    return replace(escalation, steps=tuple(states)), tuple(fired), tuple(stopped)


def step_text(fired: Fired, policy: str) -> str:
    """The timeline's words for a step that started its action."""
    text = f"escalation step {fired.step}: started action {fired.action} (policy {policy}, not {fired.if_not}"
    if fired.run:
        text += f"; repeat {fired.run} of {fired.runs - 1}"
    if fired.missed:
        text += f"; {fired.missed} earlier run{'s' if fired.missed > 1 else ''} missed while no worker polled"
    return text + ")"


def stop_text(stopped: Sequence[Stopped], policy: str) -> str:
    """The timeline's words for steps that stopped at once (one entry per update)."""
    why = stopped[0].why
    steps = ", ".join(str(s.step) for s in stopped)
    if why == POLICY_REMOVED:
        return f"escalation stopped: policy {policy} is no longer defined (steps {steps})"
    return f"escalation stopped: {why} (policy {policy}; step{'s' if len(stopped) > 1 else ''} {steps})"


def replay_escalation(policy: EscalationPolicy, opened: float, acknowledged_at: float | None,
                      resolved_at: float | None, now: float) -> tuple[Fired, ...]:
    """Every run an incident's escalation started up to ``now``, from its history, as the rule tests (``replay/``)
    see them: each run fires at its due time unless the incident was acknowledged (or resolved, per ``if_not``)
    at or before it (the acknowledgement written first wins)."""
    out: list[Fired] = []
    for i, step in enumerate(policy.steps):
        for n in range(step.runs):
            due = opened + step.offset(n)
            if due > now:
                break
            stop_at = resolved_at if step.if_not == RESOLVED else min(
                (t for t in (acknowledged_at, resolved_at) if t is not None), default=None)
            if stop_at is not None and stop_at <= due:
                break
            out.append(Fired(i + 1, n, step.runs, step.action, step.if_not, due))
    return tuple(out)
