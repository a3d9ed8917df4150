"""Enrichment adds labels and annotations from static maps, never overwriting what the source sent."""

from __future__ import annotations

from pathlib import Path

import yaml

from correlation.enrichment import Enricher
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
