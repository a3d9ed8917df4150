"""The correlation engine as a timeline: group state + alerts + an explicit ``now`` in, a decision out.

No clock, no I/O: every test builds ``Alert`` values by hand, feeds them to ``decide`` at chosen times and
reads the ``Decision`` (and the ``GroupState`` it advanced in place).
"""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from correlation.core.engine import Decision, decide
from correlation.core.routing import Router
from correlation.core.model import GroupState, Incident
from rules.alert import Alert
from rules.fingerprint import fingerprint

T0 = 1_700_000_000.0
GROUP_BY = ("alertname", "service")
GROUPER = Router(None, GROUP_BY)


def alert(instance: str = "db-1", status: str = "firing", *, starts_at: float = T0, **extra: str) -> Alert:
    """A DiskFull alert of service db (so always the same group) on ``instance``."""
    labels = {"alertname": "DiskFull", "service": "db", "instance": instance, **extra}
    return Alert(
        labels=labels,
        status=status,  # type: ignore[arg-type]
        starts_at=starts_at,
        received_at=starts_at,
        fingerprint=fingerprint(labels),
        source="test",
        ends_at=None if status == "firing" else starts_at + 60,
    )


def group_state(sample: Alert) -> GroupState:
    group = GROUPER(sample.labels)
    return GroupState(group_id=group.id, group_key=group.key, group_labels=dict(group.labels))


def kinds(decision: Decision, incident_id: str) -> list[str]:
    return [entry["kind"] for entry in decision.timeline.get(incident_id, [])]


def routes(decision: Decision) -> list[tuple[str, str]]:
    return [(event.routing_key, event.incident_id) for event in decision.events]


def open_with(*alerts: Alert, now: float = T0 + 1) -> tuple[GroupState, Incident]:
    """Group state with one open incident, opened by ``alerts`` in one decide call."""
    state = group_state(alerts[0])
    decision = decide(state, alerts, now)
    (incident_id,) = decision.opened
    return state, decision.incidents[incident_id]


# --- opening -------------------------------------------------------------------------------------------


def test_first_firing_alert_opens_an_incident() -> None:
    a = alert("db-1", severity="warning")
    state = group_state(a)

    d = decide(state, [a], now=T0 + 5)

    (iid,) = d.opened
    assert re.fullmatch(r"INC-[0-9a-f]{12}-1", iid)
    assert iid == f"INC-{state.group_id}-1"
    inc = d.incidents[iid]
    assert inc.title == "DiskFull / db"
    assert (inc.status, inc.severity) == ("open", "warning")
    assert (inc.alerts, inc.firing, inc.occurrences) == (1, 1, 1)
    assert inc.created_at == inc.updated_at == T0 + 5
    assert inc.resolved_at is None
    assert inc.group_key == '{alertname="DiskFull",service="db"}'
    assert inc.group_labels == {"alertname": "DiskFull", "service": "db"}

    assert routes(d) == [("incident.created", iid)]
    assert d.events[0].incident == inc.public()
    assert d.events[0].at == T0 + 5

    assert kinds(d, iid) == ["created"]
    (created,) = d.timeline[iid]
    assert created["at"] == T0 + 5
    assert created["fingerprint"] == a.fingerprint
    assert created["text"] == "opened by DiskFull on db-1"

    member = d.alerts[a.fingerprint]
    assert (member.status, member.count, member.incident) == ("firing", 1, iid)
    assert member.first_seen == member.last_seen == T0 + 5
    assert d.new_members == {iid: [a.fingerprint]}
    assert (d.stats.new, d.stats.duplicates, d.stats.changed) == (1, 0, 0)
    assert d.resolved == []
    assert (d.seq, d.current_incident) == (1, iid)
    assert d.changed

    assert state.seq == 1
    assert state.incident is inc
    assert state.alerts[a.fingerprint] is member


def test_created_event_carries_the_final_record_of_its_decision() -> None:
    a, b = alert("db-1"), alert("db-2")
    state = group_state(a)

    d = decide(state, [a, b], now=T0)

    (iid,) = d.opened
    assert routes(d) == [("incident.created", iid)]  # b joining what this decision opened: no update event
    assert d.events[0].incident["alerts"] == 2
    assert d.events[0].incident["firing"] == 2
    assert kinds(d, iid) == ["created"]
    assert d.new_members == {iid: [a.fingerprint, b.fingerprint]}


def test_title_skips_empty_group_values_and_has_a_fallback() -> None:
    partial = Alert(labels={"alertname": "Down"}, status="firing", starts_at=T0, received_at=T0,
                    fingerprint=fingerprint({"alertname": "Down"}), source="test")
    d = decide(group_state(partial), [partial], T0)
    assert d.incidents[d.opened[0]].title == "Down"

    bare = Alert(labels={"job": "x"}, status="firing", starts_at=T0, received_at=T0,
                 fingerprint=fingerprint({"job": "x"}), source="test")
    d = decide(group_state(bare), [bare], T0)
    assert d.incidents[d.opened[0]].title == "(no group labels)"


# --- joining, duplicates, severity ---------------------------------------------------------------------


def test_second_alert_of_the_group_joins_the_open_incident() -> None:
    a, b = alert("db-1"), alert("db-2")
    state, inc = open_with(a)

    d = decide(state, [b], now=T0 + 10)

    assert d.opened == []
    assert (inc.alerts, inc.firing, inc.occurrences) == (2, 2, 2)
    assert inc.updated_at == T0 + 10
    assert routes(d) == [("incident.updated", inc.id)]
    assert d.events[0].reason == "alert added"
    assert d.events[0].incident == inc.public()
    assert kinds(d, inc.id) == ["alert"]
    assert d.timeline[inc.id][0]["text"] == "DiskFull on db-2 joined"
    assert d.new_members == {inc.id: [b.fingerprint]}
    assert d.alerts[b.fingerprint].incident == inc.id


def test_a_storm_in_one_decide_call_is_one_update_event_not_one_per_alert() -> None:
    state, inc = open_with(alert("db-0"))
    storm = [alert(f"db-{n}") for n in range(1, 21)]

    d = decide(state, storm, now=T0 + 10)

    assert routes(d) == [("incident.updated", inc.id)]
    assert (inc.alerts, inc.firing) == (21, 21)
    assert kinds(d, inc.id) == ["alert"] * 20  # the timeline still names every member
    assert d.stats.new == 20


def test_repeats_are_duplicates_counted_not_new_incidents() -> None:
    a = alert("db-1")
    state, inc = open_with(a)

    d = decide(state, [a, a], now=T0 + 30)

    assert d.stats.duplicates == 2
    assert d.stats.new == 0
    assert d.opened == []
    assert d.events == []
    assert d.timeline == {}
    assert d.new_members == {}
    assert state.alerts[a.fingerprint].count == 3
    assert state.alerts[a.fingerprint].last_seen == T0 + 30
    assert (inc.alerts, inc.firing, inc.occurrences) == (1, 1, 3)
    assert d.incidents == {inc.id: inc}  # occurrences moved: the record is rewritten
    assert state.seq == 1


def test_a_more_severe_member_raises_the_incident_severity() -> None:
    state, inc = open_with(alert("db-1", severity="warning"))

    d = decide(state, [alert("db-2", severity="critical")], now=T0 + 10)

    assert inc.severity == "critical"
    assert kinds(d, inc.id) == ["severity", "alert"]
    assert d.timeline[inc.id][0]["text"] == "severity raised warning -> critical"

    d = decide(state, [alert("db-3", severity="info")], now=T0 + 20)

    assert inc.severity == "critical"  # never lowered
    assert kinds(d, inc.id) == ["alert"]


# --- resolving -----------------------------------------------------------------------------------------


def test_alerts_resolving_lower_firing_and_the_last_one_resolves_the_incident() -> None:
    a, b = alert("db-1"), alert("db-2")
    state, inc = open_with(a, b)

    d = decide(state, [alert("db-1", "resolved")], now=T0 + 60)

    assert (inc.status, inc.alerts, inc.firing) == ("open", 2, 1)
    assert routes(d) == [("incident.updated", inc.id)]
    assert d.events[0].reason == "alert resolved"
    assert kinds(d, inc.id) == ["alert"]
    assert d.timeline[inc.id][0]["text"] == "DiskFull on db-1 resolved"
    assert d.alerts[a.fingerprint].status == "resolved"
    assert d.stats.changed == 1
    assert d.resolved == []

    d = decide(state, [alert("db-2", "resolved")], now=T0 + 90)

    assert (inc.status, inc.firing, inc.alerts) == ("resolved", 0, 2)
    assert inc.resolved_at == T0 + 90
    assert d.resolved == [inc.id]
    assert routes(d) == [("incident.resolved", inc.id)]
    assert d.events[0].incident["status"] == "resolved"
    assert d.events[0].incident["resolved_at"] == T0 + 90
    assert kinds(d, inc.id) == ["alert", "resolved"]
    assert state.incident is inc  # the latest incident, now resolved
    assert d.current_incident == inc.id


def test_firing_after_resolution_opens_incident_two_and_old_alerts_join_it_as_new_members() -> None:
    a = alert("db-1")
    state, first = open_with(a)
    decide(state, [alert("db-1", "resolved")], now=T0 + 60)
    assert first.status == "resolved"

    c = alert("db-3", starts_at=T0 + 100)
    d = decide(state, [c], now=T0 + 100)

    (iid,) = d.opened
    assert iid == f"INC-{state.group_id}-2"
    second = d.incidents[iid]
    assert second is not first
    assert (second.alerts, second.firing) == (1, 1)
    assert routes(d) == [("incident.created", iid)]

    d = decide(state, [alert("db-1", starts_at=T0 + 120)], now=T0 + 120)

    assert d.opened == []
    assert d.new_members == {iid: [a.fingerprint]}
    assert (second.alerts, second.firing) == (2, 2)
    assert state.alerts[a.fingerprint].incident == iid
    assert state.alerts[a.fingerprint].count == 3
    assert d.timeline[iid][0]["text"] == "DiskFull on db-1 joined"
    assert routes(d) == [("incident.updated", iid)]
    assert (first.status, first.firing, first.alerts) == ("resolved", 0, 1)  # the old one is untouched


def test_an_old_alert_firing_again_can_open_the_next_incident_itself() -> None:
    a = alert("db-1")
    state, first = open_with(a)
    decide(state, [alert("db-1", "resolved")], now=T0 + 60)

    d = decide(state, [alert("db-1", starts_at=T0 + 100)], now=T0 + 100)

    assert d.opened == [f"INC-{state.group_id}-2"]
    assert d.new_members == {d.opened[0]: [a.fingerprint]}
    assert d.incidents[d.opened[0]].alerts == 1
    assert kinds(d, d.opened[0]) == ["created"]


def test_firing_again_inside_the_same_open_incident_is_not_a_new_member() -> None:
    a, b = alert("db-1"), alert("db-2")
    state, inc = open_with(a, b)
    decide(state, [alert("db-1", "resolved")], now=T0 + 60)
    assert inc.firing == 1

    d = decide(state, [alert("db-1", starts_at=T0 + 100)], now=T0 + 100)

    assert (inc.alerts, inc.firing) == (2, 2)
    assert d.new_members == {}
    assert d.timeline[inc.id][0]["text"] == "DiskFull on db-1 firing again"


# --- ignored notifications -----------------------------------------------------------------------------


def test_a_resolved_notification_for_an_unknown_alert_is_ignored() -> None:
    r = alert("db-1", "resolved")
    state = group_state(r)

    d = decide(state, [r], now=T0)

    assert d.stats.resolved_unknown == 1
    assert d.opened == [] and d.events == [] and d.alerts == {} and d.incidents == {}
    assert not d.changed
    assert (state.seq, state.incident, state.alerts) == (0, None, {})
    assert (d.seq, d.current_incident) == (0, "")


def test_a_stale_out_of_order_notification_is_ignored() -> None:
    state, first = open_with(alert("db-1", starts_at=T0))
    decide(state, [alert("db-1", "resolved", starts_at=T0)], now=T0 + 60)
    d = decide(state, [alert("db-1", starts_at=T0 + 100)], now=T0 + 100)  # fires again: a new incident
    (second_id,) = d.opened
    second = d.incidents[second_id]

    # the resolved notification of the first episode, delivered again late
    d = decide(state, [alert("db-1", "resolved", starts_at=T0)], now=T0 + 110)

    assert d.stats.stale == 1
    assert not d.changed and d.events == [] and d.resolved == []
    assert (second.status, second.firing) == ("open", 1)
    member = state.alerts[alert("db-1").fingerprint]
    assert (member.status, member.count, member.starts_at) == ("firing", 3, T0 + 100)


def test_an_older_notification_in_the_same_status_is_a_duplicate_not_stale() -> None:
    state, inc = open_with(alert("db-1", starts_at=T0 + 100))

    d = decide(state, [alert("db-1", starts_at=T0)], now=T0 + 110)

    assert (d.stats.stale, d.stats.duplicates) == (0, 1)
    assert inc.occurrences == 2


# --- one batch, several decide calls -------------------------------------------------------------------


def test_decide_advances_group_state_in_place_for_the_next_call_of_the_batch() -> None:
    a, b = alert("db-1"), alert("db-2")
    state = group_state(a)

    first = decide(state, [a], now=T0)
    second = decide(state, [b], now=T0)

    (iid,) = first.opened
    assert second.opened == []
    assert (second.seq, second.current_incident) == (1, iid)
    assert second.incidents[iid] is first.incidents[iid]
    assert second.incidents[iid].alerts == 2
    assert set(state.alerts) == {a.fingerprint, b.fingerprint}

    third = decide(state, [alert("db-1", "resolved"), alert("db-2", "resolved")], now=T0 + 1)
    fourth = decide(state, [alert("db-2", starts_at=T0 + 2)], now=T0 + 2)

    assert third.resolved == [iid]
    assert fourth.opened == [f"INC-{state.group_id}-2"]
    assert (fourth.seq, fourth.current_incident) == (2, fourth.opened[0])


def test_resolve_and_reopen_inside_one_decide_call() -> None:
    state, first = open_with(alert("db-1"))

    d = decide(state, [alert("db-1", "resolved"), alert("db-2", starts_at=T0 + 5)], now=T0 + 5)

    second_id = f"INC-{state.group_id}-2"
    assert d.resolved == [first.id]
    assert d.opened == [second_id]
    assert routes(d) == [("incident.resolved", first.id), ("incident.created", second_id)]
    assert d.events[0].incident["status"] == "resolved"
    assert d.events[1].incident["status"] == "open"


# --- grouping ------------------------------------------------------------------------------------------


def test_grouper_missing_label_is_empty_string() -> None:
    group = Router(None, ("alertname", "cluster"))({"alertname": "X"})
    assert group.labels == {"alertname": "X", "cluster": ""}
    assert group.key == '{alertname="X",cluster=""}'


def test_grouper_same_values_same_group_different_values_different_group() -> None:
    grouper = Router(None, GROUP_BY)
    one = grouper({"alertname": "X", "service": "Y", "instance": "a", "severity": "page"})
    two = grouper({"alertname": "X", "service": "Y", "instance": "b"})
    other = grouper({"alertname": "X", "service": "Z"})

    assert one.id == two.id
    assert one.key == two.key
    assert other.id != one.id
    assert re.fullmatch(r"[0-9a-f]{12}", one.id)
    assert Router(None, GROUP_BY)({"alertname": "X", "service": "Y"}).id == one.id  # not an artefact of the cache


def test_grouper_key_format_follows_group_by_order() -> None:
    assert Router(None, GROUP_BY)({"service": "Y", "alertname": "X"}).key == '{alertname="X",service="Y"}'
    assert Router(None, ("service", "alertname"))({"alertname": "X", "service": "Y"}).key == '{service="Y",alertname="X"}'


def test_grouper_missing_label_differs_from_other_values() -> None:
    grouper = Router(None, GROUP_BY)
    assert grouper({"alertname": "X"}).id != grouper({"alertname": "X", "service": "Y"}).id


# --- invariants under any sequence ---------------------------------------------------------------------

INSTANCES = ("db-1", "db-2", "db-3")
STARTS = (T0, T0 + 100, T0 + 200)
notifications = st.tuples(st.sampled_from(INSTANCES), st.sampled_from(("firing", "resolved")), st.sampled_from(STARTS))


class Model:
    """What the decisions say about the alerts, tracked independently of the engine's own counters."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.incident_of: dict[str, str] = {}
        self.count: dict[str, int] = {}
        self.members: dict[str, set[str]] = {}
        self.incidents: dict[str, Incident] = {}

    def apply(self, d: Decision) -> None:
        for fp, a in d.alerts.items():
            self.status[fp] = a.status
            self.incident_of[fp] = a.incident
            self.count[fp] = a.count
        for iid, fps in d.new_members.items():
            self.members.setdefault(iid, set()).update(fps)
        self.incidents.update(d.incidents)

    def check(self, d: Decision, was_open: set[str]) -> None:
        open_now = {iid for iid, inc in self.incidents.items() if inc.is_open}
        assert len(open_now) <= 1
        for iid, inc in self.incidents.items():
            firing = sum(1 for fp, s in self.status.items() if s == "firing" and self.incident_of[fp] == iid)
            assert inc.firing == firing, iid
            assert inc.is_open == (inc.firing > 0), iid
            assert inc.alerts == len(self.members[iid]), iid
            assert (inc.resolved_at is not None) == (not inc.is_open), iid
        assert set(d.resolved) == was_open - open_now  # resolves exactly when firing hits 0, in that decision
        updated = Counter(e.incident_id for e in d.events if e.routing_key == "incident.updated")
        assert all(n == 1 for n in updated.values())
        assert {e.incident_id for e in d.events if e.routing_key == "incident.resolved"} == set(d.resolved)
        assert {e.incident_id for e in d.events if e.routing_key == "incident.created"} == set(d.opened)


@settings(max_examples=100, deadline=None)
@given(st.lists(notifications, min_size=4, max_size=40))
def test_invariants_hold_for_any_sequence_one_notification_per_call(steps: list[tuple[str, str, float]]) -> None:
    state = group_state(alert())
    model = Model()
    expected = Counter[str]()
    for n, (instance, status, starts_at) in enumerate(steps):
        a = alert(instance, status, starts_at=starts_at)
        was_open = {iid for iid, inc in model.incidents.items() if inc.is_open}

        d = decide(state, [a], now=T0 + 1000 + n)

        ignored = d.stats.stale + d.stats.resolved_unknown
        assert ignored in (0, 1)
        if ignored:
            assert not d.changed and d.events == [] and d.opened == []
        else:
            expected[a.fingerprint] += 1
        model.apply(d)
        model.check(d, was_open)
        assert model.count == dict(expected)
        assert {fp: s.count for fp, s in state.alerts.items()} == dict(expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(notifications, min_size=1, max_size=8), max_size=12))
def test_invariants_hold_for_any_sequence_of_batches(batches: list[list[tuple[str, str, float]]]) -> None:
    state = group_state(alert())
    model = Model()
    accepted = 0
    for n, batch in enumerate(batches):
        was_open = {iid for iid, inc in model.incidents.items() if inc.is_open}

        d = decide(state, [alert(i, s, starts_at=t) for i, s, t in batch], now=T0 + 1000 + n)

        accepted += len(batch) - d.stats.stale - d.stats.resolved_unknown
        model.apply(d)
        # an incident may open and resolve inside one batch; it was never "open" between decisions
        model.check(d, was_open | (set(d.opened) & set(d.resolved)))
        assert sum(s.count for s in state.alerts.values()) == accepted
