"""A late cause merges: a cause firing after its symptoms opened an incident of their own takes that incident's alerts
as symptoms, and the incident resolves as merged. Pure core (plan_merges with hypothesis properties, decide_timer)
and the in-memory simulation with a moved clock."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, strategies as st

from correlation.core.causes import Cause
from correlation.core.decision import Context, merge_timer
from correlation.core.engine import decide, decide_timer
from correlation.core.merging import plan_merges, to_check
from correlation.core.causes import Entry
from correlation.core.model import GroupState
from replay.simulation import Simulation
from events.models import event_adapter
from events.builders import incident_change
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import load_rule_set

from tests.unit.test_recovery_grace import API, DOWN, INHIBIT, TOPOLOGY, WEB, _feed, _sim

API_DOWN = {"alertname": "Down", "service": "api"}
FLAT = {"topology": {"services": {"db": {}, "api": {"depends_on": ["db"]}, "web": {"depends_on": ["db"]}}}}


def _alert(labels: dict[str, str], at: float, status: str = "firing", starts_at: float = 0.0) -> Alert:
    return Alert(labels=labels, status=status, starts_at=starts_at, received_at=at,
                 fingerprint=fingerprint(labels), source="test")


def _by_title(sim: Simulation) -> dict[str, object]:
    return {i.title: i for i in sim.incidents()}


# -- the simulation: a late cause merges, once --------------------------------------------------------------------

@pytest.mark.parametrize("rules", [INHIBIT, FLAT], ids=["inhibit", "topology"])
def test_a_late_cause_merges_the_incident_its_symptoms_opened(tmp_path: Path, rules: dict):
    sim = _sim(tmp_path, rules)
    _feed(sim, WEB, 0.0)  # no hold: the symptom pages on its own
    _feed(sim, API, 1.0)
    assert sorted(_by_title(sim)) == ["Errors / api", "Errors / web"]
    _feed(sim, DOWN, 60.0, starts_at=60.0)  # the cause arrives late
    sim.advance(60.0)
    incidents = _by_title(sim)
    down = incidents["Down / db"]
    for title in ("Errors / web", "Errors / api"):
        merged = incidents[title]
        assert (merged.status, merged.merged_into, merged.firing) == ("resolved", down.id, 0)
    symptoms = sim.symptoms_of(down.id)
    assert sorted(s.labels["service"] for s in symptoms) == ["api", "web"]
    assert all(s.merged_from for s in symptoms)
    if rules is FLAT:
        assert sorted(" > ".join(s.path) for s in symptoms) == ["api > db", "web > db"]
    assert sim.merged == 2
    # the symptoms repeat: still symptoms, nothing new pages; the cause resolves: they stay symptoms in its grace
    _feed(sim, WEB, 90.0)
    _feed(sim, DOWN, 120.0, status="resolved", starts_at=60.0)
    _feed(sim, WEB, 130.0, status="resolved")
    _feed(sim, API, 130.0, status="resolved")
    sim.advance(2000.0)
    assert len(sim.incidents()) == 3 and sim.merged == 2


def test_merge_late_symptoms_false_keeps_the_incident(tmp_path: Path):
    rules = {"inhibit": [{**INHIBIT["inhibit"][0], "merge_late_symptoms": False}]}
    sim = _sim(tmp_path, rules)
    _feed(sim, WEB, 0.0)
    _feed(sim, DOWN, 60.0, starts_at=60.0)
    sim.advance(120.0)
    assert {t: i.status for t, i in _by_title(sim).items()} == {"Errors / web": "open", "Down / db": "open"}
    assert sim.merged == 0


def test_an_incident_with_an_unexplained_alert_stays(tmp_path: Path):
    rules = {**TOPOLOGY, "groups": [{"name": "errors", "match": ['alertname="Errors"'], "group_by": ["alertname"]}]}
    sim = _sim(tmp_path, rules)
    _feed(sim, WEB, 0.0)
    _feed(sim, {"alertname": "Errors", "service": "mail"}, 1.0)  # same incident, outside the topology
    _feed(sim, DOWN, 60.0, starts_at=60.0)
    sim.advance(120.0)
    errors = _by_title(sim)["errors: Errors"]
    assert (errors.status, errors.merged_into, errors.firing) == ("open", "", 2)


def test_a_recovered_cause_merges_nothing(tmp_path: Path):
    sim = _sim(tmp_path, INHIBIT)
    _feed(sim, DOWN, 0.0)
    _feed(sim, DOWN, 10.0, status="resolved")
    _feed(sim, WEB, 400.0, starts_at=400.0)  # after the grace: its own incident
    _feed(sim, DOWN, 500.0, status="resolved")  # (a repeat of the resolve: no source fires)
    sim.advance(600.0)
    assert _by_title(sim)["Errors / web"].status == "open"


def test_a_chain_merges_into_its_root(tmp_path: Path):
    sim = _sim(tmp_path, TOPOLOGY)
    _feed(sim, WEB, 0.0)
    _feed(sim, API_DOWN, 30.0, starts_at=30.0)  # api fails: web's incident merges into api's
    sim.advance(30.0)
    api = _by_title(sim)["Down / api"]
    assert _by_title(sim)["Errors / web"].merged_into == api.id
    _feed(sim, DOWN, 60.0, starts_at=60.0)  # db fails: api's incident merges into db's
    sim.advance(60.0)
    incidents = _by_title(sim)
    db = incidents["Down / db"].id
    assert incidents["Down / api"].merged_into == db
    # api's alert, and web's that had attached to api's incident, are symptoms of the root, the path extended
    assert sorted(" > ".join(s.path) for s in sim.symptoms_of(db)) == ["api > db", "web > api > db"]
    assert next(s for s in sim.symptoms_of(db) if s.path == ("api", "db")).merged_from == api.id
    # web's symptom was placed again as soon as db fired (a better cause: merging.to_replace), before its rehoming
    assert next(s for s in sim.symptoms_of(db) if s.path[0] == "web").merged_from == ""
    _feed(sim, WEB, 90.0)  # web's next notification finds the same root: nothing new
    assert len(sim.symptoms_of(db)) == 2
    assert [i.status for i in sim.incidents()] == ["resolved", "resolved", "open"]


def test_merge_events_match_the_contract(tmp_path: Path):
    sim = _sim(tmp_path, INHIBIT)
    _feed(sim, WEB, 0.0)
    _feed(sim, DOWN, 60.0, starts_at=60.0)
    (web_group,) = [g for g in sim.groups.values() if g.group_labels.get("service") == "web"]
    state = web_group
    incident = state.incident
    assert incident is not None
    state.incident_members = {incident.id: frozenset(sim.members[incident.id])}
    decision = decide_timer(state, merge_timer(incident.id), 60.0, sim._context(state, 60.0))
    assert [e.routing_key for e in decision.events] == ["incident.resolved", "incident.merged"]
    for n, e in enumerate(decision.events):
        event = event_adapter().validate_python(incident_change(f"m:{n}", e.routing_key, e.reason, e.at, e.incident))
        assert event.incident.merged_into == decision.incidents[incident.id].merged_into != ""
    merged = event_adapter().validate_python(incident_change("m", "incident.merged", "r", 1.0,
                                                             decision.events[1].incident))
    assert merged.into == merged.incident.merged_into
    # idempotent: the same timer again changes nothing
    again = decide_timer(state, merge_timer(incident.id), 61.0, sim._context(state, 61.0))
    assert not again.changed and not again.events


# -- decide_timer on a partial view decides nothing ------------------------------------------------------------------

def test_a_merge_needs_every_member_read():
    state = GroupState("0123456789ab", "k", {"alertname": "Errors"})
    cause = Cause("inhibited", "down", "INC-00000000000f-1", "fp-source", merge=True)
    ctx = Context(cause=lambda labels, fp, now, since=None: cause)
    decide(state, [_alert(WEB, 0.0), _alert(API, 0.0)], 0.0, context=Context())
    incident = state.incident
    assert incident is not None and incident.alerts == 2
    both = frozenset({fingerprint(WEB), fingerprint(API)})
    state.incident_members = {incident.id: frozenset({fingerprint(WEB)})}  # a member joined after the set was read
    assert not decide_timer(state, merge_timer(incident.id), 5.0, ctx).changed
    state.incident_members = {incident.id: both}
    api = state.alerts.pop(fingerprint(API))  # its state was not read
    assert not decide_timer(state, merge_timer(incident.id), 5.0, ctx).changed
    assert state.incident is not None and state.incident.is_open
    state.alerts[api.fingerprint] = api  # the whole incident read: it merges
    assert [e.routing_key for e in decide_timer(state, merge_timer(incident.id), 5.0, ctx).events] == [
        "incident.resolved", "incident.merged"]


def test_a_member_that_left_the_incident_does_not_block_its_merge():
    state = GroupState("0123456789ab", "k", {"alertname": "Errors"})
    decide(state, [_alert(WEB, 0.0), _alert(API, 0.0)], 0.0, context=Context())
    incident = state.incident
    assert incident is not None
    cause = Cause("inhibited", "down", "INC-00000000000f-1", "fp-source", merge=True)
    ctx = Context(cause=lambda labels, fp, now, since=None: cause)
    decide(state, [_alert(API, 10.0, "resolved")], 10.0, context=Context())
    decide(state, [_alert(API, 20.0, starts_at=20.0)], 20.0, context=ctx)  # fires again, now a symptom
    assert state.alerts[fingerprint(API)].incident == "" and incident.alerts == 2 and incident.firing == 1
    state.incident_members = {incident.id: frozenset({fingerprint(WEB), fingerprint(API)})}
    decision = decide_timer(state, merge_timer(incident.id), 30.0, ctx)
    assert incident.merged_into == "INC-00000000000f-1"
    assert [s.fingerprint for s in decision.symptoms] == [fingerprint(WEB)]


def test_an_acknowledged_incident_is_not_merged():
    state = GroupState("0123456789ab", "k", {"alertname": "Errors"})
    cause = Cause("inhibited", "down", "INC-00000000000f-1", "fp-source", merge=True)
    decide(state, [_alert(WEB, 0.0)], 0.0, context=Context())
    assert state.incident is not None
    state.incident.status = "acknowledged"
    state.incident_members = {state.incident.id: frozenset({fingerprint(WEB)})}
    ctx = Context(cause=lambda labels, fp, now, since=None: cause)
    assert not decide_timer(state, merge_timer(state.incident.id), 5.0, ctx).changed


# -- who looks: to_check --------------------------------------------------------------------------------------------

def test_to_check_sees_both_sides():
    candidates = {"svc:db": {"fpw": Entry(3, "INC-w-1")}}
    causes = {"svc:db": {"fpd": Entry(2, "INC-d-1")}}
    # a source starts firing: the candidates' incidents under its key
    assert to_check([("svc:db", "fpd", 2, "INC-d-1")], [], candidates, {}) == {"INC-w-1"}
    # a stopping source looks at nothing
    assert to_check([("svc:db", "fpd", 4, "INC-d-1|10.0")], [], candidates, {}) == set()
    # a new candidate under a key a source fires under
    assert to_check([], [("svc:db", "fpw", 3, "INC-w-1")], {}, causes) == {"INC-w-1"}
    # a candidate whose own incident is the source's: nothing to merge
    assert to_check([], [("svc:db", "fpw", 3, "INC-d-1")], {}, causes) == set()
    # a stopped source does not make a candidate look
    assert to_check([], [("svc:db", "fpw", 3, "INC-w-1")], {}, {"svc:db": {"fpd": Entry(5, "INC-d-1", 9.0)}}) == set()


# -- plan_merges: properties ---------------------------------------------------------------------------------------

IDS = st.sampled_from([f"INC-{c}-1" for c in "abcdef"])
EXPLAINED = st.dictionaries(IDS, st.lists(st.one_of(st.none(), IDS), max_size=4), max_size=6)


@given(EXPLAINED)
def test_no_incident_merges_into_itself(explained):
    assert all(a != b for a, b in plan_merges(explained).items())


@given(EXPLAINED)
def test_a_merged_incident_is_never_the_target_of_another_merge(explained):
    plan = plan_merges(explained)
    assert not set(plan) & set(plan.values())


@given(EXPLAINED)
def test_merging_is_idempotent(explained):
    plan = plan_merges(explained)
    assert plan_merges({a: [b] for a, b in plan.items()}) == plan


@given(EXPLAINED)
def test_only_wholly_explained_incidents_merge(explained):
    for incident in plan_merges(explained):
        causes = explained[incident]
        assert causes and None not in causes and incident not in causes


def test_plan_examples():
    assert plan_merges({"a": ["b", "b", "c"]}) == {"a": "b"}
    assert plan_merges({"a": ["c", "b"]}) == {"a": "b"}  # a tie: the lowest id
    assert plan_merges({"a": ["b", None]}) == {}
    assert plan_merges({"a": ["b"], "b": ["c"]}) == {"a": "c", "b": "c"}  # a chain merges into its end
    assert plan_merges({"a": ["b"], "b": ["a"], "d": ["a"]}) == {"d": "a"}  # a cycle has no root: it stays


def test_the_backtest_counts_merged_incidents(tmp_path: Path):
    from replay.backtest import backtest

    (tmp_path / "r.yaml").write_text(yaml.safe_dump(FLAT))
    rule_set = load_rule_set(tmp_path)
    recording = [(0.0, _alert(WEB, 0.0)), (1.0, _alert(API, 1.0)), (60.0, _alert(DOWN, 60.0, starts_at=60.0)),
                 (90.0, _alert(WEB, 90.0))]
    summary = backtest(rule_set, recording)
    assert (summary.incidents, summary.merged, summary.symptoms, summary.open_at_end) == (3, 2, 2, 1)
    assert summary.public()["merged"] == 2
    kept = backtest(load_rule_set(_write(tmp_path / "off", {"topology": {**FLAT["topology"],
                                                                          "merge_late_symptoms": False}})), recording)
    assert (kept.incidents, kept.merged, kept.open_at_end) == (3, 0, 3)


def _write(directory: Path, rules: dict) -> Path:
    directory.mkdir()
    (directory / "r.yaml").write_text(yaml.safe_dump(rules))
    return directory


def test_topology_settings_survive_loading_several_files(tmp_path: Path):
    """The loader merges the topologies of several files: its settings are kept (a file turning merging off wins;
    the longest recovery grace and hold win), not reset to their defaults."""
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"topology": {"services": {"db": {}}, "recovery_grace": "2m",
                                                                  "merge_late_symptoms": False}}))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"topology": {"services": {"web": {"depends_on": ["db"]}},
                                                                  "hold": "20s"}}))
    topology = load_rule_set(tmp_path).topology
    assert (topology.merge_late_symptoms, topology.recovery_grace, topology.hold) == (False, 120.0, 20.0)
    assert load_rule_set(_write(tmp_path / "one", FLAT)).topology.merge_late_symptoms is True


def test_rehomed_extends_a_topology_path_and_keeps_an_inhibition():
    from correlation.core.merging import rehomed

    moved = [{"incident": "INC-db", "kind": "topology", "rule": "db", "path": ["api", "db"], "merged_from": "INC-api",
              "fingerprint": "a", "group": "g", "labels": {}, "at": 1.0}]
    attached = {"INC-api": [
        {"incident": "INC-api", "kind": "topology", "rule": "api", "path": ["web", "api"], "fingerprint": "w",
         "group": "h", "labels": {}, "at": 0.5},
        {"incident": "INC-api", "kind": "inhibited", "rule": "down", "path": [], "fingerprint": "x", "group": "i",
         "labels": {}, "at": 0.6}]}
    got = rehomed({"INC-api": "INC-db"}, attached, moved)
    assert [(d["incident"], d["kind"], d["rule"], d["path"], d["merged_from"]) for d in got] == [
        ("INC-db", "topology", "db", ["web", "api", "db"], "INC-api"),
        ("INC-db", "inhibited", "down", [], "INC-api")]
    assert rehomed({}, attached, moved) == []
