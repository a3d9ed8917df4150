"""ingest.limits: an alert whose labels pass a size limit is rejected naming the field; its neighbours go on."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, strategies as st

from ingest.limits import LabelGuard, LabelLimits, problem
from ingest.normalise import BodyRejected, normalise

NOW = 1_714_566_900.0
LIMITS = LabelLimits(label_value_max_bytes=100, labels_max_count=5, labels_max_bytes=300)
GUARD = LabelGuard(LIMITS)


def run(body: object, fmt: str | None = None):
    return normalise(orjson.dumps(body), now=NOW, format=fmt, limits=GUARD)


def test_a_long_value_is_rejected_naming_its_label_and_the_neighbour_is_kept() -> None:
    result = run({"alerts": [{"labels": {"alertname": "Big", "service": "x" * 101}},
                             {"labels": {"alertname": "Fine", "service": "api"}}]})
    assert [a.labels["alertname"] for a in result.alerts] == ["Fine"]
    (r,) = result.rejections
    assert (r.index, r.reason) == (0, "label_value_too_long")
    assert r.detail.startswith("alerts[0].labels.service: value is 101 bytes, more than the limit of 100")
    assert "STORMWATCH_LABEL_VALUE_MAX_BYTES" in r.detail
    assert orjson.loads(r.item)["labels"]["alertname"] == "Big"  # the dead letter carries the item


def test_sizes_are_utf8_bytes() -> None:
    fits, over = "é" * 50, "é" * 51  # 100 and 102 bytes
    result = run([{"labels": {"alertname": "A", "v": fits}}, {"labels": {"alertname": "B", "v": over}}])
    assert [a.labels["alertname"] for a in result.alerts] == ["A"]
    assert result.rejections[0].detail.startswith("[1].labels.v: value is 102 bytes")


def test_too_many_labels_and_too_many_bytes() -> None:
    many = {f"l{n}": "v" for n in range(6)}
    heavy = {f"l{n}": "v" * 90 for n in range(4)}  # 4 x 92 = 368 bytes
    result = run({"alerts": [{"labels": many}, {"labels": heavy}, {"labels": {"alertname": "ok"}}]})
    assert [(r.index, r.reason) for r in result.rejections] == [(0, "too_many_labels"), (1, "labels_too_large")]
    assert result.rejections[0].detail.startswith("alerts[0].labels: 6 labels, more than the limit of 5")
    assert result.rejections[1].detail.startswith("alerts[1].labels: names and values are 368 bytes")
    assert len(result.alerts) == 1


def test_indices_skip_items_rejected_for_other_reasons() -> None:
    result = run([{"labels": {}}, {"labels": {"alertname": "ok"}}, {"labels": {"a": "z" * 200}}])
    assert [(r.index, r.reason) for r in result.rejections] == [(0, "no_labels"), (2, "label_value_too_long")]
    assert result.rejections[1].detail.startswith("[2].labels.a:")


def test_a_single_item_and_pagerduty() -> None:
    single = run({"labels": {"alertname": "x" * 200}})
    assert single.alerts == [] and single.rejections[0].detail.startswith("labels.alertname:")
    event = {"routing_key": "r", "event_action": "trigger",
             "payload": {"summary": "s" * 200, "source": "host", "severity": "error"}}
    pd = run(event, "pagerduty")
    assert pd.alerts == [] and pd.rejections[0].reason == "label_value_too_long"


def test_the_defaults_apply_when_no_limits_are_given() -> None:
    body = orjson.dumps({"labels": {"alertname": "x" * 16_385}})
    assert normalise(body, now=NOW).rejections[0].reason == "label_value_too_long"
    assert normalise(orjson.dumps({"labels": {"alertname": "x" * 16_384}}), now=NOW).alerts


@given(st.dictionaries(st.from_regex("[a-z]{1,8}", fullmatch=True), st.text(min_size=1, max_size=60), max_size=8))
def test_problem_agrees_with_a_plain_count(labels: dict[str, str]) -> None:
    found = problem(labels, LIMITS)
    sizes = {k: len(v.encode("utf-8", "surrogatepass")) for k, v in labels.items()}
    total = sum(sizes.values()) + sum(len(k) for k in labels)
    expected_ok = len(labels) <= 5 and max(sizes.values(), default=0) <= 100 and total <= 300
    assert (found is None) == expected_ok


def test_a_body_level_problem_is_still_a_body_rejection() -> None:
    with pytest.raises(BodyRejected):
        normalise(b"[1", now=NOW, limits=GUARD)


def test_a_pagerduty_event_with_its_own_dedup_key_is_checked_too() -> None:
    event = {"routing_key": "r", "event_action": "trigger", "dedup_key": "k1",
             "payload": {"summary": "s" * 200, "source": "host", "severity": "error"}}
    result = run(event, "pagerduty")
    assert result.alerts == [] and result.rejections[0].reason == "label_value_too_long"
    long_key = run({**event, "dedup_key": "k" * 256, "payload": {**event["payload"], "summary": "s"}}, "pagerduty")
    assert long_key.alerts == [] and long_key.rejections[0].detail.startswith("dedup_key: at most 255 characters")


def test_an_oversized_label_set_never_reaches_the_fingerprint_memo() -> None:
    seen: list[dict] = []

    def fingerprints(labels):
        seen.append(dict(labels))
        return "f"

    body = orjson.dumps([{"labels": {"alertname": "x" * 200}}, {"labels": {"alertname": "ok"}}])
    result = normalise(body, now=NOW, limits=GUARD, fingerprints=fingerprints)
    assert seen == [{"alertname": "ok"}] and len(result.alerts) == 1


def test_a_label_set_seen_before_is_not_checked_again_and_a_refused_one_is_not_kept() -> None:
    guard = LabelGuard(LIMITS)
    checks: list[int] = []
    real = guard.fingerprints._admit  # type: ignore[attr-defined]
    guard.fingerprints._admit = lambda labels: (checks.append(1), real(labels))  # type: ignore[attr-defined]
    body = orjson.dumps([{"labels": {"alertname": "ok"}}, {"labels": {"alertname": "x" * 200}}])
    for _ in range(3):
        result = normalise(body, now=NOW, limits=guard)
        assert len(result.alerts) == 1 and result.rejections[0].reason == "label_value_too_long"
    assert len(checks) == 4  # "ok" once (then a memo hit), the oversized one every time (never memoised)
