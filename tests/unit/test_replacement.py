"""A symptom is placed again when a better cause appears, not only at its next notification (issue 15, item 3)."""

from __future__ import annotations

from pathlib import Path

from correlation.core.lifecycle import candidate_activity
from correlation.core.merging import to_replace
from correlation.core.model import AlertState
from replay.simulation import Simulation
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import load_rule_set

RULES = """
topology:
  services:
    cache: {}
    api: {}
    web: {depends_on: [cache, api]}
"""


def _feed(sim: Simulation, labels: dict[str, str], at: float, status: str = "firing") -> None:
    sim.feed(Alert(labels=labels, status=status, starts_at=at, received_at=at, fingerprint=fingerprint(labels),
                   source="test", ends_at=at if status == "resolved" else None), at)


def _state(sim: Simulation, labels: dict[str, str]) -> AlertState:
    fp = fingerprint(labels)
    return next(s.alerts[fp] for s in sim.groups.values() if fp in s.alerts)


def test_a_symptom_of_a_recovered_cause_moves_to_a_firing_cause_when_it_fires(tmp_path: Path):
    (tmp_path / "rules.yaml").write_text(RULES)
    sim = Simulation(load_rule_set(tmp_path))
    cache = {"alertname": "RedisDown", "service": "cache", "severity": "critical"}
    api = {"alertname": "ApiDown", "service": "api", "severity": "critical"}
    web = {"alertname": "HighErrorRate", "service": "web", "severity": "warning"}
    _feed(sim, cache, 0.0)
    _feed(sim, web, 5.0)
    (cache_incident,) = sim.incidents()
    _feed(sim, cache, 20.0, "resolved")  # web stays its symptom for the recovery grace (5m)
    assert _state(sim, web).cause == cache_incident.id

    _feed(sim, api, 30.0)  # a firing cause: web is placed again at once, with no notification of its own
    sim.advance(30.0)
    api_incident = next(i for i in sim.incidents() if i.title.startswith("ApiDown"))
    moved = _state(sim, web)
    assert (moved.cause, moved.muted, moved.hold_until) == (api_incident.id, "topology:web>api", None)
    assert [s.path for s in sim.symptoms_of(api_incident.id)] == [("web", "api")]
    sim.advance(400.0)  # the cache's grace ran out long ago: web still pages nobody (api explains it)
    assert len(sim.incidents()) == 2


def test_only_symptoms_of_another_incident_are_looked_at_again():
    state = AlertState("fp-web", {"service": "web"}, {}, "firing", 0.0, None, 0.0, 0.0, 1, "", "test",
                       muted="topology:web>api", cause="INC-aaaaaaaaaaaa-1")
    tail = candidate_activity(state, "bbbbbbbbbbbb")
    assert tail == "sym:bbbbbbbbbbbb:INC-aaaaaaaaaaaa-1"
    index = {"svc:api": {"fp-web": _entry(tail)}}
    firing = "v2|INC-cccccccccccc-1||4|0.0"
    assert to_replace([("svc:api", "fp-api", 3, firing)], index) == {("bbbbbbbbbbbb", "fp-web")}
    assert to_replace([("svc:api", "fp-api", 3, "v2|INC-aaaaaaaaaaaa-1||4|0.0")], index) == set()  # its own cause
    assert to_replace([("svc:api", "fp-api", 3, "v2|INC-cccccccccccc-1|5.0|4|0.0")], index) == set()  # stopped
    assert candidate_activity(AlertState("fp", {}, {}, "resolved", 0.0, 1.0, 0.0, 1.0, 1, "", "test"), "g") == ""


def _entry(tail: str):
    from correlation.core.causes import Entry

    return Entry.of_tail(1, tail)
