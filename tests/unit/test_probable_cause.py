"""Probable cause: which changes an incident watches, how they rank and the reason each carries (pure), and the
change formats' validation (ingest.formats.change)."""

from __future__ import annotations

import pytest

from correlation.core.catalog import Catalog
from correlation.core.probable_cause import probable_causes, watched_services
from ingest.changes import read_change
from ingest.formats import ItemError
from rules.schema import Topology

TOPOLOGY = Topology.model_validate({"services": {
    "payments-db": {}, "ledger-disk": {},
    "payments-api": {"depends_on": ["payments-db"]},
    "checkout": {"depends_on": ["payments-api"]},
}})
OPENED = 10_000.0


def change(cid: str, service: str, minutes_before: float, kind: str = "deploy") -> dict:
    return {"id": cid, "service": service, "summary": f"{kind} {cid}", "kind": kind, "at": OPENED - 60 * minutes_before,
            "environment": "prod", "source": "ci", "links": []}


def test_an_incident_watches_its_service_what_it_depends_on_and_its_symptoms_services():
    watched = watched_services(Catalog(TOPOLOGY), "checkout", ["ledger-disk", "checkout"])
    assert {n: (w.relation, w.distance) for n, w in watched.items()} == {
        "checkout": ("same_service", 0), "payments-api": ("dependency", 1), "payments-db": ("dependency", 2),
        "ledger-disk": ("symptom", 0)}
    assert watched["payments-db"].path == ("checkout", "payments-api", "payments-db")


def test_links_rank_same_service_then_distance_then_symptoms_then_recency_with_reasons():
    changes = [
        change("db-old", "payments-db", 50),
        change("api", "payments-api", 30, kind="config"),
        change("own-old", "checkout", 90),
        change("own-new", "checkout", 4),
        change("disk", "ledger-disk", 1, kind="infrastructure"),
        change("too-old", "checkout", 200),  # beyond the 2h look-back
        change("elsewhere", "search", 1),  # not watched
        change("db-new", "payments-db", 10),
    ]
    links = probable_causes(Catalog(TOPOLOGY), "checkout", ["ledger-disk"], OPENED, 7200.0, changes)
    assert [x["id"] for x in links] == ["own-new", "own-old", "api", "db-new", "db-old", "disk"]
    by_id = {x["id"]: x for x in links}
    assert by_id["own-new"]["reason"] == "deploy of checkout 4m before; the incident's own service"
    assert by_id["api"]["reason"] == "config of payments-api 30m before; checkout depends on payments-api"
    assert by_id["db-new"]["reason"] == ("deploy of payments-db 10m before; checkout depends on payments-db "
                                         "(via payments-api)")
    assert by_id["disk"]["reason"] == "infrastructure of ledger-disk 60s before; ledger-disk alerts are symptoms of " \
                                      "this incident"
    assert (by_id["db-new"]["relation"], by_id["db-new"]["distance"]) == ("dependency", 2)


def test_a_change_after_the_incident_opened_says_so():
    later = dict(change("fix", "checkout", 0), at=OPENED + 180)
    (linked,) = probable_causes(Catalog(TOPOLOGY), "checkout", (), OPENED, 7200.0, [later])
    assert linked["reason"] == "deploy of checkout 3m after the incident opened; the incident's own service"


def test_an_incident_without_a_service_watches_nothing():
    assert probable_causes(Catalog(TOPOLOGY), "", (), OPENED, 7200.0, [change("a", "checkout", 1)]) == []


@pytest.mark.parametrize(("body", "field", "reason"), [
    (b'{"service": "x"}', "summary", "schema"),
    (b'{"summary": "s"}', "service", "schema"),
    (b'{"summary": "s", "service": "no spaces"}', "service", "schema"),
    (b'{"summary": "s", "service": "x", "kind": "reboot"}', "kind", "schema"),
    (b'{"summary": "s", "service": "x", "colour": 1}', "colour", "schema"),
    (b'{"summary": "s", "service": "x", "at": "yesterday"}', "at", "time"),
    (b'{"summary": "s", "service": "x", "links": [{"href": "javascript:x"}]}', "links[0].href", "schema"),
    (b'{"summary": "' + b"x" * 1025 + b'", "service": "x"}', "summary", "too_long"),
    (b'{"summary": "s", "service": "x", "custom_details": {"blob": "' + b"x" * 20000 + b'"}}', "custom_details",
     "too_long"),
    (b"not json", "", "invalid_json"),
])
def test_a_bad_change_is_refused_naming_the_field(body, field, reason):
    with pytest.raises(ItemError) as refused:
        read_change(body, "change", 1.0, 1 << 20)
    assert (refused.value.path, refused.value.reason) == (field, reason)


def test_a_pagerduty_change_event_needs_its_service_in_custom_details():
    body = b'{"routing_key": "k", "payload": {"summary": "deploy", "timestamp": "2026-12-06T10:00:00Z"}}'
    with pytest.raises(ItemError) as refused:
        read_change(body, "pagerduty_change", 1.0, 1 << 20)
    assert refused.value.path == "payload.custom_details.service"
    good = read_change(b'{"routing_key": "k", "dedup_key": "d-1", "payload": {"summary": "deploy", "source": "ci", '
                       b'"timestamp": "2026-12-06T10:00:00Z", "custom_details": {"service": "api", "kind": "config"}},'
                       b' "links": [{"href": "https://ci.example.com/1", "text": "build"}]}', "pagerduty_change", 1.0,
                       1 << 20)
    assert (good.id, good.service, good.kind, good.source, good.at) == ("d-1", "api", "config", "ci", 1796551200.0)
    assert good.links == ({"href": "https://ci.example.com/1", "text": "build"},)


def test_an_oversize_body_is_refused_before_parsing():
    with pytest.raises(ItemError) as refused:
        read_change(b"{" + b" " * 2000 + b"}", "change", 1.0, 1000)
    assert refused.value.reason == "too_large"
