"""Properties of ingest.normalise over arbitrary input: it only ever raises BodyRejected, and whatever it
returns is valid (labels, names, fingerprints) and every rejection explains itself."""

from __future__ import annotations

import json
import math

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import label_names as name_scheme
from ingest.normalise import FORMATS, BodyRejected, Normalised, normalise
from rules.fingerprint import fingerprint

NOW = 1714566900.0
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)

# Near-valid alerts, so that the valid paths are exercised too, not only the rejections: each field is
# usually valid and sometimes anything at all.
def mostly(good, bad=json_values):
    return st.integers(0, 7).flatmap(lambda n: bad if n == 0 else good)


good_names = st.sampled_from(["alertname", "job", "instance", "severity", "_x", "a1", "Team_2"])
label_names = st.sampled_from(["bad-name", "1x", "é", "", "a.b"]) | good_names
label_values = st.one_of(st.text(max_size=8), st.none(), st.integers(), st.booleans())
labels = mostly(
    st.dictionaries(good_names, mostly(st.text(min_size=1, max_size=8), st.just("")), min_size=1, max_size=6),
    st.dictionaries(label_names, label_values, max_size=5) | json_values,
)
good_times = st.one_of(
    st.none(),
    st.just(""),
    st.just("0001-01-01T00:00:00Z"),
    st.sampled_from(["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456789+02:00", "2024-05-01T13:00:00", "2024-05-01 11:00:00.5z"]),
)
times = mostly(good_times, st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(max_size=30) | json_values)
numeric_times = st.floats(min_value=1.7e9, max_value=1.72e9) | st.integers(min_value=1_700_000_000, max_value=1_720_000_000)
texts = st.text(max_size=10)
items = st.fixed_dictionaries(
    {"labels": labels},
    optional={
        "annotations": mostly(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)),
        "status": mostly(st.sampled_from(["firing", "resolved"]), st.sampled_from(["pending", None, 1, ""])),
        "startsAt": times,
        "endsAt": times,
        "starts_at": mostly(good_times | numeric_times),
        "ends_at": mostly(good_times | numeric_times),
        "generatorURL": mostly(texts),
        "generator_url": mostly(texts),
        "source": mostly(texts),
        "fingerprint": texts,
    },
)
alert_lists = st.lists(mostly(items), max_size=6)
severities = st.sampled_from(["critical", "error", "warning", "info"])
pd_payloads = st.fixed_dictionaries(
    {"summary": mostly(st.text(min_size=1, max_size=10)), "source": mostly(st.text(min_size=1, max_size=10)),
     "severity": mostly(severities, st.sampled_from(["bad", None, "CRITICAL"]))},
    optional={
        "timestamp": times,
        "component": mostly(texts),
        "group": mostly(texts),
        "class": mostly(texts),
        "custom_details": json_values,
    },
)  # fmt: skip
pd_events = st.fixed_dictionaries(
    {
        "event_action": mostly(st.sampled_from(["trigger", "resolve", "acknowledge"]), st.sampled_from(["other", None])),
        "routing_key": mostly(st.just("k" * 32)),
        "payload": mostly(pd_payloads),
    },
    optional={
        "dedup_key": mostly(texts),
        "client_url": mostly(texts),
        "links": mostly(st.lists(st.fixed_dictionaries({"href": texts}), max_size=2)),
    },
)
bodies = st.one_of(
    alert_lists,
    items,
    st.fixed_dictionaries({"alerts": alert_lists}, optional={"version": st.just("4"), "receiver": texts}),
    pd_events,
    json_values,
)
headers = st.one_of(st.none(), st.sampled_from(FORMATS), st.sampled_from(["prometheus", "events-v2", "nope", ""]))


def encode(value: object) -> bytes:
    # stdlib json: unlike orjson.dumps it takes integers beyond 64 bits (orjson.loads reads them as floats)
    return json.dumps(value, allow_nan=False).encode()  # Infinity and NaN are not JSON


def check(body: bytes, fmt=None) -> Normalised | None:
    try:
        result = normalise(body, now=NOW, format=fmt)
    except BodyRejected as exc:
        rej = exc.rejection
        assert rej.index is None
        assert rej.reason and rej.detail and str(exc) == rej.detail
        assert isinstance(rej.item, bytes)
        return None
    assert result.format in FORMATS
    for rej in result.rejections:
        assert rej.reason and rej.reason != "internal", rej
        assert rej.detail and ": " in rej.detail
        assert isinstance(rej.index, int) and rej.index >= 0
        assert isinstance(rej.item, bytes) and rej.item
    for alert in result.alerts:
        assert alert.labels, alert
        for name, value in alert.labels.items():
            assert name_scheme.valid(name), name  # the scheme in force (UTF-8 by default)
            assert name_scheme.is_utf8(name) and name_scheme.is_utf8(value)
            assert type(value) is str and value
        assert all(type(k) is str and type(v) is str for k, v in alert.annotations.items())
        assert alert.status in ("firing", "resolved")
        assert math.isfinite(alert.starts_at)
        assert alert.ends_at is None or alert.ends_at >= alert.starts_at
        assert alert.status == "firing" or alert.ends_at is not None
        assert alert.received_at == NOW
        assert type(alert.generator_url) is str and type(alert.source) is str and alert.source
        if alert.source == "pagerduty" and alert.fingerprint != fingerprint(alert.labels):
            pass  # a PagerDuty dedup_key is the fingerprint
        else:
            assert alert.fingerprint == fingerprint(alert.labels)
        orjson.dumps(alert.to_dict())
    return result


@SETTINGS
@given(json_values, headers)
def test_arbitrary_json_only_raises_body_rejected(value, fmt):
    check(encode(value), fmt)


@SETTINGS
@given(st.binary(max_size=200), headers)
def test_arbitrary_bytes_only_raise_body_rejected(data, fmt):
    check(data, fmt)


@SETTINGS
@given(bodies, headers)
def test_alert_shaped_bodies(body, fmt):
    result = check(encode(body), fmt)
    if result is not None and type(body) is list:
        assert len(result.alerts) + len(result.rejections) == len(body)


@SETTINGS
@given(st.lists(items, min_size=1, max_size=6))
def test_every_item_is_accounted_for_in_order(batch):
    result = check(encode(batch), "generic")
    assert result is not None
    indices = [r.index for r in result.rejections]
    assert indices == sorted(indices)
    assert len(result.alerts) + len(result.rejections) == len(batch)


@SETTINGS
@given(st.binary(min_size=1, max_size=64))
def test_size_limit_comes_before_parsing(data):
    try:
        normalise(data, now=NOW, max_bytes=len(data) - 1)
    except BodyRejected as exc:
        assert exc.rejection.reason == "too_large" and exc.rejection.item == data
    else:  # pragma: no cover
        raise AssertionError("not rejected")
