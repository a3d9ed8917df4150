"""Stormwatch's notions in Alertmanager's API v2 shapes (docs/alertmanager-api.md): alert status, times, silences,
matchers, and the strict reading of query parameters."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from correlation.core.model import AlertState
from correlation.core.muting import Silence
from rules.matchers import parse_matcher
from stormwatch.api.alertmanager.alerts import am_alert, am_status
from stormwatch.api.alertmanager.common import Query, am_time, parse_am_time
from stormwatch.api.alertmanager.silences import am_matcher, am_silence
from stormwatch.api.common import ApiError

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def _alert(muted: str = "", cause: str = "", ends_at: float | None = None, expires_at: float | None = None
           ) -> AlertState:
    return AlertState("abc", {"alertname": "A"}, {"summary": "s"}, "firing", T0, ends_at, T0, T0 + 60, 2, "",
                      "alertmanager_v2", "http://prom/graph", muted, cause, expires_at=expires_at)


@pytest.mark.parametrize("muted,cause,silenced,inhibited", [
    ("", "", [], []),
    ("threshold", "", [], []),  # held back by its rule's threshold: not suppressed (Alertmanager's group_wait)
    ("silence:1a2b", "", ["1a2b"], []),
    ("maintenance:patch-tuesday", "", ["maintenance:patch-tuesday"], []),
    ("change:cw-1a2b3c4d5e", "", ["change:cw-1a2b3c4d5e"], []),
    ("inhibited:node-down", "INC-0123456789ab-1", [], ["INC-0123456789ab-1"]),
    ("topology:web>db", "INC-0123456789ab-2", [], ["INC-0123456789ab-2"]),
    ("hold:30s", "", [], ["hold:30s"]),  # waiting for a cause
])
def test_alert_status_in_alertmanager_words(muted, cause, silenced, inhibited):
    status = am_status(_alert(muted, cause))
    assert status == {"state": "suppressed" if silenced or inhibited else "active", "silencedBy": silenced,
                      "inhibitedBy": inhibited, "mutedBy": []}


def test_alert_shape_and_ends_at():
    doc = am_alert(_alert(ends_at=T0 + 600), ["dba"])
    assert doc == {"labels": {"alertname": "A"}, "annotations": {"summary": "s"}, "receivers": [{"name": "dba"}],
                   "fingerprint": "abc", "startsAt": "2026-05-28T20:26:40.000Z",
                   "updatedAt": "2026-05-28T20:27:40.000Z", "endsAt": "2026-05-28T20:36:40.000Z",
                   "generatorURL": "http://prom/graph", "status": am_status(_alert())}
    assert am_alert(_alert(expires_at=T0 + 120), [])["endsAt"] == am_time(T0 + 120)  # its resolve_timeout
    assert am_alert(_alert(), [])["endsAt"] == am_time(T0 + 60 + 300)  # Alertmanager's default resolve_timeout


def test_times_round_trip():
    assert parse_am_time(am_time(T0 + 0.25), "t") == T0 + 0.25
    assert parse_am_time("2026-05-28T22:26:40.123456789+02:00", "t") == pytest.approx(T0 + 0.123456)
    for bad in ("tomorrow", "2026-05-28T20:26:40", "", 5):
        with pytest.raises(ApiError) as refused:
            parse_am_time(bad, "endsAt")
        assert refused.value.status == 400 and "endsAt" in refused.value.detail


def test_silence_shape_and_matchers():
    matchers = [parse_matcher(t) for t in ('a="1"', 'b!="2"', 'c=~"3|4"', 'd!~"5"', '"service.name"="x"')]
    silence = Silence.create(matchers, T0, T0 + 3600, "alice", "why", T0 - 10, silence_id="0123456789ab")
    assert [am_matcher(m) for m in matchers] == [
        {"name": "a", "value": "1", "isRegex": False, "isEqual": True},
        {"name": "b", "value": "2", "isRegex": False, "isEqual": False},
        {"name": "c", "value": "3|4", "isRegex": True, "isEqual": True},
        {"name": "d", "value": "5", "isRegex": True, "isEqual": False},
        {"name": "service.name", "value": "x", "isRegex": False, "isEqual": True}]
    doc = am_silence(Silence.from_json(silence.to_json()), T0 + 1)  # as stored: the UTF-8 name survives
    assert doc["matchers"][-1]["name"] == "service.name"
    assert (doc["status"], doc["createdBy"], doc["comment"], doc["annotations"]) == ({"state": "active"}, "alice",
                                                                                     "why", {})
    assert doc["updatedAt"] == am_time(T0 - 10) and doc["endsAt"] == am_time(T0 + 3600)
    assert am_silence(silence, T0 - 1)["status"] == {"state": "pending"}
    assert am_silence(silence, T0 + 3600)["status"] == {"state": "expired"}


def _query(raw: bytes) -> Query:
    return Query(Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": raw}))


def test_query_parameters_read_strictly():
    query = _query(b'filter=a%3D%22b%22&filter=c%3D~d.%2A&active=false&silenced=1')
    assert [str(m) for m in query.matchers()] == ['a="b"', 'c=~"d.*"']
    assert (query.flag("active"), query.flag("silenced"), query.flag("inhibited")) == (False, True, True)
    with pytest.raises(ApiError, match="boolean"):
        _query(b"active=maybe").flag("active")
    with pytest.raises(ApiError, match="not valid UTF-8"):
        _query(b"filter=%22%C3%28%22%3Dx")
    with pytest.raises(ApiError, match="bad matcher"):
        _query(b"filter=a%3D~%22%28%22").matchers()
