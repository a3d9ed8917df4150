"""The stages that need Redis, on the real Redis with time moved by hand: the breaker (closed, open, one half-open
trial), rate limits (per rendered key, per action, fleet-wide; all windows or none) and approval (the expiry is
scheduled in the due index)."""

from __future__ import annotations

from typing import Any
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from rules.schema import Action

from actions.due_kinds import APPROVAL_EXPIRY, KINDS
from actions.run_record import ActionRun
from actions.stages.approval import Approval
from actions.stages.base import PROCEED, RunContext, hold, skip
from actions.stages.breaker import Breaker
from actions.stages.rate_limit import RateLimit
from actions.state import ActionState
from actions.templates import Renderer
from correlation.store.keyspace import Keyspace

T0 = 1_800_000_000.0


@pytest.fixture
async def state(clean) -> AsyncIterator[ActionState]:
    redis = aioredis.from_url(clean.redis_url)
    try:
        yield ActionState(redis, Keyspace(clean.namespace))
    finally:
        await redis.aclose()


def action(**policies: Any) -> Action:
    return Action.model_validate({"name": "fix", "type": "http", "config": {"url": "http://127.0.0.1/fix"},
                                  **policies})


def ctx(act: Action, run_id: str, now: float, incident: str = "INC-1", lease: float = 30.0) -> RunContext:
    run = ActionRun.new(run_id=run_id, incident=incident, action=act.name, type=act.type, rule="web",
                        trigger="created", event_id=f"ev-{run_id}", event_at=now, created_at=now)
    saved = {"event_id": f"ev-{run_id}", "incident": {"id": incident}}
    return RunContext(run, act, saved, {"incident": {"id": incident}}, {"url": "u"}, now, lease)


async def test_the_breaker_stage_skips_while_open_and_lets_one_trial_through_after_the_cooldown(state):
    stage, act = Breaker(state), action(breaker={"failures": 2, "cooldown": "10m"})
    assert await stage.check(ctx(act, "r1", T0)) == PROCEED
    await state.breaker_record("fix", False, 2, 600, T0 + 1)
    await state.breaker_record("fix", False, 2, 600, T0 + 2)
    assert await stage.check(ctx(act, "r2", T0 + 3)) == skip("breaker", "circuit breaker open")
    assert await stage.check(ctx(action(name="other"), "r3", T0 + 3)) == PROCEED  # per action
    # half-open: one trial, leased for the run's lease (30 s here)
    assert await stage.check(ctx(act, "r4", T0 + 603)) == PROCEED
    assert await stage.check(ctx(act, "r5", T0 + 604)) == skip("breaker", "circuit breaker open")
    assert await stage.check(ctx(act, "r6", T0 + 634)) == PROCEED  # the trial's worker died: its lease ran out


async def test_the_rate_limit_stage_counts_per_rendered_key_and_names_the_full_window(state):
    act = action(rate_limit={"max": 1, "window": "1m", "per": "{{ incident.id }}"})
    stage = RateLimit(state, Renderer())
    assert await stage.check(ctx(act, "r1", T0, "INC-1")) == PROCEED
    assert await stage.check(ctx(act, "r1", T0 + 1, "INC-1")) == PROCEED  # the same run keeps its slot
    assert await stage.check(ctx(act, "r2", T0 + 2, "INC-1")) == skip(
        "rate_limit", "rate limit per {{ incident.id }}: 1 per 60s reached")
    assert await stage.check(ctx(act, "r3", T0 + 3, "INC-2")) == PROCEED  # another key, another window
    assert await stage.check(ctx(act, "r4", T0 + 61, "INC-1")) == PROCEED  # the window moved on


async def test_the_fleet_window_is_shared_by_every_action_and_a_full_one_takes_no_slot_anywhere(state):
    stage = RateLimit(state, Renderer(), fleet_max=2, fleet_window=60.0)
    per_action = action(rate_limit={"max": 5, "window": "1m"})
    assert await stage.check(ctx(per_action, "r1", T0)) == PROCEED
    assert await stage.check(ctx(action(name="page"), "r2", T0 + 1)) == PROCEED
    assert await stage.check(ctx(per_action, "r3", T0 + 2)) == skip(
        "rate_limit", "rate limit fleet-wide: 2 per 60s reached")
    window = await state.redis.zrange(state.keys.action_rate("fix", "all"), 0, -1)
    assert window == [b"r1"]  # r3 took no slot in the action's own window either: all windows or none


async def test_the_approval_stage_holds_the_run_and_schedules_its_expiry(state):
    stage = Approval(state)
    assert await stage.check(ctx(action(), "r0", T0)) == PROCEED
    assert await state.due.count(KINDS) == 0
    run = ctx(action(approval="required", approval_expires="30m"), "r1", T0)
    assert await stage.check(run) == hold("approval_pending", f"waiting for approval until {T0 + 1800:.0f} "
                                          "(stormwatch actions approve r1)", saved=dict(run.saved),
                                          expires_at=T0 + 1800)
    assert await state.due.due_at(APPROVAL_EXPIRY, "r1") == T0 + 1800
