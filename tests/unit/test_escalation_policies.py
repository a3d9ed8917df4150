"""Escalation policies: the rule section, the whole-set checks, and the pure decisions (issue 18)."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from correlation.core.escalation_policies import (ACKNOWLEDGED, POLICY_REMOVED, RESOLVED, advance, open_escalation,
                                                  replay_escalation, step_text)
from rules.checks import check_rule_set
from rules.escalation_schema import EscalationPolicy
from rules.schema import RuleFile

POLICY = EscalationPolicy.model_validate(yaml.safe_load("""
name: dba
steps:
  - {after: 5m, action: page-secondary, repeat: {count: 3, interval: 10m}}
  - {after: 30m, if_not: resolved, action: page-manager}
"""))
OPENED = 1000.0


def test_runs_fall_due_from_the_opening() -> None:
    step = POLICY.steps[0]
    assert step.runs == 4
    assert [OPENED + step.offset(n) for n in range(step.runs)] == [1300.0, 1900.0, 2500.0, 3100.0]
    esc = open_escalation(POLICY, OPENED)
    assert esc.next_check(POLICY) == 1300.0


def test_a_step_fires_once_then_its_repeats_then_ends() -> None:
    esc = open_escalation(POLICY, OPENED)
    esc, fired, stopped = advance(esc, POLICY, "open", 1299.0)
    assert fired == () and stopped == ()
    esc, fired, _ = advance(esc, POLICY, "open", 1300.0)
    assert [(f.step, f.run, f.action) for f in fired] == [(1, 0, "page-secondary")]
    again, fired_again, _ = advance(esc, POLICY, "open", 1300.0)
    assert again == esc and fired_again == ()  # idempotent
    assert esc.next_check(POLICY) == 1900.0
    runs = []
    for now in (1900.0, 2500.0, 2800.0, 3100.0, 9999.0):
        esc, fired, _ = advance(esc, POLICY, "open", now)
        runs += [(f.step, f.run) for f in fired]
    assert runs == [(1, 1), (1, 2), (2, 0), (1, 3)]  # step 2 at 30m, between the repeats
    assert esc.state(0).fired == 4 and esc.next_check(POLICY) is None and not esc.running(POLICY)
    assert "repeat 3 of 3" in step_text(advance(open_escalation(POLICY, OPENED), POLICY, "open", 3100.0)[1][0], "dba")


def test_acknowledged_stops_the_acknowledged_steps_and_not_the_resolved_ones() -> None:
    esc, fired, _ = advance(open_escalation(POLICY, OPENED), POLICY, "open", 1300.0)
    assert len(fired) == 1
    esc, fired, stopped = advance(esc, POLICY, ACKNOWLEDGED, 1400.0)
    assert fired == () and [(s.step, s.why, s.left) for s in stopped] == [(1, ACKNOWLEDGED, 3)]
    esc, fired, stopped = advance(esc, POLICY, ACKNOWLEDGED, 2800.0)  # if_not: resolved still runs
    assert [(f.step, f.run) for f in fired] == [(2, 0)] and stopped == ()
    assert esc.next_check(POLICY) is None


def test_resolved_stops_every_step() -> None:
    esc, _, stopped = advance(open_escalation(POLICY, OPENED), POLICY, RESOLVED, 1100.0)
    assert [(s.step, s.why) for s in stopped] == [(1, RESOLVED), (2, RESOLVED)]
    assert advance(esc, POLICY, "open", 9999.0)[1] == ()  # a reopen does not start it again


def test_missed_runs_start_the_action_once() -> None:
    esc, fired, _ = advance(open_escalation(POLICY, OPENED), POLICY, "open", 2600.0)  # no worker polled until now
    assert [(f.step, f.run, f.missed) for f in fired] == [(1, 2, 2)]
    assert esc.state(0).done == 3 and esc.next_check(POLICY) == 2800.0


def test_a_policy_removed_by_a_reload_stops() -> None:
    esc = open_escalation(POLICY, OPENED)
    esc, fired, stopped = advance(esc, None, "open", 2000.0)
    assert fired == () and {s.why for s in stopped} == {POLICY_REMOVED} and esc.next_check(None) is None


def test_the_json_form_round_trips() -> None:
    esc, _, _ = advance(open_escalation(POLICY, OPENED), POLICY, "open", 1900.0)
    assert type(esc).from_json(esc.to_json()) == esc


def test_replay_stops_at_the_acknowledgement() -> None:
    runs = replay_escalation(POLICY, OPENED, acknowledged_at=2000.0, resolved_at=None, now=4000.0)
    assert [(f.step, f.run) for f in runs] == [(1, 0), (1, 1), (2, 0)]
    runs = replay_escalation(POLICY, OPENED, acknowledged_at=1300.0, resolved_at=1500.0, now=4000.0)
    assert runs == ()  # acknowledged exactly at the due time: the acknowledgement was written first


@pytest.mark.parametrize(("steps", "message"), [
    ([], "at least one step"),
    ([{"after": "10m", "action": "a"}, {"after": "5m", "action": "b"}], "steps[1].after (300s) is earlier"),
    ([{"after": "5m", "action": "a", "if_not": "closed"}], "if_not"),
    ([{"after": "5m", "action": "a", "repeat": {"count": 0, "interval": "1m"}}], "count"),
    ([{"after": "5m", "action": "a", "repeat": {"count": 2, "interval": "0s"}}], "longer than 0s"),
    ([{"after": "5m", "action": "a", "surprise": 1}], "surprise"),
])
def test_bad_policies_are_refused(steps: list[object], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        EscalationPolicy.model_validate({"name": "p", "steps": steps})
    assert message in str(err.value)


def test_rules_check_names_an_unknown_policy_and_an_unknown_action() -> None:
    rules = RuleFile.model_validate(yaml.safe_load("""
actions:
  - {name: page-secondary, type: notify, config: {channel: slack, url: "https://hooks.example.com/x", text: hi}}
escalation_policies:
  - name: dba
    steps: [{after: 5m, action: page-secondry}]
groups:
  - {name: db, escalation: dbx}
  - {name: web, escalation: dba}
"""))
    problems = {(p.loc, p.message) for p in check_rule_set([("r.yaml", rules)])}
    assert problems == {
        (("escalation_policies", 0, "steps", 0, "action"),
         "unknown action 'page-secondry'; defined actions: page-secondary"),
        (("groups", 0, "escalation"), "unknown escalation policy 'dbx'; known policies: dba"),
    }
