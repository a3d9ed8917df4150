"""Properties of the whole rule language at once (the shipped examples: thresholds, holds, inhibition, topology,
flapping, windows, problems, auto-resolve), over random alert streams in simulated time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from correlation.core.model import GroupState
from replay.simulation import Simulation
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import EXAMPLES_DIR, load_rule_set

RULES = load_rule_set(EXAMPLES_DIR)
NAMES = ["PostgresDown", "PostgresReplicationLag", "HighErrorRate", "HighLatency", "DiskSpaceLow", "BatchJobFailed",
         "QueueBacklog"]
SERVICES = ["orders-db", "orders-api", "checkout", "payments", "shipping", "misc"]

step = st.tuples(
    st.floats(min_value=0, max_value=900, allow_nan=False),  # seconds since the previous notification
    st.sampled_from(NAMES),
    st.sampled_from(SERVICES),
    st.integers(min_value=1, max_value=3),  # instance
    st.booleans(),  # resolved?
)


def _counted(state: GroupState, incident_id: str) -> int:
    """Members an open incident should count as firing: attached, not muted, firing or flapping."""
    return sum(1 for a in state.alerts.values()
               if a.incident == incident_id and not a.muted and (a.status == "firing" or a.flapping))


@settings(max_examples=60, deadline=None)
@given(st.lists(step, min_size=1, max_size=60))
def test_incident_counts_match_their_members_whatever_the_stream(steps):
    sim = Simulation(RULES)
    now = 1_767_571_200.0  # Monday 2026-01-05 00:00 UTC
    episode: dict[str, float] = {}
    for delta, name, service, instance, resolved in steps:
        now += delta
        labels = {"alertname": name, "service": service, "instance": f"i-{instance}", "job": "billing-export",
                  "mountpoint": "/var", "severity": "critical"}
        fp = fingerprint(labels)
        if not resolved and fp not in episode:
            episode[fp] = now
        starts = episode.get(fp, now)
        if resolved:
            episode.pop(fp, None)
        sim.feed(Alert(labels=labels, status="resolved" if resolved else "firing", starts_at=starts, received_at=now,
                       fingerprint=fp, source="property", ends_at=now if resolved else None), now)
        sim.advance(now)
        for state in sim.groups.values():
            open_incidents = [i for i in [state.incident, *state.older.values()] if i is not None and i.is_open]
            assert len({i.id for i in open_incidents}) == len(open_incidents)
            for incident in open_incidents:
                assert incident.firing == _counted(state, incident.id), (incident, state.alerts)
                assert 0 <= incident.flapping <= incident.alerts
            for alert in state.alerts.values():
                if alert.muted.startswith(("inhibited:", "topology:")):
                    assert alert.cause and not alert.incident  # a symptom belongs to its cause, not to a group
    sim.advance(now + 7 * 86400)  # every timer fires: nothing is left waiting for a cause
    for state in sim.groups.values():
        assert not any(a.muted.startswith("hold:") and a.status == "firing" for a in state.alerts.values())
