"""rules.fingerprint against an independent implementation of the definition, and Prometheus' own values.

Definition (prometheus/common ``model.LabelsToSignature``): FNV-1a 64 (offset basis 14695981039346656037,
prime 1099511628211) over the label names in sorted order, each name and each value followed by the
separator byte 0xFF; Alertmanager prints it as ``%016x``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.fingerprint import FingerprintCache, fingerprint, labels_to_signature


def reference_signature(labels: dict[str, str]) -> int:
    h = 14695981039346656037
    data = bytearray()
    for name in sorted(labels, key=lambda n: n.encode("utf-8")):  # Go sorts by bytes
        data += name.encode("utf-8") + b"\xff" + labels[name].encode("utf-8") + b"\xff"
    for byte in data:
        h ^= byte
        h = (h * 1099511628211) % 2**64
    return h


def reference_fingerprint(labels: dict[str, str]) -> str:
    return f"{reference_signature(labels):016x}"


# Literal values from prometheus/common, model/signature_test.go (TestLabelsToSignature and the
# BenchmarkLabelToSignature* cases; commit 012cc753443295bd95c79aedd31eb7677b06a5b1).
PROMETHEUS_COMMON_CASES = [
    ({}, 14695981039346656037),
    ({"name": "garland, briggs", "fear": "love is not enough"}, 5799056148416392346),
    ({"first-label": "first-label-value"}, 5146282821936882169),
    ({"first-label": "first-label-value", "second-label": "second-label-value"}, 3195800080984914717),
    (
        {"first-label": "first-label-value", "second-label": "second-label-value", "third-label": "third-label-value"},
        13843036195897128121,
    ),
]


@pytest.mark.parametrize(("labels", "expected"), PROMETHEUS_COMMON_CASES)
def test_matches_prometheus_common_literals(labels, expected):
    assert reference_signature(labels) == expected  # the reference implementation is right...
    assert labels_to_signature(labels) == expected  # ...and so is the real one
    assert fingerprint(labels) == f"{expected:016x}"
    assert FingerprintCache()(labels) == f"{expected:016x}"


# UTF-8 label names (Alertmanager 0.27+ in its default UTF-8 mode, Prometheus 3): the fingerprint is the same function
# of the names' UTF-8 bytes, sorted bytewise as Go's sort.Strings sorts them (for valid UTF-8 that is code point order,
# Python's). Debian's Alertmanager 0.25 refuses these names ("invalid label set"), so these literals were produced by
# Go itself: a ten-line program printing model.LabelSet.Fingerprint().String() for each set, built against Debian's
# golang-github-prometheus-common-dev 0.39.0 (the code Alertmanager fingerprints with); Go is not a CI dependency, so
# the values are kept here. tests/integration/test_alertmanager_fingerprints.py checks classic names against the
# real Alertmanager binary.
UTF8_NAME_CASES = [
    ({"alertname": "HighLatency", "service.name": "payments"}, "eebc8b0e87014ad3"),
    ({"alertname": "PodCrash", "k8s.pod.name": "api-7d9f", "k8s.namespace.name": "prod"}, "d13ec1c2f436e140"),
    ({"温度": "高い", "alertname": "Heat"}, "194cefa789a524cc"),
    ({"http.status_code": "503", "alertname": "Errors", "service.name": "checkout", "deployment.environment": "prod"},
     "d17cd530ff80a0d4"),
    ({"🔥": "🚒"}, "a28d89d3fcf797a2"),
    ({"a b": "c", "a": "b"}, "936606ee225a278e"),  # "a" sorts before "a b": a prefix first, as bytes do
    ({"é": "1", "z": "2", "Z": "3", "𝔘": "4", "\uffff": "5"}, "7a0b2c9c55f0f8c6"),  # 1- to 4-byte names, byte order
    ({"alertname": "A", "a\x00b": "v"}, "5377762d43c737b2"),  # a NUL inside a name
]


@pytest.mark.parametrize(("labels", "expected"), UTF8_NAME_CASES)
def test_utf8_label_names(labels, expected):
    assert reference_fingerprint(labels) == expected
    assert fingerprint(labels) == expected
    assert FingerprintCache()(labels) == expected


def test_empty_label_set_is_the_offset_basis():
    assert fingerprint({}) == "cbf29ce484222325"
    assert FingerprintCache()({}) == "cbf29ce484222325"


@pytest.mark.parametrize(
    "labels",
    [
        {"alertname": "InstanceDown"},
        {"alertname": "InstanceDown", "instance": "10.0.0.1:9100", "job": "node", "severity": "critical"},
        {"alertname": "Ünïcödé", "summary": "温度が高すぎます", "emoji": "🔥🚒"},
        {"a": ""},
        {"zeta": "1", "Alpha": "2", "_x": "3", "alpha": "4"},  # upper case sorts before lower case
        {"k": "value with \x00 nul and \xff latin-1 char"},
    ],
)
def test_matches_reference(labels):
    expected = reference_fingerprint(labels)
    assert fingerprint(labels) == expected
    assert FingerprintCache()(labels) == expected
    assert len(expected) == 16 and expected == expected.lower()


def test_order_of_insertion_does_not_matter():
    a = {"alertname": "X", "job": "api", "instance": "i-1"}
    b = {"instance": "i-1", "alertname": "X", "job": "api"}
    assert fingerprint(a) == fingerprint(b)


def test_separator_keeps_name_value_boundaries():
    assert fingerprint({"a": "bc"}) != fingerprint({"ab": "c"})
    assert fingerprint({"a": "b", "c": "d"}) != fingerprint({"a": "b\xffc", "": "d"})


def test_short_values_are_zero_padded():
    # find a label set whose fingerprint has a leading zero nibble; the format must keep 16 digits
    for i in range(1000):
        labels = {"n": str(i)}
        if reference_signature(labels) < 1 << 60:
            assert fingerprint(labels) == reference_fingerprint(labels)
            assert fingerprint(labels).startswith("0")
            break
    else:  # pragma: no cover - 1/16 of values qualify
        pytest.fail("no small signature found")


def test_cache_returns_same_value_and_stays_bounded():
    cache = FingerprintCache(limit=3)
    sets = [{"alertname": f"A{i}"} for i in range(10)]
    for labels in sets + sets:
        assert cache(labels) == reference_fingerprint(labels)
    assert len(cache._cache) <= 3


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=24), max_size=8))
def test_property_matches_reference(labels):
    assert fingerprint(labels) == reference_fingerprint(labels)
    assert FingerprintCache()(labels) == reference_fingerprint(labels)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_the_c_hash_is_the_python_reference(data):
    from rules.fingerprint import fnv1a_64, fnv1a_64_python

    assert fnv1a_64(data) == fnv1a_64_python(data)


def test_the_c_hash_is_installed():
    """The dependency is what makes first-seen label sets cheap; the fallback exists, but CI runs the C one."""
    from rules.fingerprint import fnv1a_64, fnv1a_64_python

    assert fnv1a_64 is not fnv1a_64_python
