"""The typed action run record: parsed from the hash's text, written back exactly (so the stored layout, and the
API's and the CLI's answers, stay what they were)."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from actions.run_record import ActionRun, render

SUCCEEDED = {
    "run_id": "9f2c", "incident": "INC-1", "action": "restart", "type": "http", "rule": "web", "trigger": "created",
    "event_id": "ev-1", "event_at": "1800000000.25", "created_at": "1800000001.5", "state": "succeeded",
    "finished_at": "1800000002.0", "inputs": '{"url":"https://x/fix","headers":{"Authorization":"<secret:TOKEN>"}}',
    "attempt": "2", "duration": "0.012345", "started_at": "1800000001.75", "detail": "HTTP 200",
    "output": '{"status":200,"body":"ok"}', "retryable": "0", "verify_at": "1800000302.0",
}


def test_a_stored_run_parses_to_its_types_and_is_written_back_byte_for_byte() -> None:
    run = ActionRun.from_stored(SUCCEEDED)
    assert (run.state, run.attempt, run.retryable, run.event_at, run.duration) == ("succeeded", 2, False,
                                                                                   1800000000.25, 0.012345)
    assert run.inputs == {"url": "https://x/fix", "headers": {"Authorization": "<secret:TOKEN>"}}
    assert run.output == {"status": 200, "body": "ok"} and run.problem is None and run.extra == {}
    assert orjson.dumps(run.public()) == orjson.dumps(SUCCEEDED)  # same keys, same order, same text


def test_a_problem_run_and_a_decided_run_round_trip() -> None:
    stored = {"run_id": "a1", "incident": "", "action": "page", "type": "notify", "rule": "p", "trigger": "opened",
              "event_id": "e", "event_at": "0.0", "created_at": "1800000000", "problem": "PRB-1",
              "state": "approved", "finished_at": "1800000000", "inputs": "{}", "saved": '{"problem":{"id":"PRB-1"}}',
              "expires_at": "1800003600", "reason": "approval_pending", "detail": "waiting",
              "decided_by": "sre", "decided_at": "1800000100.5"}
    run = ActionRun.from_stored(stored)
    assert (run.incident, run.problem, run.subject, run.created_at) == ("", "PRB-1", "PRB-1", 1800000000)
    assert isinstance(run.created_at, int) and run.saved == {"problem": {"id": "PRB-1"}}
    assert list(run.stored().items()) == list(stored.items())


def test_text_that_is_not_of_its_type_and_unknown_fields_are_kept_verbatim() -> None:
    stored = {"run_id": "r", "state": "paused", "attempt": "01", "duration": "", "created_at": "1.50",
              "inputs": "{not json", "retryable": "yes", "later_field": "x"}
    run = ActionRun.from_stored(stored)
    assert (run.state, run.attempt, run.duration, run.created_at, run.inputs, run.retryable) == (None,) * 6
    assert run.extra == {k: v for k, v in stored.items() if k != "run_id"}
    assert list(run.stored().items()) == list(stored.items())


def test_a_change_keeps_the_other_fields_text_and_every_field_s_place() -> None:
    run = ActionRun.from_stored(SUCCEEDED)
    verified = run.changed(verified="remediated", verified_at=1800000300, state="succeeded")
    stored = verified.stored()
    assert list(stored) == [*SUCCEEDED, "verified", "verified_at"]  # as HSET leaves a hash
    assert stored["verified_at"] == "1800000300" and stored["event_at"] == SUCCEEDED["event_at"]
    assert run.verified is None  # a value: the original is unchanged


def test_a_write_is_checked_against_the_field_types_and_rendered_as_the_runner_always_wrote_it() -> None:
    fields = ActionRun.fields("r", state="skipped", finished_at=1800000000.5, inputs={"url": "u"}, reason="shadow",
                              detail="", retryable=True, attempt=3, started_at=1800000000, output={})
    assert fields == {"state": "skipped", "finished_at": "1800000000.5", "inputs": '{"url":"u"}',
                      "reason": "shadow", "detail": "", "retryable": "1", "attempt": "3",
                      "started_at": "1800000000", "output": "{}"}
    with pytest.raises(ValidationError):
        ActionRun.fields("r", state="nonsense")
    with pytest.raises(ValidationError):
        ActionRun.fields("r", attempt="3")  # strict: a number is a number
    with pytest.raises(ValidationError):
        ActionRun.fields("r", no_such_field=1)


@pytest.mark.parametrize("value", [0.1, 1e16, 1800000000.123456, 1e-7, 12, 0, float("inf")])
def test_numbers_are_written_as_redis_py_writes_them_and_read_back_equal(value: float) -> None:
    text = render(value)
    assert text == (repr(value) if isinstance(value, float) else str(value))
    assert ActionRun.from_stored({"run_id": "r", "created_at": text}).created_at == value


def test_a_run_is_a_value() -> None:
    run = ActionRun.new(run_id="r", state="running")
    with pytest.raises(ValidationError):
        run.state = "failed"  # type: ignore[misc]


def test_a_retrying_run_round_trips_with_when_its_next_attempt_is_due() -> None:
    stored = SUCCEEDED | {"state": "retrying", "attempt": "1", "retryable": "1", "detail": "HTTP 503",
                          "retry_at": "1800000012.5", "saved": '{"incident":{"id":"INC-1"}}'}
    del stored["finished_at"], stored["verify_at"]  # not finished: no finished_at
    run = ActionRun.from_stored(stored)
    assert (run.state, run.attempt, run.retryable, run.retry_at, run.finished_at) == ("retrying", 1, True,
                                                                                     1800000012.5, None)
    assert run.extra == {} and run.saved == {"incident": {"id": "INC-1"}}
    assert list(run.stored().items()) == list(stored.items())
