"""resolve_timeout: a firing alert not notified again for that long resolves (simulated time, the worker's engine)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from correlation.core.decision import expiry_timer, parse_timer
from correlation.core.engine import decide, decide_timer
from replay.simulation import Simulation
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import RuleSetInvalid, load_rule_set


def _sim(tmp_path: Path, **rule) -> Simulation:
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"groups": [
        {"name": "r", "match": ['service="api"'], "group_by": ["service"], **rule}]}))
    return Simulation(load_rule_set(tmp_path))


def _alert(pod: str = "1", status: str = "firing", at: float = 0.0) -> Alert:
    labels = {"alertname": "HighLatency", "service": "api", "pod": pod}
    return Alert(labels=labels, status=status, starts_at=at, received_at=at, fingerprint=fingerprint(labels),
                 source="test")


def test_an_alert_not_notified_again_expires_and_its_incident_resolves(tmp_path):
    sim = _sim(tmp_path, resolve_timeout="5m")
    sim.feed(_alert("1"), 0.0)
    sim.feed(_alert("2"), 0.0)
    for at in (60.0, 120.0, 180.0):  # pod 1 keeps being sent; pod 2 stops without a resolve
        sim.feed(_alert("1"), at)
    sim.advance(299.0)
    (incident,) = sim.incidents()
    assert incident.firing == 2
    (state,) = sim.groups.values()
    pod2 = state.alerts[_alert("2").fingerprint]
    decision = decide_timer(state, expiry_timer(state.group_id, pod2.fingerprint), 300.0,
                            sim._context(state, 300.0))
    assert incident.firing == 1 and incident.status == "open"
    assert (pod2.status, pod2.ends_at, pod2.expired, pod2.expires_at) == ("resolved", 300.0, True, None)
    assert [e["text"] for e in decision.timeline[incident.id]] == ["HighLatency on api expired (not notified for 300s)"]
    assert [e.routing_key for e in decision.events] == ["incident.updated"]
    sim.advance(480.0)  # pod 1's last notification was at 180
    assert incident.status == "resolved" and incident.firing == 0


def test_repeats_rearm_lazily_without_a_timer_write_per_notification(tmp_path):
    sim = _sim(tmp_path, resolve_timeout="5m")
    sim.feed(_alert("1"), 0.0)
    member = expiry_timer(next(iter(sim.groups)), _alert("1").fingerprint)
    assert parse_timer(member)[0] == "expire" and sim.timers[member] == 300.0
    (state,) = sim.groups.values()
    for at in range(10, 300, 10):
        assert decide(state, [_alert("1")], float(at)).timers == [], "a repeat of an armed alert schedules nothing"
    sim.advance(300.0)  # due: notified at 290 since, so armed again for 590 instead of resolving
    (incident,) = sim.incidents()
    assert incident.firing == 1 and sim.timers[member] == 590.0
    sim.advance(590.0)
    assert incident.status == "resolved"


def test_a_firing_copy_of_the_expired_episode_fires_it_again(tmp_path):
    """Expiry is a guess: unlike a real resolve, a later copy of the same episode (same starts_at) is not stale."""
    sim = _sim(tmp_path, resolve_timeout="5m")
    sim.feed(_alert("1", at=0.0), 0.0)
    sim.advance(300.0)
    (first,) = sim.incidents()
    assert first.status == "resolved"
    sim.feed(_alert("1", at=0.0), 400.0)  # the sender was cut off for a while, and still sees it firing
    second = [i for i in sim.incidents() if i.status == "open"]
    assert len(second) == 1
    (state,) = sim.groups.values()
    assert state.alerts[_alert("1").fingerprint].expired is False


def test_a_real_resolve_stays_final_for_late_copies(tmp_path):
    sim = _sim(tmp_path, resolve_timeout="5m")
    sim.feed(_alert("1", at=0.0), 0.0)
    sim.feed(_alert("1", status="resolved", at=0.0), 10.0)
    sim.feed(_alert("1", at=0.0), 20.0)  # a late firing copy: stale
    (incident,) = sim.incidents()
    assert incident.status == "resolved"
    sim.advance(1000.0)  # the armed timer finds the alert resolved: nothing happens
    assert [i.status for i in sim.incidents()] == ["resolved"]


def test_without_the_option_nothing_expires(tmp_path):
    sim = _sim(tmp_path)
    sim.feed(_alert("1"), 0.0)
    sim.advance(86_400.0 * 30)
    (incident,) = sim.incidents()
    assert incident.status == "open" and not sim.timers


def test_a_timer_left_after_the_rule_dropped_the_option_disarms(tmp_path):
    sim = _sim(tmp_path, resolve_timeout="5m")
    sim.feed(_alert("1"), 0.0)
    (state,) = sim.groups.values()
    member = expiry_timer(state.group_id, _alert("1").fingerprint)
    state.route = type(state.route)(state.route.rule, state.route.group_by)  # the reloaded rule has no timeout
    decision = decide_timer(state, member, 1000.0)
    assert decision.resolved == [] and decision.timers == []
    assert state.alerts[_alert("1").fingerprint].expires_at is None


def test_a_held_alert_expires_out_of_the_threshold(tmp_path):
    sim = _sim(tmp_path, resolve_timeout="1m", threshold={"count": 2, "within": "10m"})
    sim.feed(_alert("1"), 0.0)
    sim.advance(60.0)
    sim.feed(_alert("2"), 70.0)  # pod 1 no longer counts towards the threshold
    assert sim.incidents() == []


@pytest.mark.parametrize("value", ["0s", "-1m", "soon"])
def test_resolve_timeout_must_be_a_positive_duration(tmp_path, value):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"groups": [
        {"name": "r", "match": ['service="api"'], "resolve_timeout": value}]}))
    with pytest.raises(RuleSetInvalid) as info:
        load_rule_set(tmp_path)
    assert "resolve_timeout" in str(info.value)
