"""Group thresholds: alerts are held back until count-within, any_of or all_of is met (simulated time)."""

from __future__ import annotations

from pathlib import Path

import yaml

from replay.simulation import Simulation
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import load_rule_set


def _sim(tmp_path: Path, threshold: dict) -> Simulation:
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"groups": [
        {"name": "r", "match": ['service="api"'], "group_by": ["service"], "threshold": threshold}]}))
    return Simulation(load_rule_set(tmp_path))


def _alert(name: str, pod: str = "1", status: str = "firing", at: float = 0.0) -> Alert:
    labels = {"alertname": name, "service": "api", "pod": pod}
    return Alert(labels=labels, status=status, starts_at=at, received_at=at, fingerprint=fingerprint(labels),
                 source="test")


def test_all_of_waits_for_every_listed_alertname(tmp_path):
    sim = _sim(tmp_path, {"all_of": ["HighLatency", "HighErrorRate"]})
    sim.feed(_alert("HighLatency"), 1.0)
    sim.feed(_alert("HighLatency", pod="2"), 2.0)
    assert sim.incidents() == []
    sim.feed(_alert("HighErrorRate"), 3.0)
    (incident,) = sim.incidents()
    assert (incident.alerts, incident.firing) == (3, 3)


def test_any_of_opens_on_a_listed_alertname_only(tmp_path):
    sim = _sim(tmp_path, {"any_of": ["ServiceDown"]})
    sim.feed(_alert("HighLatency"), 1.0)
    assert sim.incidents() == []
    sim.feed(_alert("ServiceDown"), 2.0)
    (incident,) = sim.incidents()
    assert incident.alerts == 2


def test_a_held_alert_that_resolves_no_longer_counts(tmp_path):
    sim = _sim(tmp_path, {"count": 2, "within": "5m"})
    sim.feed(_alert("X", pod="1", at=1.0), 1.0)
    sim.feed(_alert("X", pod="1", status="resolved", at=1.0), 10.0)
    sim.feed(_alert("X", pod="2", at=20.0), 20.0)
    assert sim.incidents() == []
    sim.feed(_alert("X", pod="3", at=30.0), 30.0)
    (incident,) = sim.incidents()
    assert incident.alerts == 2 and incident.firing == 2


def test_an_open_incident_takes_new_alerts_without_a_threshold(tmp_path):
    sim = _sim(tmp_path, {"count": 2, "within": "1m"})
    for pod in ("1", "2"):
        sim.feed(_alert("X", pod=pod), 1.0)
    sim.feed(_alert("X", pod="3"), 600.0)  # long after the window: joins the open incident at once
    (incident,) = sim.incidents()
    assert incident.alerts == 3


def test_after_hold_resolves_only_when_due_and_a_refire_cancels_it(tmp_path):
    from correlation.core.engine import decide_timer

    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"groups": [
        {"name": "r", "match": ['service="api"'], "group_by": ["service"],
         "auto_resolve": {"mode": "after_hold", "hold": "5m"}}]}))
    sim = Simulation(load_rule_set(tmp_path))
    sim.feed(_alert("X", at=0.0), 0.0)
    sim.feed(_alert("X", status="resolved", at=0.0), 10.0)
    (state,) = sim.groups.values()
    incident = state.incident
    assert incident.status == "open" and incident.resolve_at == 310.0
    assert decide_timer(state, incident.id, 309.0).resolved == []  # not due yet
    sim.feed(_alert("X", at=100.0), 100.0)  # fires again: the held resolution is cancelled
    assert incident.resolve_at is None and decide_timer(state, incident.id, 400.0).resolved == []
    sim.feed(_alert("X", status="resolved", at=100.0), 200.0)
    assert incident.resolve_at == 500.0
    due = decide_timer(state, incident.id, 500.0)
    assert due.resolved == [incident.id] and incident.status == "resolved"
    assert [e.routing_key for e in due.events] == ["incident.resolved"]
