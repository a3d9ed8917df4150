"""The retry policy's arithmetic: the backoff before each next attempt, and the leases that no longer cover it."""

from __future__ import annotations

import pytest
from rules.schema import Action

from actions.runner import ActionRunner, RunnerConfig, backoff


def action(**retry: object) -> Action:
    return Action.model_validate({"name": "fix", "type": "http",
                                  "config": {"url": "https://example.com/fix", "timeout": "10s"}, "retry": retry})


@pytest.mark.parametrize(("attempt", "seconds"), [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (10, 30.0)])
def test_the_backoff_doubles_from_backoff_up_to_max_backoff(attempt: int, seconds: float) -> None:
    assert backoff(action().retry, attempt) == seconds  # the defaults: 1 s, at most 30 s


def test_the_backoff_follows_the_action_s_policy() -> None:
    retry = action(attempts=4, backoff="10s", max_backoff="15s").retry
    assert [backoff(retry, n) for n in (1, 2, 3)] == [10.0, 15.0, 15.0]


def runner(margin: float) -> ActionRunner:
    """Only the arithmetic is used: no state, incidents or observer behind it."""
    return ActionRunner(None, lambda: None, {}, None, None, lambda: 0.0,  # type: ignore[arg-type]
                        RunnerConfig(claim_margin=margin))


def test_a_claim_is_leased_for_one_attempt_and_a_breaker_trial_for_the_whole_run() -> None:
    r, act = runner(30.0), action(attempts=3, backoff="1s", max_backoff="20s")
    assert r.lease(act) == 10 + 5 + 30  # one attempt (timeout + 5 s) + the margin: backoffs are due timers
    assert r.longest(act) == 3 * (10 + 5) + 3 * 20 + 30  # every attempt and backoff: the half-open trial's hold
