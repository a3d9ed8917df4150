"""Live cause keys (correlation.core.live_keys): Causes reading only the keys that may explain answers exactly what
reading every key answers, whatever the writes and the instants asked about; a write makes a dropped key live again."""

from __future__ import annotations

from collections.abc import Set

from hypothesis import given, settings
from hypothesis import strategies as st

from correlation.core.causes import CauseRules, Causes, Entry
from correlation.core.live_keys import LiveKeys
from rules.alert import severity_rank
from rules.schema import InhibitRule, Topology

TOPOLOGY = Topology.model_validate({"symptom_lag": "30s", "recovery_grace": "60s", "services": {
    "db": {}, "cache": {}, "api": {"depends_on": ["db", "cache"]}, "web": {"depends_on": ["api"]},
    "batch": {"depends_on": ["db"]},
}})
INHIBIT = InhibitRule.model_validate({"name": "down", "source_match": ['alertname="Down"'],
                                      "target_match": ['alertname="Errors"'], "equal": ["cluster"],
                                      "recovery_grace": "5m"})
RULES = CauseRules([INHIBIT], TOPOLOGY)
SEVERITIES = ("critical", "warning", "info", "")
KEYS = sorted({key for service in TOPOLOGY.services for cluster in ("eu", "us") for name in ("Down", "Errors")
               for key in RULES.feeds({"alertname": name, "service": service, "cluster": cluster})})
FINGERPRINTS = ("fp0", "fp1", "fp2", "fp3")


class EveryKey(LiveKeys):
    """Reads every key, as Causes did before the index: the reference."""

    def at(self, now: float) -> Set[str] | None:
        return None


instants = st.integers(0, 600).map(float)  # dense: sources stop within a grace of the instants asked about
entries_st = st.builds(
    Entry, st.integers(1, 9), st.sampled_from(("", "INC-a-1", "INC-b-1")),
    st.one_of(st.none(), instants), st.sampled_from([severity_rank(s) for s in SEVERITIES]), st.one_of(st.none(), instants))
write_st = st.tuples(st.just("write"), st.sampled_from(KEYS), st.sampled_from(FINGERPRINTS),
                     st.one_of(st.none(), entries_st))  # None: the source's entry removed
ask_st = st.tuples(st.just("ask"), st.sampled_from(sorted(TOPOLOGY.services)), st.sampled_from(("Errors", "Down")),
                   st.sampled_from(SEVERITIES), st.sampled_from(("eu", "us")), st.sampled_from(FINGERPRINTS),
                   st.one_of(st.none(), instants))
step_st = st.tuples(st.integers(-40, 120).map(float), st.one_of(write_st, ask_st))


@settings(max_examples=300, deadline=None)
@given(st.lists(step_st, max_size=60))
def test_reading_live_keys_answers_as_reading_every_key(steps):
    entries: dict[str, dict[str, Entry]] = {}
    live = LiveKeys(entries, RULES.longest_grace)
    causes = Causes(RULES, entries, live)
    reference = Causes(RULES, entries, EveryKey(entries, RULES.longest_grace))
    now = 0.0
    for delta, step in steps:
        now = max(0.0, now + delta)  # mostly later, sometimes earlier than an instant already asked about
        if step[0] == "write":
            _, key, fp, entry = step
            if entry is None:
                entries.get(key, {}).pop(fp, None)
            else:
                entries.setdefault(key, {})[fp] = entry
            live.changed([key])
            continue
        _, service, name, severity, cluster, fp, since = step
        labels = {"alertname": name, "service": service, "cluster": cluster}
        if severity:
            labels["severity"] = severity
        assert causes(labels, fp, now, since) == reference(labels, fp, now, since)
        keys = live.at(now)
        for key, sources in entries.items():  # a key left out explains nothing under the longest grace
            if keys is not None and key not in keys:
                assert all(not e.incident or (e.stopped is not None and now >= e.stopped + RULES.longest_grace)
                           for e in sources.values())


def test_a_write_makes_a_dropped_key_live_again_and_an_earlier_instant_reads_every_key():
    entries = {"svc:db": {"a": Entry(1, "INC-db-1", 100.0)}}
    live = LiveKeys(entries, RULES.longest_grace)
    causes = Causes(RULES, entries, live)
    web = {"alertname": "Errors", "service": "web", "cluster": "eu"}
    assert causes(web, "w", 1000.0) is None  # stopped at 100, grace 60 s: nothing explains at 1000
    assert "svc:db" not in live.keys  # dropped
    earlier = causes(web, "w", 130.0)  # before the instant it was dropped at: every key is read
    assert earlier is not None and (earlier.incident, earlier.until) == ("INC-db-1", 160.0)
    entries["svc:db"]["b"] = Entry(2, "INC-db-2")  # the index changes: the writer says so
    live.changed(["svc:db"])
    later = causes(web, "w", 1001.0)
    assert later is not None and (later.incident, later.until) == ("INC-db-2", None)


def test_a_batch_read_once_builds_its_own_live_keys():
    entries = {"svc:db": {"a": Entry(1, "INC-db-1", 100.0)}, "svc:api": {"b": Entry(1, "INC-api-1")}}
    causes = Causes(RULES, entries)
    web = {"alertname": "Errors", "service": "web", "cluster": "eu"}
    cause = causes(web, "w", 1000.0)
    assert cause is not None and cause.incident == "INC-api-1"
    assert causes.live is not None and causes.live.keys == {"svc:api"}
