"""Service-level policies and SLA records: selection, checkpoints, met/breached, pauses, retarget, reopen (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from correlation.core.calendars import Calendar
from correlation.core.service_levels import (BREACHED, MET, RUNNING, WARNING, SlaRecord, calendars_by_name, fire,
                                             incident_facts, meet, open_records, pause, reopen, resume, retarget,
                                             select_policy)
from rules.loader import load_rule_set
from rules.calendar_schema import ServiceLevelPolicy
from rules.schema import RuleFile

POLICIES = RuleFile.model_validate({
    "calendars": [{"name": "office", "time_zone": "Europe/Paris", "weekdays": ["monday:friday"],
                   "start": "08:00", "end": "18:00", "holidays": ["2026-12-25"]}],
    "service_levels": [
        {"name": "database", "match": ['service=~"orders-db|billing-db"'], "calendar": "24x7",
         "targets": {"P1": {"respond": "5m", "resolve": "4h"}, "P2": {"respond": "15m", "resolve": "8h"}}},
        {"name": "default", "calendar": "office", "targets": {"P3": {"resolve": "2d"}}},
    ],
})
ALWAYS = Calendar()


def policy_for(priority: str, service: str) -> ServiceLevelPolicy | None:
    return select_policy(POLICIES.service_levels, incident_facts(priority, "dba", "database", {"service": service}))


def test_first_matching_policy_wins() -> None:
    chosen = policy_for("P1", "orders-db")
    assert chosen is not None and chosen.name == "database"
    other = policy_for("P1", "web")
    assert other is not None and other.name == "default"
    assert other is not None and open_records(other, "P1", 0.0) == ()  # no target for P1 there: no SLA


def test_records_per_kind_and_checkpoints() -> None:
    policy = policy_for("P1", "orders-db")
    assert policy is not None
    respond, resolve = open_records(policy, "P1", 1000.0)
    assert (respond.kind, respond.target, resolve.kind, resolve.target) == ("respond", 300.0, "resolve", 14400.0)
    assert respond.next_check(ALWAYS) == 1150.0  # 50 %
    record, crossing = fire(respond, ALWAYS, 1149.0)
    assert crossing is None and record == respond
    record, crossing = fire(respond, ALWAYS, 1150.0)
    assert crossing is not None and (crossing.stage, crossing.fraction, crossing.due) == (WARNING, 0.5, 1300.0)
    assert record.stage == WARNING and record.next_check(ALWAYS) == 1225.0
    assert fire(record, ALWAYS, 1150.0) == (record, None)  # fired again: nothing new
    record, crossing = fire(record, ALWAYS, 1300.0)  # 75 % and 100 % at once: only the breach is published
    assert crossing is not None and crossing.stage == BREACHED and record.breached_at == 1300.0
    assert record.next_check(ALWAYS) is None


def test_met_and_breached_are_exclusive() -> None:
    policy = policy_for("P1", "orders-db")
    assert policy is not None
    respond = open_records(policy, "P1", 0.0)[0]
    met = meet(respond, 100.0)
    assert met.stage == MET and met.met_at == 100.0
    assert fire(met, ALWAYS, 10_000.0) == (met, None)  # the breach timer after the ack does nothing
    breached, _ = fire(respond, ALWAYS, 300.0)
    late = meet(breached, 400.0)
    assert late.stage == BREACHED and late.met_at == 400.0  # acknowledged late: still breached, and when


def test_on_hold_pauses_and_resumes() -> None:
    policy = policy_for("P1", "orders-db")
    assert policy is not None
    resolve = open_records(policy, "P1", 0.0)[1]
    held = pause(resolve, 1000.0, "on_hold")
    assert held.paused and held.due(ALWAYS) is None and held.next_check(ALWAYS) is None
    back = resume(held, 2000.0)
    assert not back.paused and back.due(ALWAYS) == 14400.0 + 1000.0
    assert back.paused_seconds(3000.0) == 1000.0
    assert SlaRecord.from_json(back.to_json()) == back


def test_priority_change_retargets_from_the_original_start() -> None:
    policy = policy_for("P2", "orders-db")
    assert policy is not None
    respond = open_records(policy, "P2", 0.0)[0]
    assert respond.due(ALWAYS) == 900.0
    up = retarget(respond, policy, "P1")
    assert up is not None and up.started == 0.0 and up.due(ALWAYS) == 300.0 and up.priority == "P1"
    assert retarget(respond, policy, "P4") is None


def test_reopen_resumes_resolve() -> None:
    policy = policy_for("P1", "orders-db")
    assert policy is not None
    resolve = open_records(policy, "P1", 0.0)[1]
    done = meet(resolve, 3600.0)
    again = reopen(done, 7200.0)
    assert again.stage == RUNNING and again.met_at is None and again.due(ALWAYS) == 14400.0 + 3600.0


def test_business_hours_policy_counts_office_time() -> None:
    calendars = calendars_by_name(POLICIES.calendars)
    policy = policy_for("P3", "web")
    assert policy is not None
    (resolve,) = open_records(policy, "P3", 1_796_112_000.0)  # Tuesday 2026-12-01 09:00 Paris
    # 2d = 48 business hours: Tue 9 + Wed..Fri 30 + Mon 9 -> due Monday 7th at 17:00 (the weekend skipped)
    assert resolve.due(calendars["office"]) == 1_796_112_000.0 + 6 * 86400 + 8 * 3600


@pytest.mark.parametrize(("policy", "message"), [
    ({"name": "p", "targets": {}}, "needs targets"),
    ({"name": "p", "targets": {"P1": {}}}, "give respond, resolve or both"),
    ({"name": "p", "targets": {"P1": {"respond": "1h", "resolve": "5m"}}}, "respond is longer than resolve"),
    ({"name": "p", "match": ["alertname=X"], "targets": {"P1": {"respond": "5m"}}}, "matchers may name"),
    ({"name": "p", "warnings": [0.75, 0.5], "targets": {"P1": {"respond": "5m"}}}, "increasing"),
    ({"name": "p", "warnings": [1.0], "targets": {"P1": {"respond": "5m"}}}, "between 0 and 1"),
    ({"name": "p", "targets": {"P1": {"respond": "5m"}}, "escalate": "x"}, "Extra inputs"),
])
def test_invalid_policies_are_refused(policy: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RuleFile.model_validate({"service_levels": [policy]})


def test_invalid_calendars_are_refused() -> None:
    for calendar, message in [({"name": "24x7"}, "built in"), ({"name": "c", "start": "18:00", "end": "08:00"},
                                                               "must be before"),
                              ({"name": "c", "holidays": ["25/12/2026"]}, "invalid holiday"),
                              ({"name": "c", "time_zone": "Mars/Olympus"}, "unknown time zone")]:
        with pytest.raises(ValidationError, match=message):
            RuleFile.model_validate({"calendars": [calendar]})


def test_rules_check_refuses_a_dangling_calendar(tmp_path: Path) -> None:
    (tmp_path / "sla.yaml").write_text(
        "calendars:\n  - {name: office, start: '08:00', end: '18:00'}\n"
        "service_levels:\n  - name: p\n    calendar: ofice\n    targets: {P1: {respond: 5m}}\n")
    with pytest.raises(Exception, match=r"unknown calendar 'ofice'; known calendars: 24x7, office"):
        load_rule_set(tmp_path)


# --- properties --------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["fire", "ack", "hold", "release"]), st.floats(0, 2000)), max_size=12))
def test_a_record_ends_met_or_breached_never_both_and_firing_again_changes_nothing(
        steps: list[tuple[str, float]]) -> None:
    policy = policy_for("P1", "orders-db")
    assert policy is not None
    record = open_records(policy, "P1", 0.0)[0]
    published = 0
    now = 0.0
    for what, dt in steps:
        now += dt
        if what == "fire":
            record, crossing = fire(record, ALWAYS, now)
            published += crossing is not None
            assert fire(record, ALWAYS, now) == (record, None)  # idempotent
        elif what == "ack":
            record = meet(record, now)
        elif what == "hold":
            record = pause(record, now, "on_hold")
        else:
            record = resume(record, now)
        assert record.stage in (RUNNING, WARNING, BREACHED, MET)
        assert not (record.stage == MET and record.breached_at is not None)
        assert published <= len(record.checkpoints()) and record.warned <= len(record.checkpoints())
        if record.stage == BREACHED:
            assert record.breached_at is not None
