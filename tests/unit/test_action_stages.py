"""The checks before an action run: the pure stages (shadow, dry run), the chain's combinator and its order.
Stages that need Redis (breaker, rate limit, approval) are tested against the real Redis in
tests/integration/test_action_stages.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rules.schema import Action

from actions.run_record import ActionRun
from actions.stages.base import PROCEED, RunContext, Verdict, hold, skip
from actions.stages.chain import ORDER, Chain, checks
from actions.stages.dry_run import DryRun
from actions.stages.shadow import Shadow
from actions.templates import Renderer

ROOT = Path(__file__).resolve().parents[2]


def action(**policies: Any) -> Action:
    return Action.model_validate({"name": "fix", "type": "http", "config": {"url": "http://127.0.0.1/fix"},
                                  **policies})


def run_context(act: Action, now: float = 1_800_000_000.0) -> RunContext:
    run = ActionRun.new(run_id="r1", incident="inc-1", action=act.name, type=act.type, rule="web", trigger="created",
                        event_id="e1", event_at=now, created_at=now)
    return RunContext(run, act, {"event_id": "e1"}, {"incident": {"id": "inc-1"}}, {"url": "http://x"}, now, 90.0)


async def test_shadow_skips_every_run_when_on_and_lets_all_through_when_off() -> None:
    assert await Shadow(True).check(run_context(action())) == skip("shadow", "shadow mode: recorded, not run")
    assert await Shadow(False).check(run_context(action(dry_run=True))) == PROCEED


async def test_dry_run_skips_the_runs_of_a_dry_run_action_only() -> None:
    assert await DryRun().check(run_context(action(dry_run=True))) == skip("dry_run", "dry run: recorded, not run")
    assert await DryRun().check(run_context(action())) == PROCEED


def test_a_verdict_names_the_state_a_run_is_settled_in() -> None:
    assert (PROCEED.settle, skip("breaker", "x").settle, hold("approval_pending", "y").settle) == (
        "running", "skipped", "pending_approval")
    assert hold("approval_pending", "y", expires_at=5.0).fields == {"expires_at": 5.0}


class Recording:
    """A stage for testing the combinator itself: answers a fixed verdict and notes that it was asked."""

    def __init__(self, name: str, verdict: Verdict, asked: list[str]) -> None:
        self.name, self.verdict, self.asked = name, verdict, asked

    async def check(self, run: RunContext) -> Verdict:
        self.asked.append(self.name)
        return self.verdict


async def test_the_chain_asks_in_order_and_the_first_stage_that_does_not_proceed_decides() -> None:
    asked: list[str] = []
    chain = Chain([Recording("a", PROCEED, asked), Recording("b", skip("breaker", "open"), asked),
                   Recording("c", hold("approval_pending", "wait"), asked)])
    assert await chain.check(run_context(action())) == skip("breaker", "open")
    assert asked == ["a", "b"]  # c (e.g. a rate limit taking a slot) is never asked

    asked.clear()
    everything = Chain([Recording("a", PROCEED, asked), Recording("b", PROCEED, asked)])
    assert await everything.check(run_context(action())) == PROCEED and asked == ["a", "b"]
    assert await Chain([]).check(run_context(action())) == PROCEED


async def test_a_chain_is_itself_a_stage() -> None:
    asked: list[str] = []
    inner = Chain([Recording("x", PROCEED, asked), Recording("y", skip("shadow", "s"), asked)])
    outer = Chain([inner, Recording("z", PROCEED, asked)])
    assert await outer.check(run_context(action())) == skip("shadow", "s") and asked == ["x", "y"]


class NoPolicies:
    """Nothing here is called: the runner's chain is only built, to read its order."""

    async def breaker_allows(self, action: str, now: float, trial_lease: float = 60.0) -> bool:
        raise AssertionError("not called")

    async def take_rate(self, limits: Any, member: str, now: float) -> int:
        raise AssertionError("not called")

    async def schedule(self, kind: str, run_id: str, when: float) -> None:
        raise AssertionError("not called")


def test_the_runner_s_chain_is_in_the_documented_order() -> None:
    chain = checks(NoPolicies(), Renderer(), shadow=True, fleet_max=3)
    assert chain.names == ORDER == ("shadow", "dry_run", "breaker", "rate_limit", "approval")
    documented = (ROOT / "docs" / "actions.md").read_text()
    section = documented.split("## How a run is decided", 1)[1].split("\n## ", 1)[0]
    assert tuple(re.findall(r"^\d+\. `(\w+)`", section, re.M)) == ORDER
    module_doc = (ROOT / "actions" / "stages" / "chain.py").read_text()
    assert tuple(re.findall(r"^    (\w+) {2,}", module_doc, re.M)) == ORDER


async def test_a_shadowed_run_never_reaches_the_stages_that_touch_redis() -> None:
    """Shadow and dry run come first: they decide without the breaker's trial or a rate-limit slot being taken."""
    chain = checks(NoPolicies(), Renderer(), shadow=True, fleet_max=3)
    assert (await chain.check(run_context(action(approval="required")))).reason == "shadow"
    dry = checks(NoPolicies(), Renderer(), shadow=False)
    assert (await dry.check(run_context(action(dry_run=True, approval="required")))).reason == "dry_run"
