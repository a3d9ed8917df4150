"""The strict formats' fast path (``ingest.formats.generic.strict``) against the full builder: for any items, valid
or not, the alerts and the rejections (reason, field-path detail, item) are identical with and without it, whether
the memos it reads (seen label names, parsed times) are cold or warm."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ingest import formats
from ingest.formats import alertmanager, generic, grafana
from ingest.limits import LabelGuard, LabelLimits
from ingest.normalise import normalise
from rules.fingerprint import fingerprint

from .test_normalise_properties import NOW, SETTINGS, alert_lists, good_names, good_times, items, mostly, texts

STYLES = (alertmanager.V2, alertmanager.WEBHOOK, grafana.STYLE)
# Mostly well-formed strict items (every field present and usually valid), so that the fast path's own branches
# (times in either order, resolved without endsAt, dropped empty values) are exercised, not only its refusals.
strict_items = st.fixed_dictionaries({
    "labels": mostly(st.dictionaries(good_names, mostly(st.text(min_size=1, max_size=3), st.just("")),
                                     min_size=1, max_size=4)),
    "annotations": mostly(st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2) | st.none()),
    "status": mostly(st.sampled_from(["firing", "resolved", None])),
    "startsAt": mostly(good_times), "endsAt": mostly(good_times), "generatorURL": mostly(texts | st.none()),
})  # fmt: skip
TIGHT = LabelGuard(LabelLimits(label_value_max_bytes=6, labels_max_count=4, labels_max_bytes=40))


def _both(items: list, style: generic.Style, fingerprints) -> tuple:
    fast = generic.build_all(items, "alerts", NOW, fingerprints, style)
    slow = generic.build_all(items, "alerts", NOW, fingerprints, style, fast=False)
    return fast, slow


@SETTINGS
@given(alert_lists | st.lists(mostly(strict_items, items), max_size=6))
def test_the_fast_path_builds_and_refuses_exactly_as_the_builder(items):
    for fingerprints in (fingerprint, TIGHT.fingerprints):  # TIGHT: the label limits refuse some label sets
        for style in STYLES:
            formats._GOOD_NAMES.clear()
            formats._TIME_CACHE.clear()
            cold_fast, cold_slow = _both(items, style, fingerprints)  # cold: the fast path declines, build runs
            warm_fast, warm_slow = _both(items, style, fingerprints)  # warm: the fast path takes what it can
            assert cold_fast == cold_slow == warm_fast == warm_slow


def test_the_fast_path_takes_a_well_formed_item_once_its_names_and_times_were_seen():
    item = {"labels": {"alertname": "Up", "job": "node"}, "annotations": {"summary": "s"},
            "startsAt": "2024-05-01T12:00:00Z", "endsAt": "2024-05-01T12:30:00Z", "generatorURL": "http://p/g"}
    formats._GOOD_NAMES.clear()
    formats._TIME_CACHE.clear()
    assert generic.strict(item, NOW, fingerprint, alertmanager.V2) is None  # first seen: build checks and memoises
    built = generic.build(item, NOW, fingerprint, alertmanager.V2)
    fast = generic.strict(item, NOW, fingerprint, alertmanager.V2)
    assert fast == built and fast is not None and fast.status == "resolved" and fast.source == "prometheus"
    for odd in ({**item, "labels": {"alertname": "Up", "job": ""}},  # an empty value is dropped: build copies
                {**item, "annotations": {"summary": 1}}, {**item, "startsAt": "2024-05-01T13:00:00Z"},
                {**item, "generatorURL": 5}, {**item, "endsAt": "2024-05-01T11:00:00Z"}):
        assert generic.strict(odd, NOW, fingerprint, alertmanager.V2) is None


def test_field_path_errors_are_unchanged_through_normalise():
    good = {"labels": {"alertname": "Up"}, "startsAt": "2024-05-01T12:00:00Z"}
    body = orjson.dumps([good, {**good, "labels": {"alertname": 1}}, {**good, "startsAt": "yesterday"}, good])
    for _ in range(2):  # the second time the good items take the fast path
        out = normalise(body, now=NOW)
        assert out.format == "alertmanager_v2" and len(out.alerts) == 2
        assert [r.detail for r in out.rejections] == [
            "[1].labels.alertname: label value must be a string, got number",
            "[2].startsAt: 'yesterday' is not an RFC 3339 time",
        ]
