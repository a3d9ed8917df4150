"""PagerDuty integration keys (ingest/integrations.py) and how an event sent with one is published and normalised."""

from __future__ import annotations

import orjson
import pytest

from ingest.integrations import Integration, parse_integrations
from ingest.normalise import normalise
from ingest.receivers import receive, routing_key_of, with_integration
from rules.fingerprint import fingerprint

KEY = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
NOW = 1_800_000_000.0
EVENT = {"routing_key": KEY, "event_action": "trigger",
         "payload": {"summary": "Disk full", "source": "db-7", "severity": "critical", "component": "mysql"}}


def test_both_spellings_and_lookup_by_key() -> None:
    text = parse_integrations(f"payments-app:payments:checkout:{KEY}, cron:::{OTHER}")
    assert len(text) == 2
    found = text.find(KEY)
    assert (found.source, found.team, found.service) == ("payments-app", "payments", "checkout")
    assert text.find(OTHER).as_dict() == {"source": "cron"}
    assert text.find("nope-0123456789abcdef") is None and text.find(None) is None and text.find("") is None
    as_json = parse_integrations(orjson.dumps([{"key": KEY, "source": "payments-app", "team": "payments"}]).decode())
    assert as_json.find(KEY).as_dict() == {"source": "payments-app", "team": "payments"}
    assert not parse_integrations("") and not parse_integrations("  ")
    assert KEY not in repr(found)  # only a digest is kept


@pytest.mark.parametrize(("text", "message"), [
    ("payments:payments:checkout", "entry 0: expected source:team:service:key"),
    (f":team::{KEY}", "entry 0: the source must be"),
    ("a:::short", "entry 0 (a): the routing key must be at least 16 characters"),
    (f"a:::{KEY},b:::{KEY}", "entry 1 (b): the routing key is listed twice"),
    ('[{"key": 5, "source": "a"}]', "entry 0: expected an object with string key and source"),
    ("[nope", "not a valid JSON list"),
])
def test_bad_entries_are_named_and_keys_never_echoed(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_integrations(text)
    assert message in str(info.value)
    assert KEY not in str(info.value) and "short" not in str(info.value)


def test_an_event_from_an_integration_is_published_without_its_key_and_mapped() -> None:
    integration = parse_integrations(f"payments-app:payments:checkout:{KEY}").find(routing_key_of(orjson.dumps(EVENT)))
    assert isinstance(integration, Integration)
    published = with_integration(orjson.dumps(EVENT), integration)
    assert KEY.encode() not in published
    receipt = receive("pagerduty", published, now=NOW, max_bytes=1 << 20)
    assert receipt.status == 202 and receipt.publish == published
    (alert,) = normalise(published, now=NOW).alerts
    labels = {"alertname": "Disk full", "service": "checkout", "instance": "db-7", "severity": "critical",
              "team": "payments"}
    assert dict(alert.labels) == labels and alert.source == "payments-app"
    assert receipt.dedup_key == alert.fingerprint == fingerprint(labels)


def test_an_event_with_a_string_that_is_not_utf8_stays_refused_after_mapping() -> None:
    body = orjson.dumps(EVENT).replace(b"Disk full", b"Disk \xff full")
    published = with_integration(body, parse_integrations(f"a:::{KEY}").find(KEY))
    receipt = receive("pagerduty", published, now=NOW, max_bytes=1 << 20)
    assert receipt.status == 400 and receipt.rejections[0].reason == "utf8"
    assert receipt.document["errors"] == ["payload.summary: not valid UTF-8"]


def test_a_bad_integration_field_is_refused_naming_it() -> None:
    body = orjson.dumps({**EVENT, "stormwatch_integration": "payments"})
    receipt = receive("pagerduty", body, now=NOW, max_bytes=1 << 20)
    assert receipt.status == 400 and receipt.document["errors"] == [
        "stormwatch_integration: expected an object, got string"]
