"""Change windows in the engine, with explicit times: alerts firing into a mute window are recorded as
``muted: change:<id>``, counted, never paging; resolves pass; alerts still firing when it ends page then; an
annotate window only notes itself on incidents opened inside it; a change inside a window names it."""

from __future__ import annotations

import pytest

from correlation.core.change_windows import ChangeWindow, window_of
from correlation.core.engine import decide
from correlation.core.model import GroupState
from replay.simulation import Simulation
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.matchers import parse_matcher
from rules.schema import RuleSet, Topology

T0 = 1_000_000.0
RULES = RuleSet.model_construct(topology=Topology.model_validate({
    "services": {"checkout": {}, "payments-db": {}},
    "bindings": [{"name": "pg", "match": ['instance=~"pg-.*"'], "service": "payments-db"}]}))


def _alert(labels: dict[str, str], at: float, status: str = "firing") -> Alert:
    return Alert(labels=labels, status=status, starts_at=T0, received_at=T0 + at, fingerprint=fingerprint(labels),
                 source="test", ends_at=T0 + at if status == "resolved" else None)


def _state(sim: Simulation, labels: dict[str, str]):
    fp = fingerprint(labels)
    return next(g.alerts[fp] for g in sim.groups.values() if fp in g.alerts)


def test_a_mute_window_records_and_counts_then_pages_what_still_fires_when_it_ends():
    sim = Simulation(RULES)
    sim.change_windows = [ChangeWindow.create("cw-1", T0, T0 + 600, services=["payments-db"], summary="upgrade")]
    db = {"alertname": "PostgresDown", "instance": "pg-1"}  # bound to payments-db by the binding rule
    flap = {"alertname": "PostgresSlow", "instance": "pg-2"}
    elsewhere = {"alertname": "HighLatency", "service": "checkout"}
    sim.feed(_alert(db, 10), T0 + 10)
    sim.feed(_alert(flap, 20), T0 + 20)
    sim.feed(_alert(elsewhere, 30), T0 + 30)
    assert _state(sim, db).muted == "change:cw-1" and _state(sim, flap).muted == "change:cw-1"
    assert sim.muted == 2
    assert [i.title for i in sim.incidents()] == ["HighLatency / checkout"]  # not covered: pages as usual
    sim.feed(_alert(db, 40), T0 + 40)  # repeats while muted: counted, still nothing
    assert sim.muted == 3 and len(sim.incidents()) == 1
    sim.feed(_alert(flap, 60, "resolved"), T0 + 60)  # resolves pass through
    assert _state(sim, flap).status == "resolved"
    sim.advance(T0 + 599)
    assert len(sim.incidents()) == 1
    sim.advance(T0 + 600)  # the window ends: what still fires pages now, as it would have
    titles = {i.title: i for i in sim.incidents()}
    assert set(titles) == {"HighLatency / checkout", "PostgresDown"}  # PostgresSlow resolved inside: nothing
    assert titles["PostgresDown"].created_at == T0 + 600 and titles["PostgresDown"].service == "payments-db"
    assert _state(sim, db).muted == ""


def test_matchers_cover_alerts_too_and_an_annotate_window_only_notes_itself():
    sim = Simulation(RULES)
    sim.change_windows = [
        ChangeWindow.create("cw-2", T0, T0 + 600, matchers=[parse_matcher('cluster="eu-1"')]),
        ChangeWindow.create("cw-3", T0, T0 + 600, mode="annotate", services=["checkout"]),
    ]
    sim.feed(_alert({"alertname": "NodeDown", "cluster": "eu-1"}, 5), T0 + 5)
    assert sim.muted == 1 and sim.incidents() == []
    latency = _alert({"alertname": "HighLatency", "service": "checkout"}, 10)
    group = sim.router(latency.labels)
    state = GroupState(group.id, group.key, group.labels, route=group.route)
    decision = decide(state, [latency], T0 + 10, context=sim._context(state, T0 + 10))
    (opened,) = decision.opened
    assert {"kind": "change_window", "text": "opened during change window cw-3 (annotate)", "at": T0 + 10} in \
        decision.timeline[opened]
    assert decision.stats.muted == 0


def test_a_window_is_checked_when_created():
    with pytest.raises(ValueError, match="services"):
        ChangeWindow.create("x", T0, T0 + 1)
    with pytest.raises(ValueError, match="ends_at"):
        ChangeWindow.create("x", T0, T0, services=["a"])
    with pytest.raises(ValueError, match="mode"):
        ChangeWindow.create("x", T0, T0 + 1, services=["a"], mode="pause")
    with pytest.raises(ValueError, match="ends_at: nan is not epoch seconds"):
        ChangeWindow.create("x", T0, float("nan"), services=["a"])
    with pytest.raises(ValueError, match="starts_at"):
        ChangeWindow.create("x", float("-inf"), T0, services=["a"])


def test_a_change_inside_a_window_on_its_service_names_it():
    windows = [ChangeWindow.create("cw-4", T0, T0 + 600, services=["payments-db"])]
    assert window_of(windows, "payments-db", T0 + 10) == "cw-4"
    assert window_of(windows, "payments-db", T0 + 600) == ""
    assert window_of(windows, "checkout", T0 + 10) == ""


def test_a_recurring_change_window_from_the_rule_files_mutes_its_occurrence_and_pages_at_its_end(tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from correlation.core.muting import recurring_change_window
    from rules.loader import lint_directory, load_rule_set

    (tmp_path / "windows.yaml").write_text("""
topology:
  services: {payments-db: {}}
change_windows:
  - name: nightly-deploys
    services: [payments-db]
    weekdays: [monday:friday]
    start: "22:00"
    end: "02:00"
    time_zone: Europe/Paris
""")
    rules = load_rule_set(tmp_path)
    paris = ZoneInfo("Europe/Paris")
    night = datetime(2026, 12, 8, 1, 0, tzinfo=paris).timestamp()  # Tuesday 01:00: Monday's window, still open
    window = recurring_change_window(rules.change_windows[0], night)
    assert window is not None
    assert window.starts_at == datetime(2026, 12, 7, 22, 0, tzinfo=paris).timestamp()
    assert window.ends_at == datetime(2026, 12, 8, 2, 0, tzinfo=paris).timestamp()
    assert window.id == f"nightly-deploys@{int(window.starts_at)}"
    assert recurring_change_window(rules.change_windows[0], night + 3600) is None  # 02:00: over

    sim = Simulation(rules)
    labels = {"alertname": "PostgresDown", "service": "payments-db"}
    alert = Alert(labels=labels, status="firing", starts_at=night, received_at=night, fingerprint=fingerprint(labels),
                  source="test")
    sim.feed(alert, night)
    assert sim.muted == 1 and sim.incidents() == []
    sim.advance(window.ends_at)
    (incident,) = sim.incidents()
    assert incident.created_at == window.ends_at

    (tmp_path / "windows.yaml").write_text("""
change_windows:
  - {name: a, services: [ghost], start: "22:00", end: "23:00"}
  - {name: b, start: "22:00", end: "23:00"}
""")
    errors = [f"{e.path}: {e.message}" for e in lint_directory(tmp_path)[0]]
    assert "change_windows[0].services[0]: change window 'a' names unknown service 'ghost'; add it under " \
           "topology.services" in errors
    assert any(e.startswith("change_windows[1]") and "covers nothing" in e for e in errors)
