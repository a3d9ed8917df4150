"""A recovery must not page again: a cause that resolved still explains its symptoms for its rule's
recovery_grace. Pure core (causes, decide, timers) with a moved clock, through the in-memory simulation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from correlation.core.causes import CauseRules, Causes, Entry
from replay.simulation import Simulation
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import load_rule_set
from rules.schema import RECOVERY_GRACE, InhibitRule, Topology

INHIBIT = {"inhibit": [{"name": "down", "source_match": ['alertname="Down"'],
                        "target_match": ['alertname="Errors"']}]}
TOPOLOGY = {"topology": {"services": {"db": {}, "api": {"depends_on": ["db"]}, "web": {"depends_on": ["api"]}}}}
DOWN = {"alertname": "Down", "service": "db"}
WEB = {"alertname": "Errors", "service": "web"}
API = {"alertname": "Errors", "service": "api"}


def _sim(tmp_path: Path, rules: dict) -> Simulation:
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(rules))
    return Simulation(load_rule_set(tmp_path))


def _feed(sim: Simulation, labels: dict[str, str], at: float, status: str = "firing", starts_at: float = 0.0) -> None:
    sim.feed(Alert(labels=labels, status=status, starts_at=starts_at, received_at=at,
                   fingerprint=fingerprint(labels), source="test"), at)


def _titles(sim: Simulation) -> list[str]:
    return [i.title for i in sim.incidents()]


def _cascade(sim: Simulation) -> str:
    """Down fires at 0, its symptoms at 5, Down resolves at 60: the id of Down's incident."""
    _feed(sim, DOWN, 0.0)
    _feed(sim, WEB, 5.0, starts_at=5.0)
    _feed(sim, API, 5.0, starts_at=5.0)
    (down,) = sim.incidents()
    assert len(sim.symptoms_of(down.id)) == 2
    _feed(sim, DOWN, 60.0, status="resolved")
    assert sim.all_incidents[down.id].status == "resolved"
    return down.id


@pytest.mark.parametrize("rules", [INHIBIT, TOPOLOGY], ids=["inhibit", "topology"])
def test_a_recovering_cascade_pages_once(tmp_path: Path, rules: dict):
    sim = _sim(tmp_path, rules)
    down = _cascade(sim)
    _feed(sim, WEB, 90.0, starts_at=5.0)  # repeats within the grace: still symptoms of Down's incident
    _feed(sim, API, 120.0, starts_at=5.0)
    assert _titles(sim) == ["Down / db"]
    _feed(sim, WEB, 130.0, status="resolved", starts_at=5.0)  # the symptoms clear: nothing pages
    _feed(sim, API, 150.0, status="resolved", starts_at=5.0)
    sim.advance(60.0 + RECOVERY_GRACE + 600)
    assert _titles(sim) == ["Down / db"]
    assert len(sim.symptoms_of(down)) == 2
    assert sim.groups[next(iter(sim.groups))].alerts  # (sanity: state was kept)


@pytest.mark.parametrize("rules", [INHIBIT, TOPOLOGY], ids=["inhibit", "topology"])
def test_a_symptom_still_firing_when_the_grace_runs_out_pages_as_its_own_incident(tmp_path: Path, rules: dict):
    sim = _sim(tmp_path, rules)
    _cascade(sim)
    _feed(sim, WEB, 90.0, starts_at=5.0)  # repeats in the grace: a recheck is armed for when it runs out
    due = 60.0 + RECOVERY_GRACE
    sim.advance(due - 1)
    assert _titles(sim) == ["Down / db"]
    sim.advance(due)  # the symptom is real on its own: it pages, even without another notification
    assert _titles(sim) == ["Down / db", "Errors / web"]
    _feed(sim, API, due + 30, starts_at=5.0)  # no repeat during the grace: it pages at its next notification
    assert _titles(sim) == ["Down / db", "Errors / web", "Errors / api"]


def test_a_new_symptom_in_the_grace_is_attached_to_the_recovered_cause(tmp_path: Path):
    sim = _sim(tmp_path, INHIBIT)
    down = _cascade(sim)
    cache = {"alertname": "Errors", "service": "cache"}
    _feed(sim, cache, 70.0, starts_at=70.0)  # fires after its cause recovered, a lagging symptom
    assert _titles(sim) == ["Down / db"]
    assert sorted(s.labels["service"] for s in sim.symptoms_of(down)) == ["api", "cache", "web"]
    _feed(sim, cache, 80.0, status="resolved", starts_at=70.0)
    sim.advance(60.0 + RECOVERY_GRACE + 1)
    assert _titles(sim) == ["Down / db"]


def test_a_cause_firing_again_in_the_grace_keeps_its_symptoms(tmp_path: Path):
    sim = _sim(tmp_path, INHIBIT)
    _cascade(sim)
    _feed(sim, WEB, 90.0, starts_at=5.0)  # recheck armed for 60 + grace
    _feed(sim, DOWN, 100.0, starts_at=100.0)  # the cause fires again: a new incident for it, a firing source
    sim.advance(60.0 + RECOVERY_GRACE)  # the recheck finds a firing cause: still a symptom
    assert _titles(sim) == ["Down / db", "Down / db"]
    _feed(sim, WEB, 60.0 + RECOVERY_GRACE + 60, starts_at=5.0)
    assert _titles(sim) == ["Down / db", "Down / db"]


def test_the_grace_is_a_rule_option(tmp_path: Path):
    rules = {"inhibit": [{**INHIBIT["inhibit"][0], "recovery_grace": "1m"}]}
    sim = _sim(tmp_path, rules)
    _cascade(sim)
    _feed(sim, WEB, 100.0, starts_at=5.0)  # 40s after the recovery: explained
    assert _titles(sim) == ["Down / db"]
    sim.advance(120.0)  # 60s after the recovery: the recheck pages it
    assert _titles(sim) == ["Down / db", "Errors / web"]
    topology = Topology.model_validate({**TOPOLOGY["topology"], "recovery_grace": "2m"})
    assert CauseRules(topology=topology).lookups(WEB)[0].grace == 120.0
    assert InhibitRule.model_validate(INHIBIT["inhibit"][0]).recovery_grace == RECOVERY_GRACE == 300.0


# --- the cause index, pure -------------------------------------------------------------------------------------


def test_a_stopped_entry_keeps_its_incident_and_when_it_stopped():
    for entry in (Entry(3, "INC-a-1"), Entry(4, "INC-a-1", 60.5), Entry(2, "")):
        assert Entry.decode(entry.encode().encode()) == entry
    assert Entry.decode(b"7|INC-a-1") == Entry(7, "INC-a-1")  # written before the grace existed
    assert Entry.decode("2|") == Entry(2, "")


def test_a_recovered_source_explains_only_within_the_grace_and_a_firing_one_is_preferred():
    rules = CauseRules([InhibitRule.model_validate({**INHIBIT["inhibit"][0], "recovery_grace": "5m"})])
    (key,) = rules.feeds(DOWN)
    recovered = Causes(rules, {key: {"a": Entry(2, "INC-old-1", 60.0)}})
    cause = recovered(WEB, fingerprint(WEB), 359.0)
    assert cause is not None and (cause.incident, cause.until) == ("INC-old-1", 360.0)
    assert recovered(WEB, fingerprint(WEB), 360.0) is None
    both = Causes(rules, {key: {"a": Entry(2, "INC-old-1", 60.0), "b": Entry(1, "INC-new-1")}})
    cause = both(WEB, fingerprint(WEB), 100.0)
    assert cause is not None and (cause.incident, cause.until) == ("INC-new-1", None)
    never = Causes(rules, {key: {"a": Entry(2, "", 60.0)}})
    assert never(WEB, fingerprint(WEB), 61.0) is None
