"""Which alerts can be a cause for the topology: an info notice on a dependency does not capture a real outage's
symptoms (``min_severity``, default warning), and ``source_match`` says which alerts count. Pure core and the
in-memory simulation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from correlation.core.causes import CauseRules
from rules.loader import RuleSetInvalid, load_rule_set
from rules.schema import RuleSet
from tests.unit.test_recovery_grace import WEB, _feed, _sim

SERVICES = {"db": {}, "web": {"depends_on": ["db"]}}
NOTICE = {"alertname": "ScaledUp", "service": "db", "severity": "info"}
DOWN = {"alertname": "Down", "service": "db", "severity": "critical"}


def _titles(sim) -> dict[str, str]:
    return {i.title: i.status for i in sim.incidents()}


def test_an_info_notice_on_a_dependency_captures_nothing(tmp_path: Path):
    sim = _sim(tmp_path, {"topology": {"services": SERVICES}})
    _feed(sim, NOTICE, 0.0)
    _feed(sim, WEB, 10.0)  # the web errors are not the autoscaler's: they page
    assert _titles(sim) == {"ScaledUp / db": "open", "Errors / web": "open"}
    _feed(sim, DOWN, 20.0, starts_at=20.0)  # the real cause: web's incident merges into it
    sim.advance(20.0)
    assert _titles(sim) == {"ScaledUp / db": "open", "Errors / web": "resolved", "Down / db": "open"}
    (down,) = [i for i in sim.incidents() if i.title == "Down / db"]
    assert [s.path for s in sim.symptoms_of(down.id)] == [("web", "db")]


def test_min_severity_info_keeps_every_alert_a_cause(tmp_path: Path):
    sim = _sim(tmp_path, {"topology": {"services": SERVICES, "min_severity": "info"}})
    _feed(sim, NOTICE, 0.0)
    _feed(sim, WEB, 10.0)
    assert _titles(sim) == {"ScaledUp / db": "open"}


@pytest.mark.parametrize(("labels", "topology", "feeds"), [
    ({"alertname": "Down", "service": "db"}, {}, True),  # no severity: unknown counts
    ({"alertname": "Down", "service": "db", "severity": "warn"}, {}, True),  # an alias of warning
    ({"alertname": "Down", "service": "db", "severity": "debug"}, {}, False),  # an alias of info
    ({"alertname": "Down", "service": "db", "severity": "warning"}, {"min_severity": "error"}, False),
    ({"alertname": "Down", "service": "db", "severity": "critical"}, {"min_severity": "error"}, True),
    ({"alertname": "ScaledUp", "service": "db", "severity": "critical"},
     {"source_match": ['alertname!="ScaledUp"']}, False),
    ({"alertname": "Down", "service": "db", "severity": "critical"}, {"source_match": ['alertname!="ScaledUp"']}, True),
])
def test_which_alerts_feed_their_service(labels, topology, feeds):
    rules = CauseRules.from_rule_set(RuleSet.model_validate({"topology": {"services": SERVICES, **topology}}))
    assert (rules.feeds(labels) == ("svc:db",)) is feeds
    # a dependant's own lookups do not depend on it: it may still be explained by others
    assert [lookup.key for lookup in rules.lookups({"alertname": "X", "service": "web", **{
        k: v for k, v in labels.items() if k == "severity"}})] == ["svc:db"]


def test_the_settings_load_from_several_files(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"topology": {"services": {"db": {}},
                                                                  "source_match": ['alertname!="ScaledUp"'],
                                                                  "min_severity": "error"}}))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"topology": {"services": {"web": {"depends_on": ["db"]}},
                                                                  "source_match": ['team!="test"']}}))
    topology = load_rule_set(tmp_path).topology
    assert [str(m) for m in topology.source_match] == ['alertname!="ScaledUp"', 'team!="test"']
    assert topology.min_severity == "error"


def test_an_unknown_min_severity_is_refused(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"topology": {"services": SERVICES, "min_severity": "loud"}}))
    with pytest.raises(RuleSetInvalid) as caught:
        load_rule_set(tmp_path)
    assert "min_severity" in str(caught.value.errors)
