"""The event contract (events/): the checked-in JSON Schema is the models', every builder matches its model, the
consumers read what the builders build, no producer writes an event dict by hand, and every event type the code
names is one the contract defines."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from pydantic import ValidationError

from actions.model import IncidentEvent, ProblemEvent, parse_event
from actions.topology import ActionNames
from correlation.store.incident_commands import incident_view
from correlation.core.model import Incident
from correlation.core.muting import Silence
from correlation.core.problems import Problem
from events import builders
from events.consumed import IncidentEventView, ProblemEventView
from events.models import MODELS, event_adapter
from events.names import BrokerNames
from events.schema import event_schema, schema_text
from events.types import ACTION_KINDS, COMMAND_TYPES, EVENT_TYPES, SCHEMA_VERSION, may_start_action
from ingest.topology import Names
from rules.loader import EXAMPLES_DIR, load_rule_set
from rules.matchers import parse_matcher
from stormwatch.rules_admin import rules_summary

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "events.schema.json"


def incident(**changes: Any) -> dict[str, Any]:
    doc = Incident("INC-0a1b-3", "Disk full on db-1", "open", "critical", "{}:{alertname=\"Disk\"}",
                   {"alertname": "Disk"}, 100.0, 160.5, alerts=2, firing=1, occurrences=7, rule="storage", team="dba",
                   priority="P2", why={"rule": "storage"}).public()
    return doc | changes


def problem() -> dict[str, Any]:
    return Problem("PRB-0123456789ab-1", "recurring", "recurring: Disk", "open", 10.0, 20.0, "dba",
                   {"alertname": "Disk"}, ["INC-0a1b-3"], {"kind": "recurrence"}, "INC-0a1b-3").public()


def silence(now: float = 50.0) -> dict[str, Any]:
    return Silence.create([parse_matcher('service="db"')], 40.0, 400.0, "ana", "patching", 40.0,
                          silence_id="5e1ec7ed0001").public(now)


RUN = {"run_id": "R-00ff", "incident": "INC-0a1b-3", "action": "restart", "type": "command", "rule": "storage",
       "trigger": "created", "event_id": "m1:g:0", "event_at": "160.5", "created_at": "161.0", "state": "approved",
       "decided_by": "ana"}


SLA = {"kind": "respond", "policy": "database", "priority": "P2", "target": 300.0, "calendar": "24x7",
       "started": 100.0, "pauses": [[120.0, 130.0]], "pause_reasons": ["on_hold"], "warnings": [0.5, 0.75],
       "warned": 0, "stage": "running", "met_at": None, "breached_at": None, "due": 410.0}


def every_builder() -> list[dict[str, Any]]:
    stored = {k: str(v) for k, v in incident().items() if v is not None and not isinstance(v, dict)}
    stored |= {"group_labels": json.dumps({"alertname": "Disk"}), "why": "{}", "status": "acknowledged",
               "acknowledged_by": "ana", "acknowledged_at": "170.25"}
    major = stored | {"major": "1", "major_at": "171.0"}
    declared = stored | {"declared": "1", "reporter": "alice", "service": "checkout", "impact": "high",
                         "urgency": "low", "description": "", "also_reported_by": '["bob"]'}
    return [
        builders.incident_event("m1:g:0", "incident.created", "opened", 100.0, incident()),
        builders.incident_event("m1:g:1", "incident.resolved", "all alerts resolved", 200.0,
                                incident(status="resolved", resolved_at=200.0)),
        builders.incident_command("INC-0a1b-3", 9, "acknowledge", "acknowledged by ana", 170.25, "ana",
                                  incident_view(stored)),
        builders.incident_command("INC-0a1b-3", 10, "promote", "promoted to a major incident by ana", 171.0, "ana",
                                  incident_view(major)),
        builders.incident_command("INC-0a1b-3", 11, "commander", "incident commander: bo (assigned by ana)", 172.0,
                                  "ana", incident_view(major | {"commander": "bo"})),
        builders.status_update("INC-0a1b-3", 12, {"number": 1, "state": "identified", "text": "a bad deploy",
                                                  "by": "ana", "at": 173.0},
                               incident_view(major | {"status_updates": "1", "last_update_at": "173.0"})),
        builders.incident_event("d:created", "incident.created", "declared by alice", 174.0,
                                incident_view(declared), by="sre"),
        builders.incident_escalated("INC-0a1b-3:escalated:1", "restart failed", 180.0, incident(priority="P1")),
        builders.incident_change("m2:g:1", "incident.merged", "merged into INC-0c0d-1", 190.0,
                                 incident(status="resolved", resolved_at=190.0, merged_into="INC-0c0d-1")),
        builders.incident_sla(incident(), SLA | {"warned": 1, "stage": "warning"}, "warning", 0.5, 250.0, 250.5),
        builders.incident_sla(incident(), SLA | {"warned": 3, "stage": "breached", "breached_at": 400.5}, "breached",
                              1.0, 400.0, 400.5),
        builders.incident_escalation_step(incident(), {
            "policy": "dba", "step": 1, "run": 2, "runs": 4, "action": "page-secondary", "if_not": "acknowledged",
            "due": 1600.0, "missed": 0}, 1600.25),
        builders.problem_correlated(problem(), "created", "INC-0a1b-3", "opened: 1 incident(s)", 20.0),
        builders.problem_correlated(problem(), "linked", "INC-0a1b-4", "incident INC-0a1b-4 linked", 21.0),
        builders.problem_linked(problem(), "INC-0a1b-5", "unlink", "ana", 22.0),
        builders.problem_status(problem() | {"status": "known_error"}, "known_error", "ana", 23.0),
        builders.silence_created(silence(), "ana", 50.0, "patching"),
        builders.silence_expired(silence(500.0), "ana", 500.0),
        builders.alert_muted("m3", "g", {"silence:S-1": 2, "maintenance:db-patching": 1, "change:CHG-7": 1}, 55.0),
        builders.action_decided("R-00ff", "approved", RUN, "ana", 60.0),
        builders.action_decided("R-00ff", "rejected", None, "ana", 60.0),
        builders.rules_reloaded(rules_summary(load_rule_set(EXAMPLES_DIR), "examples"), "ana", 70.0),
        builders.rules_reloaded(rules_summary(None, "none"), "ana", 70.0),
    ]


def test_the_checked_in_schema_is_the_models() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), \
        "docs/events.schema.json is stale: run `python -m events.schema > docs/events.schema.json`"


def test_the_schema_is_valid_and_names_every_type() -> None:
    schema = event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["x-event-types"] == list(EVENT_TYPES)
    modelled = {t for m in MODELS for t in get_args(m.model_fields["type"].annotation)}
    assert modelled == set(EVENT_TYPES)
    assert set(COMMAND_TYPES.values()) <= set(EVENT_TYPES)


@pytest.mark.parametrize("event", every_builder(), ids=lambda e: e["type"])
def test_every_builder_matches_its_model_and_the_schema(event: dict[str, Any]) -> None:
    wire = json.loads(json.dumps(event))  # as a subscriber receives it
    model = event_adapter().validate_python(wire)  # strict: extra fields are refused
    assert model.type == event["type"] and event["schema_version"] == SCHEMA_VERSION
    jsonschema.Draft202012Validator(event_schema()).validate(wire)


def test_the_models_refuse_a_drifted_payload() -> None:
    adapter = event_adapter()
    good = json.loads(json.dumps(builders.incident_event("e", "incident.created", "opened", 1.0, incident())))
    adapter.validate_python(good)
    for broken in ({**good, "surprise": 1}, {**good, "incident": {**good["incident"], "surprise": 1}},
                   {k: v for k, v in good.items() if k != "schema_version"}, {**good, "type": "incident.exploded"},
                   {**good, "at": "soon"}):
        with pytest.raises(ValidationError):
            adapter.validate_python(broken)
    # the published schema refuses the same shapes, except new fields, which a subscriber ignores
    validator = jsonschema.Draft202012Validator(event_schema())
    assert validator.is_valid({**good, "surprise": 1})
    assert not validator.is_valid({**good, "type": "incident.exploded"})
    assert not validator.is_valid({k: v for k, v in good.items() if k != "reason"})


def test_the_action_runner_reads_what_the_builders_build() -> None:
    assert IncidentEvent is IncidentEventView and ProblemEvent is ProblemEventView  # the consumer uses the contract
    for event in every_builder():
        if not may_start_action(event["type"]):
            continue
        parsed = parse_event(json.loads(json.dumps(event)))
        subject = event["type"].partition(".")[0]
        assert parsed.kind in ACTION_KINDS[subject] and parsed.event_id == event["event_id"]
    # an event published before schema_version existed still reads
    old = {k: v for k, v in builders.incident_event("e", "incident.created", "", 1.0, incident()).items()
           if k != "schema_version"}
    assert parse_event(old).incident.id == "INC-0a1b-3"


def test_only_the_trigger_kinds_go_to_the_runner() -> None:
    assert [t for t in EVENT_TYPES if may_start_action(t)] == [
        "incident.created", "incident.updated", "incident.resolved", "incident.escalated", "incident.merged",
        "incident.promoted", "incident.status_update", "incident.acknowledged", "incident.reopened",
        "incident.commented", "incident.priority_changed", "incident.escalation_step",
        "problem.created", "problem.updated", "problem.known_error", "problem.resolved"]


def test_one_set_of_broker_names() -> None:
    ingest, actions = Names("ns"), ActionNames("ns")
    assert Names is BrokerNames and isinstance(actions, BrokerNames)
    assert ingest.events_exchange == actions.events_exchange == "ns.events"
    assert (actions.queue, actions.dead, actions.runbooks, actions.results) == (
        "ns.actions", "ns.actions.dead", "ns.runbooks", "ns.runbooks.results")
    assert (ingest.alerts_exchange, ingest.alerts_queue, ingest.dead_exchange) == (
        "ns.alerts", "ns.alerts", "ns.alerts.dead")


def hand_built_events(root: Path) -> list[str]:
    """Dict literals shaped like an event (``event_id``, ``type`` and ``reason`` keys) outside events/builders.py."""
    found = []
    for pkg in ("ingest", "correlation", "actions", "rules", "stormwatch"):
        for path in sorted((root / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Dict):
                    keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                    if {"event_id", "type", "reason"} <= keys:
                        found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_producers_build_events_with_the_builders(tmp_path: Path) -> None:
    assert hand_built_events(ROOT) == []
    (tmp_path / "stormwatch").mkdir()
    (tmp_path / "stormwatch" / "x.py").write_text('e = {"event_id": "a", "type": "b", "reason": "", "at": 1}\n')
    assert hand_built_events(tmp_path) == ["stormwatch/x.py:1"]


EVENT_TYPE_LIKE = re.compile(r"^(incident|problem|silence|action|rules)\.[a-z_]+$")
FILE_SUFFIXES = (".yaml", ".yml", ".json", ".py", ".md")


def unknown_event_types(root: Path) -> list[str]:
    """String literals shaped like an event type (``incident.updated``) that the contract does not define."""
    found = []
    for pkg in ("ingest", "correlation", "actions", "rules", "stormwatch"):
        for path in sorted((root / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and EVENT_TYPE_LIKE.match(node.value) and not node.value.endswith(FILE_SUFFIXES)
                        and node.value not in EVENT_TYPES):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value}")
    return found


def test_every_event_type_the_code_names_is_in_the_contract(tmp_path: Path) -> None:
    assert unknown_event_types(ROOT) == []
    (tmp_path / "correlation").mkdir()
    (tmp_path / "correlation" / "x.py").write_text(
        'a = "incident.updated"\nb = "incident.exploded"\nc = "rules.yaml"\n')
    assert unknown_event_types(tmp_path) == ["correlation/x.py:2: incident.exploded"]


def test_the_documented_examples_are_valid_events() -> None:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    examples = re.findall(r"```json\n(.*?)```", text, re.S)
    assert examples, "docs/events.md shows an example event"
    for example in examples:
        event_adapter().validate_python(json.loads(example))
