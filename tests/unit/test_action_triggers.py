"""Which actions an event starts: a pure function of the rule's triggers, the defined actions and the event."""

from __future__ import annotations

import pytest

from actions.model import IncidentEvent, MalformedEvent, run_id
from actions.triggers import meets, planned_runs
from rules.action_schema import ActionTrigger, _trigger

DEFINED = {"page": object(), "fix": object(), "ticket": object()}


def event(kind: str = "created", priority: str = "P2", event_id: str = "e1", incident: str = "INC-ab-1"
          ) -> IncidentEvent:
    return IncidentEvent.parse({"event_id": event_id, "type": f"incident.{kind}",
                                "incident": {"id": incident, "rule": "r", "priority": priority}})


def triggers(*items: object) -> list[ActionTrigger]:
    return [_trigger(i) for i in items]


def test_a_bare_name_runs_on_created_only() -> None:
    (t,) = triggers("page")
    assert (str(t), t.on, t.min_priority) == ("page", ("created",), None)
    assert [p.action for p in planned_runs([t], DEFINED, event("created"))] == ["page"]
    for kind in ("updated", "resolved", "escalated"):
        assert planned_runs([t], DEFINED, event(kind)) == []


def test_on_and_min_priority() -> None:
    ts = triggers({"action": "fix", "on": ["created", "escalated"], "min_priority": "P2"},
                  {"action": "ticket", "on": ["resolved"]})
    assert [p.action for p in planned_runs(ts, DEFINED, event("created", "P1"))] == ["fix"]
    assert [p.action for p in planned_runs(ts, DEFINED, event("created", "P2"))] == ["fix"]
    assert planned_runs(ts, DEFINED, event("created", "P3")) == []
    assert planned_runs(ts, DEFINED, event("created", "")) == []  # no priority meets no minimum
    assert [p.action for p in planned_runs(ts, DEFINED, event("escalated", "P1"))] == ["fix"]
    assert [p.action for p in planned_runs(ts, DEFINED, event("resolved", "P5"))] == ["ticket"]


@pytest.mark.parametrize(("priority", "minimum", "ok"), [
    ("P1", "P1", True), ("P2", "P1", False), ("P5", "P5", True), ("P3", None, True), ("", None, True),
    ("bogus", "P5", False)])
def test_meets(priority: str, minimum: str | None, ok: bool) -> None:
    assert meets(priority, minimum) is ok


def test_one_run_per_incident_action_and_trigger() -> None:
    ts = triggers("page", {"action": "page", "on": ["created"]})  # listed twice: runs once
    runs = planned_runs(ts, DEFINED, event("created"))
    assert len(runs) == 1 and runs[0].run_id == run_id("INC-ab-1", "page", "created")
    again = planned_runs(ts, DEFINED, event("created", event_id="a-redelivery-or-replay"))
    assert again[0].run_id == runs[0].run_id  # the same incident's created trigger: the same run
    other = planned_runs(ts, DEFINED, event("created", incident="INC-ab-2"))
    assert other[0].run_id != runs[0].run_id


def test_every_update_is_its_own_trigger() -> None:
    ts = triggers({"action": "ticket", "on": ["updated"]})
    first = planned_runs(ts, DEFINED, event("updated", event_id="u1"))
    second = planned_runs(ts, DEFINED, event("updated", event_id="u2"))
    assert first[0].run_id != second[0].run_id
    assert planned_runs(ts, DEFINED, event("updated", event_id="u1"))[0].run_id == first[0].run_id


def test_undefined_actions_are_ignored() -> None:
    assert planned_runs(triggers("nobody"), DEFINED, event()) == []


@pytest.mark.parametrize("raw", [
    {}, {"event_id": "x", "type": "incident.created"}, {"event_id": "x", "type": "alert.created", "incident": {"id": "i"}},
    {"event_id": "", "type": "incident.created", "incident": {"id": "i"}},
    {"event_id": "x", "type": "incident.created", "incident": {"id": 5}}, [], "text"])
def test_malformed_events_raise_with_a_reason(raw: object) -> None:
    with pytest.raises(MalformedEvent) as caught:
        IncidentEvent.parse(raw)
    assert caught.value.reason == "invalid_event" and caught.value.detail


ROUTING_RULES = """
actions:
  - {name: fix, type: command, config: {argv: ["/bin/true"]}}
groups:
  - {name: acted, match: ['alertname="A"'], actions: [{action: fix, on: [created, resolved]}]}
  - {name: quiet, match: ['alertname="Q"']}
problems:
  - name: recurring
    match: ['alertname="A"']
    signature: [alertname]
    recurrence: {count: 3, within: 1h}
    actions: [{action: fix, on: [known_error]}]
"""


def test_the_action_index_says_which_events_the_runner_must_see(tmp_path) -> None:
    from events.amqp import action_event_type
    from actions.triggers import ActionIndex, CurrentActionIndex
    from rules.loader import load_rule_set

    (tmp_path / "rules.yaml").write_text(ROUTING_RULES)
    index = ActionIndex(load_rule_set(tmp_path))

    def incident(kind: str, rule: str) -> dict:
        return {"event_id": "e", "type": f"incident.{kind}", "incident": {"id": "INC-ab-1", "rule": rule}}

    assert [k for k in ("created", "updated", "resolved", "escalated") if index.actionable(incident(k, "acted"))] \
        == ["created", "resolved"]
    assert not any(index.actionable(incident(k, "quiet")) for k in ("created", "updated", "resolved"))
    assert not index.actionable(incident("created", "no-such-rule"))
    problem = {"event_id": "e", "type": "problem.known_error", "problem": {"id": "PRB-ab-1", "rule": "recurring"}}
    assert index.actionable(problem) and not index.actionable(problem | {"type": "problem.created"})
    for other in ("incident.assigned", "silence.created", "action.approved", "rules.reloaded"):
        assert not index.actionable({"type": other, "event_id": "e"})
    # what it cannot judge goes to the runner, which dead-letters it with a reason
    assert index.actionable({"type": "incident.created"}) and index.actionable({"no": "type"})
    assert index.actionable({"type": "incident.created", "incident": {"rule": 7}})
    # no rules: nothing starts; a reload is picked up by identity
    current: list = [None]
    follows = CurrentActionIndex(lambda: current[0])
    assert not follows(incident("created", "acted"))
    current[0] = index.rule_set
    assert follows(incident("created", "acted"))
    # publishers without rules (API, CLI) send every event of an action-starting kind
    assert action_event_type(incident("updated", "quiet")) and action_event_type(problem)
    assert not action_event_type({"type": "incident.assigned"}) and not action_event_type({"type": "silence.expired"})


def test_an_action_can_run_when_its_incident_merges_into_a_late_cause_s() -> None:
    from actions.triggers import ActionIndex
    from rules.schema import RuleSet

    ts = triggers({"action": "ticket", "on": ["merged"]}, "page")
    assert [p.action for p in planned_runs(ts, DEFINED, event("merged"))] == ["ticket"]
    assert [p.action for p in planned_runs(ts, DEFINED, event("created"))] == ["page"]
    # once per incident, however often the event is redelivered
    assert planned_runs(ts, DEFINED, event("merged", event_id="e2")) == planned_runs(ts, DEFINED, event("merged"))
    rule_set = RuleSet.model_validate({
        "actions": [{"name": "ticket", "type": "notify",
                     "config": {"channel": "webhook", "url": "https://hooks.example.com/x"}}],
        "groups": [{"name": "r", "actions": [{"action": "ticket", "on": ["merged"]}]}]})
    index = ActionIndex(rule_set)
    assert index.actionable({"type": "incident.merged", "incident": {"rule": "r"}})
    assert not index.actionable({"type": "incident.resolved", "incident": {"rule": "r"}})


def test_resolved_runs_once_per_resolution() -> None:
    """An incident reopened and resolved again runs its ``resolved`` actions again (a ticket resolves again); a
    redelivered copy of one resolution's event does not."""
    ts = triggers({"action": "ticket", "on": ["resolved"]})

    def resolved(at: float | None, event_id: str = "e1") -> IncidentEvent:
        incident = {"id": "INC-ab-1", "rule": "r", "priority": "P2"} | ({} if at is None else {"resolved_at": at})
        return IncidentEvent.parse({"event_id": event_id, "type": "incident.resolved", "incident": incident})

    first = planned_runs(ts, DEFINED, resolved(100.0))
    assert planned_runs(ts, DEFINED, resolved(100.0, "a-redelivery")) == first
    again = planned_runs(ts, DEFINED, resolved(250.5, "e9"))
    assert again[0].run_id != first[0].run_id and again[0].trigger_key == "resolved@250.5"
    # an event without resolved_at keeps the key of before
    assert planned_runs(ts, DEFINED, resolved(None))[0].run_id == run_id("INC-ab-1", "ticket", "resolved")
