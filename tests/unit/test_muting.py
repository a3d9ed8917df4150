"""Silences and maintenance windows, with an explicit clock."""

from __future__ import annotations

from datetime import datetime, UTC

import pytest

from correlation.core.engine import decide
from correlation.core.model import GroupState
from correlation.core.muting import Muter, Silence, window_active
from correlation.core.routing import Router
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.matchers import parse_matcher
from rules.calendar_schema import MaintenanceWindow


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def window(**kw) -> MaintenanceWindow:
    return MaintenanceWindow.model_validate({"name": "w", "match": ['job="billing"'], **kw})


@pytest.mark.parametrize("when, expected", [
    ("2026-11-23 01:29", False),  # Monday, before
    ("2026-11-23 01:30", True),   # Monday, start is inside
    ("2026-11-23 02:59", True),
    ("2026-11-23 03:00", False),  # end is outside
    ("2026-11-22 02:00", False),  # Sunday: not a listed weekday
])
def test_daytime_window_on_weekdays(when, expected):
    w = window(weekdays=["monday:friday"], start="01:30", end="03:00")
    assert window_active(w, at(when)) is expected


@pytest.mark.parametrize("when, expected", [
    ("2026-11-27 23:00", True),   # Friday night
    ("2026-11-28 01:00", True),   # past midnight into Saturday: still Friday's window
    ("2026-11-28 02:00", False),
    ("2026-11-28 23:00", False),  # Saturday night: Saturday is not listed
    ("2026-11-23 00:30", False),  # Monday early: Sunday not listed
])
def test_window_past_midnight(when, expected):
    w = window(weekdays=["friday"], start="22:00", end="02:00")
    assert window_active(w, at(when)) is expected


def test_window_in_its_time_zone():
    w = window(start="09:00", end="10:00", time_zone="Europe/Paris")  # UTC+1 in November
    assert window_active(w, at("2026-11-23 08:30"))
    assert not window_active(w, at("2026-11-23 09:30"))


def test_silence_lifecycle_and_validation():
    m = [parse_matcher('service="db"')]
    s = Silence.create(m, 100.0, 200.0, "ana", "drill", now=90.0, silence_id="s1")
    assert [s.state(t) for t in (99.0, 100.0, 199.9, 200.0)] == ["pending", "active", "active", "expired"]
    assert Silence.from_json(s.to_json()) == s
    with pytest.raises(ValueError):
        Silence.create([], 100.0, 200.0, "ana", "x", now=0.0, silence_id="s1")
    with pytest.raises(ValueError):
        Silence.create(m, 200.0, 100.0, "ana", "x", now=0.0, silence_id="s1")
    with pytest.raises(ValueError):
        Silence.create(m, 100.0, 200.0, " ", "x", now=0.0, silence_id="s1")
    for starts, ends in ((100.0, float("nan")), (100.0, float("inf")), (-1.0, 200.0), (100.0, 1e300)):
        with pytest.raises(ValueError, match="epoch seconds"):
            Silence.create(m, starts, ends, "ana", "x", now=0.0, silence_id="s1")
    with pytest.raises(ValueError, match="ends_at"):  # what a NaN end was stored as: never read back as a silence
        Silence.from_json(s.to_json().replace(b'"ends_at":200.0', b'"ends_at":null'))


def test_muter_names_what_mutes():
    s = Silence.create([parse_matcher('service="db"')], 0.0, 100.0, "ana", "drill", now=0.0, silence_id="s1")
    w = window(start="00:00", end="24:00")
    muter = Muter([s], [w], now=50.0)
    assert muter({"service": "db"}) == f"silence:{s.id}"
    assert muter({"job": "billing"}) == "maintenance:w"
    assert muter({"service": "api"}) == ""
    assert not Muter([s], [], now=150.0)  # nothing active: the pipeline skips muting entirely


def _alert(pod: str, status: str = "firing", starts: float = 1.0) -> Alert:
    labels = {"alertname": "HighErrorRate", "service": "api", "pod": pod}
    return Alert(labels=labels, status=status, starts_at=starts, received_at=starts,
                 fingerprint=fingerprint(labels), source="test")


def test_muted_alerts_are_recorded_and_counted_but_open_nothing_until_the_silence_ends():
    router = Router(None, ("alertname", "service"))
    group = router(_alert("1").labels)
    state = GroupState(group.id, group.key, group.labels)
    silence = Silence.create([parse_matcher('service="api"')], 0.0, 100.0, "ana", "deploy", now=0.0, silence_id="s1")

    during = decide(state, [_alert("1"), _alert("1")], 10.0, muted=Muter([silence], [], now=10.0))
    assert during.opened == [] and during.incidents == {} and during.stats.muted == 2
    recorded = during.alerts[_alert("1").fingerprint]
    assert (recorded.count, recorded.incident, recorded.muted) == (2, "", f"silence:{silence.id}")

    after = decide(state, [_alert("1")], 150.0, muted=Muter([silence], [], now=150.0) or None)
    (incident,) = after.incidents.values()
    assert after.opened == [incident.id] and incident.alerts == 1 and incident.firing == 1
    assert state.alerts[_alert("1").fingerprint].muted == ""


def test_a_silence_does_not_pull_alerts_out_of_an_open_incident():
    router = Router(None, ("alertname", "service"))
    group = router(_alert("1").labels)
    state = GroupState(group.id, group.key, group.labels)
    decide(state, [_alert("1")], 10.0)
    silence = Silence.create([parse_matcher('service="api"')], 0.0, 100.0, "ana", "late", now=20.0, silence_id="s1")
    muter = Muter([silence], [], now=20.0)
    repeat = decide(state, [_alert("1"), _alert("2")], 20.0, muted=muter)
    (incident,) = repeat.incidents.values()
    assert incident.occurrences == 2 and incident.alerts == 1  # pod-1 repeats in it; pod-2 is muted
    assert repeat.stats.muted == 1
    # the open incident records what was kept out of it, and by which silence (its "why" for the people on call)
    (entries,) = repeat.timeline.values()
    assert [e["text"] for e in entries if e["kind"] == "muted"] == [
        f"HighErrorRate on api not added: muted by silence:{silence.id}"]
    again = decide(state, [_alert("2")], 30.0, muted=muter)  # a repeat of the muted alert: not noted again
    assert not any(e["kind"] == "muted" for entries in again.timeline.values() for e in entries)


def test_mutes_are_counted_by_reason_per_notification_and_a_timer_counts_none():
    """issue 17: a decision counts its muted notifications by reason (``alert.muted``'s counts); a change window's
    end re-placing a stored alert that a silence now mutes is no notification, so it counts nothing."""
    from correlation.core.decision import Context, hold_timer
    from correlation.core.engine import decide_timer
    from correlation.store.store import decision_follow_ups

    router = Router(None, ("alertname", "service"))
    group = router(_alert("1").labels)
    state = GroupState(group.id, group.key, group.labels)
    reasons = {"1": "change:cw-1", "2": "silence:s1"}

    def muted(labels):
        return reasons.get(labels["pod"], "")

    ctx = Context(muted=muted, mute_until=lambda reason: 100.0)
    d = decide(state, [_alert("1"), _alert("2"), _alert("1")], 10.0, context=ctx)
    assert d.stats.muted == 3 and d.muted_at == 10.0
    assert d.mutes == {("change:cw-1", "", "api"): 2, ("silence:s1", "", "api"): 1}
    (event,) = [e for e in decision_follow_ups(d, "m-1").events if e["type"] == "alert.muted"]
    assert event["event_id"] == f"m-1:{group.id}:muted" and event["group"] == group.id
    assert event["mutes"] == [
        {"reason": "change:cw-1", "kind": "change", "notifications": 2, "team": "", "service": "api"},
        {"reason": "silence:s1", "kind": "silence", "notifications": 1, "team": "", "service": "api"}]

    reasons["1"] = "silence:s1"  # the change window ends while a silence covers the alert
    timer = decide_timer(state, hold_timer(group.id, _alert("1").fingerprint), 100.0, context=ctx)
    assert state.alerts[_alert("1").fingerprint].muted == "silence:s1" and timer.stats.muted == 1
    assert timer.mutes == {} and not [e for e in decision_follow_ups(timer, "t").events if e["type"] == "alert.muted"]
    quiet = decide(state, [_alert("3")], 110.0, context=ctx)  # nothing muted: no event
    assert quiet.mutes == {} and not [e for e in decision_follow_ups(quiet, "m-2").events
                                      if e["type"] == "alert.muted"]


def test_mutes_are_counted_by_the_team_and_service_an_incident_would_have():
    """A report filtered by team or service counts the muted notifications of that team or service: each is keyed
    by the team an incident of the alert would have (its team label here, else the default team) and its service
    (the group label ``service``, else the alert's own label)."""
    router = Router(None, ("alertname",))
    base = {"alertname": "DiskFull", "pod": "p"}
    alerts = [Alert(labels=labels, status="firing", starts_at=1.0, received_at=1.0, fingerprint=fingerprint(labels),
                    source="test")
              for labels in ({**base, "service": "db", "team": "storage"}, {**base, "service": "web", "pod": "q"},
                             {**base, "service": "web", "pod": "r"})]
    group = router(alerts[0].labels)
    state = GroupState(group.id, group.key, group.labels)
    d = decide(state, alerts, 10.0, muted=lambda labels: "maintenance:patching", context=None)
    assert d.mutes == {("maintenance:patching", "storage", "db"): 1, ("maintenance:patching", "", "web"): 2}
    assert not d.opened
