"""Problem rules' actions: the trigger forms they accept, problem events parsed, and which runs an event starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.model import IncidentEvent, MalformedEvent, ProblemEvent, parse_event, run_id
from actions.templates import context
from actions.triggers import problem_runs
from rules.action_schema import ActionTrigger, _problem_trigger
from rules.loader import check_directory
from rules.schema import ProblemRule

DEFINED = {"ticket": object(), "page": object(), "close": object()}
PROBLEM = {"id": "PRB-0123456789ab-1", "rule": "recurring", "status": "open", "title": "recurring: Batch / billing",
           "team": "billing", "signature": {"alertname": "Batch", "service": "billing"},
           "incidents": ["INC-aa-1", "INC-aa-2"], "created_by": "INC-aa-2", "why": {"kind": "recurrence"}}


def event(kind: str = "created", event_id: str = "e1", problem: dict | None = None) -> ProblemEvent:
    return ProblemEvent.parse({"event_id": event_id, "type": f"problem.{kind}", "at": 5.0,
                               "problem": PROBLEM if problem is None else problem})


def triggers(*items: object) -> list[ActionTrigger]:
    return [_problem_trigger(i) for i in items]


def test_a_bare_name_runs_on_created_only() -> None:
    ts = triggers("ticket")
    assert [(p.action, p.trigger) for p in problem_runs(ts, DEFINED, event("created"))] == [("ticket", "created")]
    for kind in ("updated", "known_error", "resolved"):
        assert problem_runs(ts, DEFINED, event(kind)) == []


def test_on_lists_the_problem_kinds() -> None:
    ts = triggers({"action": "page", "on": ["created", "known_error"]}, {"action": "close", "on": ["resolved"]})
    assert [p.action for p in problem_runs(ts, DEFINED, event("known_error"))] == ["page"]
    assert [p.action for p in problem_runs(ts, DEFINED, event("resolved"))] == ["close"]
    assert problem_runs(ts, DEFINED, event("updated")) == []


def test_one_run_per_problem_action_and_trigger_whatever_the_event_id() -> None:
    ts = triggers("ticket", {"action": "ticket", "on": ["created"]})  # listed twice: runs once
    (run,) = problem_runs(ts, DEFINED, event("created", event_id="first"))
    (again,) = problem_runs(ts, DEFINED, event("created", event_id="republished"))
    assert run.run_id == again.run_id == run_id(PROBLEM["id"], "ticket", "created")
    other = problem_runs(ts, DEFINED, event("created", problem=PROBLEM | {"id": "PRB-0123456789ab-2"}))
    assert other[0].run_id != run.run_id  # the signature's next problem is another subject


def test_every_update_is_its_own_trigger_and_undefined_actions_are_ignored() -> None:
    ts = triggers({"action": "page", "on": ["updated"]}, "nobody")
    first = problem_runs(ts, DEFINED, event("updated", event_id="u1"))
    second = problem_runs(ts, DEFINED, event("updated", event_id="u2"))
    assert len(first) == len(second) == 1 and first[0].run_id != second[0].run_id


def test_a_problem_run_never_shares_an_id_with_an_incident_run() -> None:
    assert run_id(PROBLEM["id"], "ticket", "created") != run_id("INC-aa-2", "ticket", "created")


def test_the_opening_incident_is_created_by_else_the_first_linked() -> None:
    assert event().problem.opened_by == "INC-aa-2"
    assert event(problem=PROBLEM | {"created_by": ""}).problem.opened_by == "INC-aa-1"
    assert event(problem=PROBLEM | {"created_by": "", "incidents": []}).problem.opened_by == ""


def test_parse_event_routes_on_the_type() -> None:
    assert isinstance(parse_event({"event_id": "e", "type": "problem.created", "problem": PROBLEM}), ProblemEvent)
    assert isinstance(parse_event({"event_id": "e", "type": "incident.created", "incident": {"id": "INC-a-1"}}),
                      IncidentEvent)


@pytest.mark.parametrize("raw", [
    {"event_id": "e", "type": "problem.reopened", "problem": PROBLEM},  # a kind the runner does not know
    {"event_id": "e", "type": "problem.created"},
    {"event_id": "", "type": "problem.created", "problem": PROBLEM},
    {"event_id": "e", "type": "problem.created", "problem": PROBLEM | {"id": "INC-aa-1"}},
    {"event_id": "e", "type": "problem.created", "problem": {k: v for k, v in PROBLEM.items() if k != "rule"}},
    {"event_id": "e", "type": "problem.created", "problem": PROBLEM | {"incidents": ["../../etc"]}},
    {"event_id": "e", "type": "problem.created", "problem": PROBLEM | {"created_by": "x"}},
    {"event_id": "e", "type": "problem.created", "problem": "PRB-1"}])
def test_malformed_problem_events_raise_with_a_reason(raw: object) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_event(raw)
    assert caught.value.reason == "invalid_event" and caught.value.detail


def test_templates_see_the_problem_and_its_signature_labels() -> None:
    saved = event().model_dump(mode="json") | {"incident": {"id": "INC-aa-2", "group_labels": {"service": "x"}}}
    alerts = [{"labels": {"alertname": "Batch", "job": "export"}, "annotations": {"summary": "s"}}]
    ctx = context(saved, alerts, "ticket")
    assert ctx["problem"]["id"] == PROBLEM["id"] and ctx["incident"]["id"] == "INC-aa-2"
    assert ctx["labels"] == {"alertname": "Batch", "job": "export", "service": "billing"}  # signature wins
    incident_ctx = context({"event_id": "e", "type": "incident.created", "incident": {"id": "INC-a-1"}}, [], "x")
    assert incident_ctx["problem"] is None


def test_problem_rule_actions_accept_names_and_trigger_mappings() -> None:
    rule = ProblemRule.model_validate({"name": "p", "recurrence": {"count": 2, "within": "1h"}, "actions": [
        "ticket", {"action": "close", "on": ["known_error", "resolved"]}, {"action": "page", True: ["updated"]}]})
    assert [(str(t), t.on) for t in rule.actions] == [
        ("ticket", ("created",)), ("close", ("known_error", "resolved")), ("page", ("updated",))]
    assert rule.model_dump(mode="json")["actions"][1] == {"action": "close", "on": ["known_error", "resolved"]}


@pytest.mark.parametrize(("item", "fragment"), [
    ("{action: t, on: [escalated]}", "'known_error'"),  # incidents' kinds are not problems' kinds
    ("{action: t, on: []}", "needs at least one of: created, updated, known_error, resolved"),
    ("{action: t, min_priority: P1}", "min_priority"),  # problems have no priority
    ("{action: 'has space'}", "invalid name"),
])
def test_problem_trigger_mistakes_are_reported_at_their_line(item: str, fragment: str, tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("actions:\n  - {name: t, type: command, config: {argv: [/bin/true]}}\n"
                                     "problems:\n  - name: p\n    recurrence: {count: 2, within: 1h}\n"
                                     f"    actions:\n      - {item}\n")
    errors = check_directory(tmp_path)
    assert any(fragment in str(e) for e in errors), "\n".join(map(str, errors))
    assert all(e.line == 7 for e in errors), "\n".join(map(str, errors))


def test_a_problem_trigger_naming_an_undefined_action_is_dangling(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("actions:\n  - {name: t, type: command, config: {argv: [/bin/true]}}\n"
                                     "problems:\n  - name: p\n    recurrence: {count: 2, within: 1h}\n"
                                     "    actions:\n      - {action: nobody, on: [resolved]}\n")
    (error,) = check_directory(tmp_path)
    assert "unknown action 'nobody'" in str(error) and error.line == 7


def test_the_example_problem_actions_render_for_a_problem_event() -> None:
    """The shipped problem rules' actions render from a problem event through their executors' prepare."""
    import orjson

    from actions.http_executor import HttpExecutor
    from actions.templates import Renderer, Secrets
    from actions.urlguard import UrlPolicy
    from rules.loader import EXAMPLES_DIR, load_rule_set

    rule_set = load_rule_set(EXAMPLES_DIR)
    (rule,) = [p for p in rule_set.problems if p.name == "recurring-batch-failure"]
    defined = {a.name: a for a in rule_set.actions}
    executor = HttpExecutor(UrlPolicy.build(("https",), (), (), ()))
    secrets = Secrets({"ITSM_TOKEN": "t0k", "SLACK_SRE_WEBHOOK": "https://hooks.example.com/x"})
    problem = PROBLEM | {"rule": rule.name, "status": "known_error"}
    rendered = {}
    for kind in ("created", "known_error"):
        (plan,) = problem_runs(rule.actions, defined, event(kind, problem=problem))
        saved = event(kind, problem=problem).model_dump(mode="json") | {"incident": {"id": "INC-aa-2"}}
        prepared = executor.prepare(defined[plan.action], context(saved, [], plan.action), Renderer(), secrets)
        rendered[plan.action] = orjson.loads(prepared.real["body"])
    assert rendered["open-problem-ticket"] == {"title": PROBLEM["title"], "problem": PROBLEM["id"],
                                               "incidents": PROBLEM["incidents"]}
    assert rendered["chat-problem"] == {"text": f"problem {PROBLEM['id']} {PROBLEM['title']} is known_error "
                                                f"(2 incidents)"}
