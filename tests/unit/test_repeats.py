"""The repeat fast path's recognition (pure): what it accepts changes exactly what ``decide`` changes, and nothing
else; anything else is left to ``decide``.

Each fast case runs the same notifications through ``decide`` on a copy of the same stored state and compares the
result field by field, so the fast path cannot drift from the engine unnoticed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from correlation.core.engine import decide
from correlation.core.model import AlertState, GroupState, Incident
from correlation.core.repeats import recognise_repeats
from correlation.core.routing import Route
from rules.alert import Alert
from tests.unit.test_engine import T0, alert, group_state


def stored(state: GroupState) -> tuple[GroupState, dict[str, Any]]:
    """The state as the store reads it back: incidents through their hash, alerts as parsed rows (not built)."""
    copy = replace(state, alerts={}, pending=dict(state.pending),
                   incident=Incident.from_hash(state.incident.to_hash()) if state.incident else None,
                   older={iid: Incident.from_hash(i.to_hash()) for iid, i in state.older.items()})
    return copy, {fp: orjson.loads(a.to_json()) for fp, a in state.alerts.items()}


def decided(state: GroupState) -> GroupState:
    copy, rows = stored(state)
    copy.alerts = {fp: AlertState.from_row(row) for fp, row in rows.items()}
    return copy


def opened(*alerts: Alert, route: Route | None = None) -> GroupState:
    state = group_state(alerts[0])
    state.route = route
    decide(state, alerts, T0 + 1)
    return state


def assert_same_as_decide(state: GroupState, messages: list[list[Alert]], now: float) -> None:
    view, rows = stored(state)
    before = orjson.dumps(rows)
    repeats = recognise_repeats(view, rows, messages, now)
    assert repeats is not None, "a pure repeat is recognised"
    assert orjson.dumps(rows) == before, "the stored rows are not changed"

    engine = decided(state)
    incident_before = {i.id: i.to_hash() for i in [engine.incident, *engine.older.values()] if i is not None}
    group_before = (engine.seq, engine.incident.id if engine.incident else "", dict(engine.pending), sorted(engine.older))
    touched: dict[str, AlertState] = {}
    incidents: dict[str, Incident] = {}
    for alerts in messages:
        d = decide(engine, alerts, now)
        assert not (d.events or d.timers or d.timeline or d.sources or d.candidates or d.opened or d.resolved
                    or d.symptoms or d.recurrences or d.new_members), "a pure repeat changes nothing else"
        assert (d.seq, d.current_incident, d.pending, d.older) == group_before
        touched.update(d.alerts)
        incidents.update(d.incidents)
    assert {fp: orjson.loads(a.to_json()) for fp, a in touched.items()} == repeats.rows
    assert {iid: (i.occurrences, i.updated_at) for iid, i in incidents.items()} == repeats.incidents
    for iid, incident in incidents.items():  # only occurrences and updated_at moved
        expected = dict(incident_before[iid], occurrences=str(repeats.incidents[iid][0]),
                        updated_at=repr(repeats.incidents[iid][1]))
        assert incident.to_hash() == expected
    assert repeats.duplicates == sum(len(m) for m in messages)


def test_a_repeat_moves_last_seen_count_and_its_incidents_occurrences():
    a = alert("db-1")
    state = opened(a)
    assert_same_as_decide(state, [[a]], T0 + 30)
    repeats = recognise_repeats(*stored(state), [[a]], T0 + 30)
    assert repeats is not None
    (row,) = repeats.rows.values()
    assert AlertState.from_row(row).count == 2 and AlertState.from_row(row).last_seen == T0 + 30


def test_repeats_over_several_messages_and_twice_in_one():
    a, b = alert("db-1"), alert("db-2")
    state = opened(a, b)
    # rev moves once per message that touched the alert, count once per notification
    assert_same_as_decide(state, [[a, b, a], [b], [a, b]], T0 + 60)


def test_a_new_ends_at_is_taken_as_decide_takes_it():
    a = alert("db-1")
    state = opened(a)
    assert_same_as_decide(state, [[replace(a, ends_at=T0 + 600)]], T0 + 30)


def test_with_resolve_timeout_when_the_expiry_timer_is_armed():
    route = Route("r", ("alertname", "service"), resolve_timeout=300.0)
    a = alert("db-1")
    state = opened(a, route=route)
    assert state.alerts[a.fingerprint].expires_at is not None
    assert_same_as_decide(state, [[a]], T0 + 30)


def fast(state: GroupState, messages: list[list[Alert]], now: float = T0 + 30) -> bool:
    return recognise_repeats(*stored(state), messages, now) is not None


def test_a_new_alert_in_the_group_takes_the_engine():
    a = alert("db-1")
    state = opened(a)
    assert not fast(state, [[alert("db-2")]])
    assert not fast(state, [[a], [alert("db-2")]]), "one new alert sends the whole group to the engine"


def test_changed_annotations_labels_or_status_take_the_engine():
    a = alert("db-1")
    state = opened(a)
    assert not fast(state, [[replace(a, annotations={"summary": "now worse"})]])
    assert not fast(state, [[replace(a, labels={**a.labels, "extra": "x"})]]), "same key, other labels"
    assert not fast(state, [[alert("db-1", "resolved", starts_at=T0)]])


def test_a_repeat_of_a_resolved_alert_takes_the_engine():
    a = alert("db-1")
    state = opened(a, alert("db-2"))
    decide(state, [alert("db-1", "resolved")], T0 + 10)
    assert not fast(state, [[alert("db-1", "resolved")]])


def test_a_repeat_whose_incident_resolved_takes_the_engine():
    a = alert("db-1")
    state = opened(a)
    incident = state.incident
    assert incident is not None
    incident.status, incident.resolved_at = "resolved", T0 + 20  # e.g. resolved by a person meanwhile
    assert not fast(state, [[a]])


def test_muted_held_or_unattached_alerts_take_the_engine():
    a = alert("db-1")
    state = opened(a)
    state.alerts[a.fingerprint].muted = "silence:s1"
    assert not fast(state, [[a]])
    state.alerts[a.fingerprint].muted = ""
    state.alerts[a.fingerprint].incident = ""
    assert not fast(state, [[a]])


def test_a_due_timer_or_hold_takes_the_engine():
    a = alert("db-1")
    state = opened(a)
    # the rule gained a resolve_timeout since the alert was stored: its expiry timer must be armed by the engine
    state.route = Route("r", ("alertname", "service"), resolve_timeout=300.0)
    assert not fast(state, [[a]])
    state.route = None
    incident = state.incident
    assert incident is not None
    incident.resolve_at = T0 + 100  # an after_hold resolution pending on the incident
    assert not fast(state, [[a]])


@pytest.mark.parametrize("row", [{"fp": "x"}, ["too", "short"]])
def test_a_row_in_another_layout_takes_the_engine(row):
    a = alert("db-1")
    state = opened(a)
    view, rows = stored(state)
    rows[a.fingerprint] = row
    assert recognise_repeats(view, rows, [[a]], T0 + 30) is None
