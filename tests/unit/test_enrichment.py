"""Enrichment adds labels and annotations from static maps, never overwriting what the source sent."""

from __future__ import annotations

from pathlib import Path

import yaml

from correlation.core.enrichment import Enricher
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import load_rule_set


def _alert(**labels: str) -> Alert:
    return Alert(labels=labels, status="firing", starts_at=1.0, received_at=1.0, fingerprint=fingerprint(labels),
                 source="test", annotations={"summary": "s"})


def _enricher(tmp_path: Path, rules: list[dict]) -> Enricher:
    (tmp_path / "e.yaml").write_text(yaml.safe_dump({"enrichment": rules}))
    return Enricher(load_rule_set(tmp_path).enrichment)


def test_matching_rules_and_lookups_add_without_overwriting(tmp_path):
    enrich = _enricher(tmp_path, [
        {"name": "db", "match": ['service="orders-db"'], "add_labels": {"team": "dba"},
         "add_annotations": {"runbook_url": "https://runbooks/pg", "summary": "never used"}},
        {"name": "owners", "lookup": {"from_label": "service", "table": {
            "orders-db": {"labels": {"team": "core", "tier": "1"}},
            "checkout": {"labels": {"team": "payments"}, "annotations": {"dashboard": "https://grafana/d/pay"}}}}},
    ])
    db = enrich(_alert(alertname="PostgresDown", service="orders-db"))
    assert db.labels == {"alertname": "PostgresDown", "service": "orders-db", "team": "dba", "tier": "1"}
    assert db.annotations == {"summary": "s", "runbook_url": "https://runbooks/pg"}
    assert db.fingerprint == fingerprint({"alertname": "PostgresDown", "service": "orders-db"})  # identity as sent

    checkout = enrich(_alert(alertname="HighErrorRate", service="checkout", team="web"))
    assert checkout.labels["team"] == "web"  # the sender's word wins
    assert checkout.annotations["dashboard"] == "https://grafana/d/pay"

    plain = _alert(alertname="X", service="unknown")
    assert enrich(plain) is plain


def test_what_is_added_is_remembered_per_label_set_whatever_the_annotations_say(tmp_path):
    """Annotations often carry the current value; the additions depend on the labels alone, so one memo entry
    serves every notification of an alert, and the sender's annotations still win."""
    enrich = _enricher(tmp_path, [
        {"name": "db", "match": ['service="orders-db"'], "add_annotations": {"runbook_url": "https://runbooks/pg"}},
    ])
    labels = {"alertname": "DiskFull", "service": "orders-db"}
    seen = []
    for value, runbook in ((91, None), (93, None), (97, "https://runbooks/own")):
        annotations = {"summary": f"disk at {value}%"} | ({"runbook_url": runbook} if runbook else {})
        alert = Alert(labels=labels, status="firing", starts_at=1.0, received_at=1.0,
                      fingerprint=fingerprint(labels), source="test", annotations=annotations)
        seen.append(enrich(alert))
    assert [a.annotations["summary"] for a in seen] == ["disk at 91%", "disk at 93%", "disk at 97%"]
    assert [a.annotations["runbook_url"] for a in seen] == ["https://runbooks/pg"] * 2 + ["https://runbooks/own"]
    assert all(a.labels is labels for a in seen)  # no rule adds a label: the alert's own mapping is kept
    assert len(enrich._memo) == 1


def test_one_fingerprint_with_other_labels_is_enriched_by_its_own_labels(tmp_path):
    """The memo is looked up by fingerprint but a hit needs equal labels: a sender-keyed fingerprint (PagerDuty's
    dedup key) may arrive with other labels, and each label set gets its own additions, alternately too."""
    enrich = _enricher(tmp_path, [
        {"name": "owners", "lookup": {"from_label": "service", "table": {
            "orders-db": {"labels": {"team": "dba"}}, "checkout": {"labels": {"team": "payments"}}}}},
    ])

    def keyed(service: str) -> Alert:
        return Alert(labels={"service": service}, status="firing", starts_at=1.0, received_at=1.0,
                     fingerprint="dedup-key-1", source="pagerduty", annotations={})

    teams = [enrich(keyed(s)).labels.get("team") for s in ("orders-db", "checkout", "orders-db", "other")]
    assert teams == ["dba", "payments", "dba", None]
