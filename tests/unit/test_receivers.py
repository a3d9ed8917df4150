"""HTTP receivers (ingest.receivers): answers and what gets published, without a server."""

from __future__ import annotations

import orjson

from ingest.normalise import normalise
from ingest.receivers import receive

NOW = 1_800_000_000.0


def v2(name: str, **labels: str) -> dict:
    return {"labels": {"alertname": name, **labels}, "startsAt": "2026-11-21T10:00:00Z"}


def test_all_valid_publishes_the_body_as_sent():
    body = orjson.dumps([v2("A"), v2("B")])
    r = receive("alertmanager_v2", body, now=NOW, max_bytes=1 << 20)
    assert (r.status, r.document, r.publish, r.format) == (200, {"status": "success", "accepted": 2}, body,
                                                           "alertmanager_v2")


def test_partly_valid_publishes_only_the_valid_items_with_the_same_fingerprints():
    items = [v2("A"), {"labels": {"": "x"}}, v2("C", job="x")]
    r = receive("alertmanager_v2", orjson.dumps(items), now=NOW, max_bytes=1 << 20)
    assert r.status == 400 and r.accepted == 2
    assert r.document["rejected"] == [{"index": 1, "field": "[1].labels", "reason": "label_name",
                                       "detail": r.rejections[0].detail}]
    published = normalise(r.publish, now=NOW, format=r.format)
    direct = normalise(orjson.dumps(items), now=NOW, format="alertmanager_v2")
    assert [a.fingerprint for a in published.alerts] == [a.fingerprint for a in direct.alerts]
    assert published.rejections == []


def test_webhook_keeps_its_envelope_when_filtered():
    body = {"version": "4", "receiver": "x", "alerts": [{"labels": {}}, {"labels": {"alertname": "A"}}]}
    r = receive("alertmanager_webhook", orjson.dumps(body), now=NOW, max_bytes=1 << 20)
    assert r.status == 400 and orjson.loads(r.publish) == {**body, "alerts": [{"labels": {"alertname": "A"}}]}


def test_nothing_valid_publishes_nothing_and_body_errors_name_body():
    assert receive("alertmanager_v2", b"[{}]", now=NOW, max_bytes=1 << 20).publish is None
    r = receive("generic", b"nope", now=NOW, max_bytes=1 << 20)
    assert (r.status, r.document["rejected"][0]["field"]) == (400, "body")
    assert receive("generic", b"[]", now=NOW, max_bytes=1 << 20).publish is None
    assert receive("generic", b"x" * 2000, now=NOW, max_bytes=1024).status == 413


def test_pagerduty_answers_like_pagerduty():
    event = {"routing_key": "rk-secret", "event_action": "trigger",
             "payload": {"summary": "Disk", "source": "db-1", "severity": "critical"}}
    r = receive("pagerduty", orjson.dumps(event), now=NOW, max_bytes=1 << 20)
    assert r.status == 202 and r.document["message"] == "Event processed" and len(r.dedup_key) == 16
    r = receive("pagerduty", orjson.dumps({**event, "event_action": "resolve"} | {"dedup_key": ""}), now=NOW,
                max_bytes=1 << 20)
    assert r.status == 400 and r.document["status"] == "invalid event" and r.document["errors"]
    assert b"rk-secret" not in orjson.dumps(r.document)


def test_an_item_with_a_name_that_is_not_utf8_is_refused_and_its_neighbours_published():
    body = b'[{"labels": {"alertname": "A"}}, {"labels": {"alertname": "B", "bad\xffname": "x"}}, ' \
           b'{"labels": {"alertname": "C", "service.name": "payments"}}]'
    r = receive("alertmanager_v2", body, now=NOW, max_bytes=1 << 20)
    assert r.status == 400 and r.accepted == 2
    assert r.document["rejected"] == [{"index": 1, "field": "[1].labels", "reason": "label_name",
                                       "detail": "[1].labels: label name 'bad\\udcffname' is not valid UTF-8"}]
    published = normalise(r.publish, now=NOW, format=r.format)
    assert [a.labels["alertname"] for a in published.alerts] == ["A", "C"] and published.rejections == []
