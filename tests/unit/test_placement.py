"""Where each notification counts (docs/quality.md): members, symptoms, waiting then placed, unplaced, episodes."""

from __future__ import annotations

from pathlib import Path

from replay.placement import replay
from replay.storms import Storm
from rules.loader import load_rule_set

RULES = """\
topology:
  hold: 30s
  services:
    db: {}
    api: {depends_on: [db]}
groups:
  - name: held
    match: ['alertname="Quiet"']
    threshold: {count: 3, within: 1m}
"""


def _replay(tmp_path: Path, storm: Storm):
    (tmp_path / "r.yaml").write_text(RULES)
    return replay(load_rule_set(tmp_path), storm.ordered())


def _by_name(r):
    out: dict[tuple[str, str], set[str]] = {}
    for n, where in zip(r.notifications, r.placed, strict=True):
        out.setdefault((n.alert.labels["alertname"], n.alert.status), set()).add(where)
    return out


def test_a_waiting_symptom_counts_in_its_cause_incident_from_its_first_notification(tmp_path):
    s = Storm("t", "", "")
    s.alert({"alertname": "Errors", "service": "api"}, "x", [(0, 200)])  # waits 30 s for a cause
    s.alert({"alertname": "DbDown", "service": "db"}, "x", [(10, 150)])
    r = _replay(tmp_path, s)
    (db,) = [i for i in r.incidents if i.title.startswith("DbDown")]
    assert len(r.incidents) == 1
    assert _by_name(r) == {("Errors", "firing"): {db.id}, ("Errors", "resolved"): {db.id},
                           ("DbDown", "firing"): {db.id}, ("DbDown", "resolved"): {db.id}}
    assert r.score().f1 == 1.0


def test_an_alert_held_by_a_threshold_never_met_is_unplaced(tmp_path):
    s = Storm("t", "", "")
    s.alert({"alertname": "Quiet", "service": "q"}, "q", [(0, 120)])
    r = _replay(tmp_path, s)
    assert r.incidents == [] and set(r.placed) == {""} and len(r.unplaced()) == len(r.notifications)
    assert r.score().unplaced == len(r.notifications)


def test_each_episode_of_one_alert_counts_in_its_own_incident(tmp_path):
    s = Storm("t", "", "")
    s.alert({"alertname": "DbDown", "service": "db"}, "x", [(0, 60), (4000, 4060)])
    r = _replay(tmp_path, s)
    first, second = r.incidents
    assert r.placed == [first.id, first.id, second.id, second.id]


def test_json_docs_list_each_incidents_notifications_and_symptom_paths(tmp_path):
    s = Storm("t", "", "")
    s.alert({"alertname": "DbDown", "service": "db"}, "x", [(0, 150)])
    s.alert({"alertname": "Errors", "service": "api"}, "x", [(5, 200)])
    r = _replay(tmp_path, s)
    (doc,) = r.incident_docs()
    assert len(doc["notifications"]) == len(r.notifications)
    assert [(x["kind"], x["path"]) for x in doc["symptoms"]] == [("topology", ["api", "db"])]
    assert doc["problems"] == []
