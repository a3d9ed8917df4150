"""ingest.normalise: formats, detection, validation and rejections (see docs/formats.md)."""

from __future__ import annotations

import pickle
from datetime import datetime

import orjson
import pytest

from ingest.formats import LABEL_NAME_RE  # the classic rule
from ingest.normalise import FORMATS, BodyRejected, Normalised, Rejection, canonical_format, normalise
from rules.fingerprint import fingerprint


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


NOW = ts("2024-05-01T12:35:00Z")


def run(body, **kwargs) -> Normalised:
    if not isinstance(body, (bytes, bytearray, memoryview)):
        body = orjson.dumps(body)
    kwargs.setdefault("now", NOW)
    return normalise(body, **kwargs)


def rejected(body, **kwargs) -> Rejection:
    with pytest.raises(BodyRejected) as info:
        run(body, **kwargs)
    rej = info.value.rejection
    assert rej.index is None
    assert str(info.value) == rej.detail
    return rej


def only_rejection(body, **kwargs) -> Rejection:
    result = run(body, **kwargs)
    assert result.alerts == []
    assert len(result.rejections) == 1, result.rejections
    return result.rejections[0]


# --------------------------------------------------------------------------------------------- payloads

CRASHLOOP_LABELS = {
    "alertname": "KubePodCrashLooping",
    "container": "api",
    "endpoint": "http",
    "job": "kube-state-metrics",
    "namespace": "checkout",
    "pod": "checkout-api-7d9f6c5b8-x2x7q",
    "service": "kube-state-metrics",
    "severity": "warning",
}

WEBHOOK_BODY = {
    "receiver": "stormwatch",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": CRASHLOOP_LABELS,
            "annotations": {
                "description": "Pod checkout/checkout-api-7d9f6c5b8-x2x7q (api) is in waiting state (reason: CrashLoopBackOff).",
                "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping",
                "summary": "Pod is crash looping.",
            },
            "startsAt": "2024-05-01T12:20:05.123Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%5B5m%5D%29+%3E%3D+1&g0.tab=1",
            "fingerprint": "deadbeefdeadbeef",  # forged: must be ignored
        },
        {
            "status": "resolved",
            "labels": {**CRASHLOOP_LABELS, "pod": "checkout-api-7d9f6c5b8-abcde"},
            "annotations": {"summary": "Pod is crash looping."},
            "startsAt": "2024-05-01T11:50:05.123Z",
            "endsAt": "2024-05-01T12:30:05.123Z",
            "generatorURL": "http://prometheus-k8s-0:9090/graph?g0.expr=up",
            "fingerprint": "4a2c7b7e0f3c1e9d",
        },
    ],
    "groupLabels": {"alertname": "KubePodCrashLooping", "namespace": "checkout"},
    "commonLabels": {"alertname": "KubePodCrashLooping", "namespace": "checkout", "severity": "warning"},
    "commonAnnotations": {"summary": "Pod is crash looping."},
    "externalURL": "http://alertmanager-main-0:9093",
    "version": "4",
    "groupKey": '{}/{severity=~"warning|critical"}:{alertname="KubePodCrashLooping", namespace="checkout"}',
    "truncatedAlerts": 0,
}

PROMETHEUS_BODY = [
    {
        "labels": {
            "alertname": "HighRequestLatency",
            "instance": "10.2.3.4:8080",
            "job": "checkout-api",
            "severity": "page",
            "team": "payments",
            "env": "prod",
        },
        "annotations": {"summary": "p99 latency above 500ms", "dashboard": "https://grafana/d/abc"},
        "startsAt": "2024-05-01T12:30:00.123456789Z",
        "endsAt": "2024-05-01T12:39:00.123456789Z",  # Prometheus' resend deadline: in the future, still firing
        "generatorURL": "http://prometheus-0:9090/graph?g0.expr=histogram_quantile%280.99%2C+rate%28x%5B5m%5D%29%29+%3E+0.5",
    },
    {
        "labels": {"alertname": "InstanceDown", "instance": "10.2.3.5:9100", "job": "node", "severity": "critical"},
        "annotations": {"summary": "instance down"},
        "startsAt": "2024-05-01T11:00:00+02:00",
        "endsAt": "2024-05-01T12:34:00Z",  # in the past: resolved
        "generatorURL": "http://prometheus-0:9090/graph?g0.expr=up+%3D%3D+0",
    },
]

PD_TRIGGER = {
    "routing_key": "R0UT1NGKEYSECRETR0UT1NGKEYSECRET",
    "event_action": "trigger",
    "dedup_key": "srv01/HTTP",
    "payload": {
        "summary": "DISK at 99% on machine prod-datapipe03.example.com",
        "timestamp": "2024-05-01T12:34:56.000+00:00",
        "source": "prod-datapipe03.example.com",
        "severity": "critical",
        "component": "mysql",
        "group": "prod-datapipe",
        "class": "disk",
        "custom_details": {
            "free space": "1%",
            "ping time": 1500,
            "load avg": 0.75,
            "up": False,
            "volumes": {"root": "/dev/sda1", "data": ["/dev/sdb1"]},
            "ignored": None,
        },
    },
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.example.com",
    "links": [{"href": "http://acme.pagerduty.com/example", "text": "Link text"}],
    "images": [{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png"}],
}


# ---------------------------------------------------------------------------------------------- formats


def test_alertmanager_webhook_body():
    result = run(WEBHOOK_BODY)
    assert result.format == "alertmanager_webhook"
    assert result.rejections == []
    firing, resolved = result.alerts

    assert dict(firing.labels) == CRASHLOOP_LABELS
    assert firing.status == "firing"
    assert firing.starts_at == pytest.approx(ts("2024-05-01T12:20:05.123Z"))
    assert firing.ends_at is None  # Go's zero time means "not set"
    assert firing.received_at == NOW
    assert firing.source == "alertmanager"
    assert firing.fingerprint == fingerprint(CRASHLOOP_LABELS) != "deadbeefdeadbeef"
    assert firing.annotations["summary"] == "Pod is crash looping."
    assert firing.generator_url.startswith("http://prometheus-k8s-0:9090/graph?")

    assert resolved.status == "resolved"
    assert resolved.ends_at == pytest.approx(ts("2024-05-01T12:30:05.123Z"))
    assert resolved.fingerprint == fingerprint(resolved.labels)


def test_prometheus_v2_list():
    result = run(PROMETHEUS_BODY)
    assert result.format == "alertmanager_v2"
    assert result.rejections == []
    latency, down = result.alerts
    assert latency.status == "firing"  # endsAt in the future
    assert latency.source == "prometheus"
    assert latency.starts_at == pytest.approx(ts("2024-05-01T12:30:00.123456Z"), abs=1e-6)  # ns truncated
    assert latency.ends_at == pytest.approx(ts("2024-05-01T12:39:00.123456Z"), abs=1e-6)
    assert latency.fingerprint == fingerprint(PROMETHEUS_BODY[0]["labels"])
    assert latency.severity == "critical"  # "page" is an alias
    assert down.status == "resolved"  # endsAt <= now
    assert down.starts_at == ts("2024-05-01T09:00:00Z")


def test_v2_endsat_equal_to_now_is_resolved_and_missing_endsat_is_firing():
    body = [
        {"labels": {"a": "1"}, "startsAt": "2024-05-01T12:00:00Z", "endsAt": "2024-05-01T12:35:00Z"},
        {"labels": {"a": "2"}, "startsAt": "2024-05-01T12:00:00Z"},
    ]
    result = run(body)
    assert result.format == "alertmanager_v2"
    assert [a.status for a in result.alerts] == ["resolved", "firing"]
    assert result.alerts[1].ends_at is None


def test_v2_ignores_status_key_when_format_is_explicit():
    body = [{"labels": {"a": "1"}, "status": "resolved", "startsAt": "2024-05-01T12:00:00Z"}]
    assert run(body, format="alertmanager_v2").alerts[0].status == "firing"
    assert run(body).format == "generic"  # a status key makes an auto-detected list generic
    assert run(body).alerts[0].status == "resolved"


def test_pagerduty_trigger():
    result = run(PD_TRIGGER)
    assert result.format == "pagerduty"
    assert result.rejections == []
    (alert,) = result.alerts
    assert dict(alert.labels) == {
        "alertname": "disk",
        "service": "mysql",
        "instance": "prod-datapipe03.example.com",
        "severity": "critical",
        "group": "prod-datapipe",
    }
    assert alert.status == "firing"
    assert alert.fingerprint == "srv01/HTTP"
    assert alert.source == "pagerduty"
    assert alert.starts_at == ts("2024-05-01T12:34:56Z")
    assert alert.ends_at is None
    assert alert.generator_url == "https://monitoring.example.com"
    assert dict(alert.annotations) == {
        "summary": "DISK at 99% on machine prod-datapipe03.example.com",
        "free space": "1%",
        "ping time": "1500",
        "load avg": "0.75",
        "up": "false",
        "volumes": '{"root":"/dev/sda1","data":["/dev/sdb1"]}',
    }
    # the routing key is a secret: it must not travel with the alert
    assert b"R0UT1NGKEY" not in orjson.dumps(alert.to_dict())


def test_pagerduty_trigger_minimal_without_dedup_key():
    event = {
        "routing_key": "k" * 32,
        "event_action": "trigger",
        "payload": {"summary": "Disk full", "source": "db-1", "severity": "warning"},
        "links": [{"href": "https://runbook/disk"}],
    }
    (alert,) = run(event).alerts
    assert dict(alert.labels) == {"alertname": "Disk full", "service": "db-1", "instance": "db-1", "severity": "warning"}
    assert alert.fingerprint == fingerprint(alert.labels)
    assert alert.starts_at == NOW
    assert alert.generator_url == "https://runbook/disk"
    assert dict(alert.annotations) == {"summary": "Disk full"}


def test_pagerduty_resolve_without_payload():
    event = {"routing_key": "k" * 32, "event_action": "resolve", "dedup_key": "srv01/HTTP"}
    result = run(event)
    (alert,) = result.alerts
    assert alert.status == "resolved"
    assert alert.fingerprint == "srv01/HTTP"
    assert dict(alert.labels) == {"alertname": "pagerduty", "dedup_key": "srv01/HTTP"}
    assert alert.ends_at == NOW


def test_pagerduty_resolve_with_payload_keeps_trigger_labels():
    event = {**PD_TRIGGER, "event_action": "resolve"}
    (alert,) = run(event).alerts
    (trigger,) = run(PD_TRIGGER).alerts
    assert alert.labels == trigger.labels
    assert alert.fingerprint == trigger.fingerprint
    assert alert.status == "resolved" and alert.ends_at == NOW


def test_pagerduty_resolve_ignores_an_invalid_payload():
    event = {"routing_key": "k", "event_action": "resolve", "dedup_key": "x", "payload": {"severity": "bogus"}}
    (alert,) = run(event).alerts
    assert dict(alert.labels) == {"alertname": "pagerduty", "dedup_key": "x"}


def test_pagerduty_acknowledge():
    event = {"routing_key": "k" * 32, "event_action": "acknowledge", "dedup_key": "srv01/HTTP"}
    (alert,) = run(event).alerts
    assert alert.status == "firing"
    assert alert.annotations["event_action"] == "acknowledge"
    assert alert.fingerprint == "srv01/HTTP"


@pytest.mark.parametrize("action", ["resolve", "acknowledge"])
def test_pagerduty_resolve_and_ack_need_a_dedup_key(action):
    rej = only_rejection({"routing_key": "k", "event_action": action, "payload": PD_TRIGGER["payload"]})
    assert rej.reason == "dedup_key"
    assert rej.index == 0
    assert rej.detail.startswith("dedup_key: ")


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"payload": {**PD_TRIGGER["payload"], "severity": "high"}}, "payload.severity"),
        ({"payload": {**PD_TRIGGER["payload"], "severity": None}}, "payload.severity"),
        ({"payload": {**PD_TRIGGER["payload"], "summary": ""}}, "payload.summary"),
        ({"payload": {**PD_TRIGGER["payload"], "source": 7}}, "payload.source"),
        ({"payload": {**PD_TRIGGER["payload"], "component": ["x"]}}, "payload.component"),
        ({"payload": "oops"}, "payload"),
        ({"payload": None}, "payload"),
        ({"routing_key": None}, "routing_key"),
        ({"routing_key": ""}, "routing_key"),
        ({"event_action": "explode"}, "event_action"),
        ({"event_action": ["trigger"]}, "event_action"),
        ({"dedup_key": 12}, "dedup_key"),
        ({"client_url": 12}, "client_url"),
    ],
)
def test_pagerduty_schema_rejections(change, path):
    rej = only_rejection({**PD_TRIGGER, **change})
    assert rej.reason == "schema"
    assert rej.detail.startswith(path + ": ")
    assert rej.index == 0
    assert orjson.loads(rej.item)["event_action"] == change.get("event_action", "trigger")


def test_pagerduty_rejection_redacts_the_routing_key():
    rej = only_rejection({**PD_TRIGGER, "payload": {**PD_TRIGGER["payload"], "severity": "high"}})
    assert b"R0UT1NGKEY" not in rej.item
    assert orjson.loads(rej.item)["routing_key"] == "<redacted>"
    assert orjson.loads(rej.item)["dedup_key"] == "srv01/HTTP"


def test_pagerduty_bad_timestamp():
    rej = only_rejection({**PD_TRIGGER, "payload": {**PD_TRIGGER["payload"], "timestamp": "yesterday"}})
    assert (rej.reason, rej.detail.split(":")[0]) == ("time", "payload.timestamp")


def test_generic_single_object_snake_case_and_epoch_seconds():
    body = {
        "labels": {"alertname": "BackupFailed", "host": "db-2"},
        "annotations": {"summary": "nightly backup failed"},
        "starts_at": NOW - 60,
        "ends_at": NOW - 30,
        "generator_url": "https://cron/backup",
        "source": "cron",
    }
    result = run(body)
    assert result.format == "generic"
    (alert,) = result.alerts
    assert alert.status == "resolved"  # derived: ends_at <= now
    assert (alert.starts_at, alert.ends_at) == (NOW - 60, NOW - 30)
    assert alert.source == "cron"
    assert alert.generator_url == "https://cron/backup"


def test_generic_list_camel_case_with_status():
    body = [
        {"labels": {"alertname": "A"}, "status": "resolved", "startsAt": "2024-05-01T12:00:00Z"},
        {"labels": {"alertname": "B"}, "status": "firing", "startsAt": 1714564800},
    ]
    result = run(body)
    assert result.format == "generic"
    a, b = result.alerts
    assert a.status == "resolved" and a.ends_at == NOW  # resolved without an end: received time
    assert a.source == "generic"
    assert b.starts_at == 1714564800.0


def test_generic_numeric_zero_is_missing_and_explicit_generic_alerts_wrapper():
    body = {"alerts": [{"labels": {"a": "1"}, "starts_at": 0, "ends_at": 0}]}
    result = run(body, format="generic")
    assert result.format == "generic"
    assert result.alerts[0].starts_at == NOW and result.alerts[0].ends_at is None


def test_webhook_without_markers_and_empty_lists():
    assert run({"alerts": [{"labels": {"a": "b"}, "status": "firing"}]}).format == "alertmanager_webhook"
    assert run({**WEBHOOK_BODY, "alerts": []}) == Normalised("alertmanager_webhook", [], [])
    assert run([]) == Normalised("generic", [], [])


# ------------------------------------------------------------------------------- detection and headers


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (WEBHOOK_BODY, "alertmanager_webhook"),
        ({"version": "4", "alerts": []}, "alertmanager_webhook"),
        ({"receiver": "x", "groupKey": "{}", "alerts": [{"labels": {"a": "b"}}]}, "alertmanager_webhook"),
        (PROMETHEUS_BODY, "alertmanager_v2"),
        ([{"labels": {"a": "b"}, "generatorURL": "x"}], "alertmanager_v2"),
        ([{"labels": {"a": "b"}}], "generic"),
        ([{"labels": {"a": "b"}, "starts_at": "2024-05-01T12:00:00Z"}], "generic"),
        ([{"labels": {"a": "b"}, "startsAt": "2024-05-01T12:00:00Z"}, {"labels": {"a": "c"}, "source": "x"}], "generic"),
        ({"labels": {"a": "b"}}, "generic"),
        (PD_TRIGGER, "pagerduty"),
        ({"event_action": "resolve", "routing_key": "k", "dedup_key": "d"}, "pagerduty"),
    ],
)
def test_detection(body, expected):
    assert run(body).format == expected


@pytest.mark.parametrize("body", [{}, {"foo": 1}, 42, "text", None, True])
def test_undetectable_bodies(body):
    assert rejected(body).reason == "unknown_format"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("generic", "generic"),
        ("alertmanager_webhook", "alertmanager_webhook"),
        ("alertmanager-webhook", "alertmanager_webhook"),
        ("alertmanager", "alertmanager_webhook"),
        ("Alertmanager", "alertmanager_webhook"),
        ("alertmanager_v2", "alertmanager_v2"),
        ("alertmanager-v2", "alertmanager_v2"),
        ("prometheus", "alertmanager_v2"),
        ("pagerduty", "pagerduty"),
        ("pagerduty_v2", "pagerduty"),
        ("pagerduty-v2", "pagerduty"),
        ("events_v2", "pagerduty"),
        ("events-v2", "pagerduty"),
        (b"prometheus", "alertmanager_v2"),
    ],
)
def test_format_header_aliases(header, expected):
    assert canonical_format(header) == expected
    body = {"generic": {"labels": {"a": "b"}}, "alertmanager_webhook": WEBHOOK_BODY,
            "alertmanager_v2": PROMETHEUS_BODY, "pagerduty": PD_TRIGGER}[expected]  # fmt: skip
    assert run(body, format=header).format == expected


def test_explicit_format_overrides_detection():
    # a generic-looking list read as Prometheus: status ignored, source "prometheus"
    result = run([{"labels": {"a": "b"}, "status": "resolved"}], format="prometheus")
    assert result.format == "alertmanager_v2"
    assert result.alerts[0].source == "prometheus" and result.alerts[0].status == "firing"


def test_empty_header_means_detect():
    assert run(PD_TRIGGER, format="").format == "pagerduty"


@pytest.mark.parametrize("header", ["nagios", "alertmanager_v3", "generic_v2", b"\xff\xfe", 12])
def test_unknown_format_header(header):
    rej = rejected(PD_TRIGGER, format=header)
    assert rej.reason == "unknown_format"
    assert rej.detail.startswith("format: ")
    assert rej.item == orjson.dumps(PD_TRIGGER)


@pytest.mark.parametrize(
    ("header", "body", "path"),
    [
        ("alertmanager_webhook", PROMETHEUS_BODY, "body"),
        ("alertmanager_webhook", {"alerts": {"labels": {}}}, "alerts"),
        ("alertmanager_webhook", {"receiver": "x"}, "alerts"),
        ("alertmanager_v2", WEBHOOK_BODY, "body"),
        ("pagerduty", [PD_TRIGGER], "body"),
        ("generic", 42, "body"),
        ("generic", {"alerts": 42}, "alerts"),
    ],
)
def test_wrong_top_level_shape_for_explicit_format(header, body, path):
    rej = rejected(body, format=header)
    assert rej.reason == "schema"
    assert rej.detail.startswith(path + ": ")


def test_detected_webhook_with_non_list_alerts_is_rejected():
    assert rejected({"version": "4", "alerts": None}).reason == "schema"


# ----------------------------------------------------------------------------------- body-level errors


def test_oversize_body_is_rejected_before_parsing():
    body = b"{" * 2000  # not even JSON: the size check comes first
    rej = rejected(body, max_bytes=1000)
    assert rej.reason == "too_large"
    assert rej.item == body
    assert "2000" in rej.detail and "1000" in rej.detail


def test_body_at_the_limit_is_accepted():
    body = orjson.dumps(PROMETHEUS_BODY)
    assert len(run(body, max_bytes=len(body)).alerts) == 2
    assert rejected(body, max_bytes=len(body) - 1).reason == "too_large"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b"NaN", b"[1e400]", b"[NaN]", b'[{"a": Infinity, "b": "\\ud800"}]',
     b'{"labels": {"a": "\xff"}', b"[" * 2000 + b"]" * 2000],
)
def test_invalid_json(body):
    rej = rejected(body)
    assert rej.reason == "invalid_json"
    assert rej.detail.startswith("body: not valid JSON")
    assert rej.item == body


@pytest.mark.parametrize(("body", "index", "reason", "detail"), [
    (b'[{"labels": {"alertname": "A", "a\xffb": "v"}}, {"labels": {"alertname": "B"}}]', 0, "label_name",
     "[0].labels: label name 'a\\udcffb' is not valid UTF-8"),
    (b'[{"labels": {"alertname": "B"}}, {"labels": {"alertname": "A", "\\ud800": "v"}}]', 1, "label_name",
     "[1].labels: label name '\\ud800' is not valid UTF-8"),
    (b'[{"labels": {"alertname": "B"}}, {"labels": {"alertname": "A\xff"}}]', 1, "utf8",
     "[1].labels.alertname: not valid UTF-8"),
    (b'[{"labels": {"alertname": "B"}}, {"labels": {"alertname": "A"}, "annotations": {"s": "\\udc00"}}]', 1,
     "utf8", "[1].annotations.s: not valid UTF-8"),
])
def test_strings_that_are_not_utf8_cost_only_their_item(body, index, reason, detail):
    """orjson refuses such a body whole; it is read once more leniently and only the item holding the string goes."""
    result = run(body, format="alertmanager_v2")
    assert [a.labels["alertname"] for a in result.alerts] == ["B"]
    (rej,) = result.rejections
    assert (rej.index, rej.reason, rej.detail) == (index, reason, detail)
    orjson.loads(rej.item.decode("utf-8", "replace"))  # the rejected item is still shown, as valid JSON


def test_strings_that_are_not_utf8_in_webhook_and_pagerduty_bodies():
    webhook = orjson.dumps({**WEBHOOK_BODY, "alerts": [{"labels": {"alertname": "A"}}, {"labels": {"ok": "x"}}]})
    webhook = webhook.replace(b'"ok"', b'"o\xffk"')
    result = run(webhook)
    assert result.format == "alertmanager_webhook" and len(result.alerts) == 1
    assert [(r.index, r.reason, r.detail) for r in result.rejections] == [
        (1, "label_name", "alerts[1].labels: label name 'o\\udcffk' is not valid UTF-8")]
    event = orjson.dumps(PD_TRIGGER).replace(b'"summary":"', b'"summary":"\\ud83d')
    result = run(event)
    assert result.alerts == [] and [(r.reason, r.detail) for r in result.rejections] == [
        ("utf8", "payload.summary: not valid UTF-8")]
    assert b"<redacted>" in result.rejections[0].item and PD_TRIGGER["routing_key"].encode() not in \
        result.rejections[0].item


def test_non_bytes_bodies_never_raise_anything_else():
    with pytest.raises(BodyRejected) as info:
        normalise(None, now=NOW)  # type: ignore[arg-type]
    assert info.value.rejection.reason == "invalid_json"
    assert run(bytearray(orjson.dumps(PD_TRIGGER))).format == "pagerduty"
    assert run(memoryview(orjson.dumps(PD_TRIGGER))).format == "pagerduty"
    assert normalise(orjson.dumps(PD_TRIGGER).decode(), now=NOW).format == "pagerduty"  # type: ignore[arg-type]


def test_body_rejected_pickles():
    with pytest.raises(BodyRejected) as info:
        run(b"{", now=NOW)
    again = pickle.loads(pickle.dumps(info.value))  # noqa: S301 - our own bytes
    assert again.rejection == info.value.rejection and str(again) == str(info.value)


# ------------------------------------------------------------------------------------ item validation


def v2(**fields) -> list:
    item = {"labels": {"alertname": "A", "job": "j"}, "startsAt": "2024-05-01T12:00:00Z", **fields}
    return [item]


@pytest.mark.parametrize(
    ("item", "reason", "detail_start"),
    [
        ({"labels": {"alertname": "A", "job": 5}}, "schema", "[0].labels.job: "),
        ({"labels": {"alertname": "A", "job": None}}, "schema", "[0].labels.job: "),
        ({"labels": {"alertname": "A", "job": True}}, "schema", "[0].labels.job: "),
        ({"labels": {"alertname": "A", "odd name": 5}}, "schema", "[0].labels['odd name']: "),
        ({"labels": ["alertname", "A"]}, "schema", "[0].labels: "),
        ({"labels": {"": "x"}}, "label_name", "[0].labels: label name '' must not be empty"),
        ({"labels": {}}, "no_labels", "[0].labels: "),
        ({"labels": {"alertname": ""}}, "no_labels", "[0].labels: "),
        ({"annotations": {}}, "no_labels", "[0].labels: "),
        ({"labels": {"a": "b"}, "annotations": {"summary": 1}}, "schema", "[0].annotations.summary: "),
        ({"labels": {"a": "b"}, "annotations": "text"}, "schema", "[0].annotations: "),
        ({"labels": {"a": "b"}, "generatorURL": 5}, "schema", "[0].generatorURL: "),
        ({"labels": {"a": "b"}, "startsAt": "yesterday"}, "time", "[0].startsAt: "),
        ({"labels": {"a": "b"}, "startsAt": 1714564800}, "time", "[0].startsAt: "),  # numbers only in generic
        ({"labels": {"a": "b"}, "endsAt": "2024-02-30T00:00:00Z"}, "time", "[0].endsAt: "),
        (
            {"labels": {"a": "b"}, "startsAt": "2024-05-01T12:00:00Z", "endsAt": "2024-05-01T11:00:00Z"},
            "ends_before_start",
            "[0].endsAt: ",
        ),
    ],
)
def test_v2_item_rejections(item, reason, detail_start):
    rej = only_rejection([item], format="alertmanager_v2")
    assert rej.reason == reason
    assert rej.detail.startswith(detail_start), rej.detail
    assert rej.index == 0
    assert rej.item == orjson.dumps(item)


@pytest.mark.parametrize(
    ("item", "reason", "detail_start"),
    [
        (42, "schema", "alerts[0]: expected an object, got number"),
        ("alert", "schema", "alerts[0]: expected an object, got string"),
        ({"status": "pending", "labels": {"a": "b"}}, "schema", "alerts[0].status: "),
        ({"status": None, "labels": {"a": "b"}, "endsAt": 5}, "time", "alerts[0].endsAt: "),
        ({"status": "firing", "labels": {"": "c"}}, "label_name", "alerts[0].labels: "),
    ],
)
def test_webhook_item_rejections(item, reason, detail_start):
    rej = only_rejection({**WEBHOOK_BODY, "alerts": [item]})
    assert (rej.reason, rej.index) == (reason, 0)
    assert rej.detail.startswith(detail_start), rej.detail


@pytest.mark.parametrize(("name", "detail"), [
    ("foo-bar", "[0].labels: label name 'foo-bar' does not match [a-zA-Z_][a-zA-Z0-9_]* (STORMWATCH_LABEL_NAMES=classic)"),
    ("1abc", "[0].labels: label name '1abc' does not match"),
    ("naïve", "[0].labels: label name 'naïve' does not match"),  # isidentifier() would accept it
    ("service.name", "[0].labels: label name 'service.name' does not match"),
])
def test_classic_label_names_refuse_the_rest(classic_label_names, name, detail):
    rej = only_rejection([{"labels": {"alertname": "A", name: "x"}}], format="alertmanager_v2")
    assert rej.reason == "label_name" and rej.detail.startswith(detail), rej.detail


@pytest.mark.parametrize("name", ["service.name", "k8s.pod.name", "foo-bar", "1abc", "naïve", "温度", "🔥", "a b",
                                  "a\u0000b", "x" * 300])
def test_utf8_label_names_are_accepted_and_fingerprinted_as_alertmanager_does(name):
    (alert,) = run([{"labels": {"alertname": "A", name: "v"}}]).alerts
    assert alert.labels[name] == "v"
    assert alert.fingerprint == fingerprint({"alertname": "A", name: "v"})


def test_generic_single_item_rejection_paths():
    rej = only_rejection({"labels": {"a": "b"}, "source": 3})
    assert (rej.index, rej.reason, rej.detail.split(":")[0]) == (0, "schema", "source")
    rej = only_rejection({"labels": {"a": "b"}, "starts_at": "soon"})
    assert (rej.reason, rej.detail.split(":")[0]) == ("time", "starts_at")
    rej = only_rejection({"labels": {"a": "b"}, "ends_at": float(10**15)})
    assert rej.reason == "time"
    rej = only_rejection({"labels": {"a": "b"}, "status": "ok"})
    assert (rej.reason, rej.detail.split(":")[0]) == ("schema", "status")


def test_mixed_batch_keeps_the_good_alerts():
    items = [
        PROMETHEUS_BODY[0],
        {"labels": {"": "x"}, "startsAt": "2024-05-01T12:00:00Z"},
        PROMETHEUS_BODY[1],
        "garbage",
        {"labels": {"alertname": "C"}, "startsAt": "2024-05-01T12:00:00Z", "endsAt": "2024-05-01T11:00:00Z"},
        {"labels": {"alertname": "D"}, "generatorURL": "x"},
    ]
    result = run(items)
    assert result.format == "alertmanager_v2"
    assert [a.labels["alertname"] for a in result.alerts] == ["HighRequestLatency", "InstanceDown", "D"]
    assert [(r.index, r.reason) for r in result.rejections] == [
        (1, "label_name"),
        (3, "schema"),
        (4, "ends_before_start"),
    ]
    for rej in result.rejections:
        assert rej.detail.startswith(f"[{rej.index}]")
        assert orjson.loads(rej.item) == items[rej.index]


def test_empty_labels_are_dropped_before_validation():
    item = {"labels": {"alertname": "A", "empty": "", "bad-name": "", "job": "j"}}
    (alert,) = run([item]).alerts
    assert dict(alert.labels) == {"alertname": "A", "job": "j"}
    assert alert.fingerprint == fingerprint({"alertname": "A", "job": "j"})


def test_classic_label_names_match_the_regex_exactly(classic_label_names):
    names = ["_", "_a1", "A_b_C", "a" * 300, "ab\u0130", "a b", "a.b", "a:b", "é", "٣", "a\u0663", "Ⅻ", "𝔘"]
    for name in names:
        result = run([{"labels": {"x": "1", name: "v"}}])
        assert bool(result.alerts) == bool(LABEL_NAME_RE.fullmatch(name)), name


# ------------------------------------------------------------------------------------------------ times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00+00:00"),
        ("2024-05-01T12:00:00z", "2024-05-01T12:00:00+00:00"),
        ("2024-05-01t12:00:00Z", "2024-05-01T12:00:00+00:00"),
        ("2024-05-01 12:00:00Z", "2024-05-01T12:00:00+00:00"),
        ("2024-05-01T12:00:00", "2024-05-01T12:00:00+00:00"),  # naive: UTC
        ("2024-05-01T14:30:00+02:30", "2024-05-01T12:00:00+00:00"),
        ("2024-05-01T07:00:00-05:00", "2024-05-01T12:00:00+00:00"),
        ("2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00.500000+00:00"),
        ("2024-05-01T12:00:00.123456789Z", "2024-05-01T12:00:00.123456+00:00"),
        ("2024-05-01T12:00:00.999999999+00:00", "2024-05-01T12:00:00.999999+00:00"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00+00:00"),
        ("0001-01-01T00:00:01Z", "0001-01-01T00:00:01+00:00"),
        ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59+00:00"),
    ],
)
def test_rfc3339_times(text, expected):
    (alert,) = run([{"labels": {"a": "b"}, "startsAt": text}], now=ts("9999-12-31T23:59:59Z")).alerts
    assert alert.starts_at == pytest.approx(datetime.fromisoformat(expected).timestamp(), abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01",
        "2024-05-01T12:00Z",
        "20240501T120000Z",
        "2024-05-01T12:00:00.Z",
        "2024-05-01T12:00:00.1234567890Z",  # more than 9 fractional digits
        "2024-05-01T12:00:00,5Z",
        "2024-05-01T12:00:00+0200",
        "2024-05-01T12:00:00+24:00",
        "2024-05-01T12:00:00+02:60",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:00:60Z",
        "2023-02-29T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "２０２４-05-01T12:00:00Z",  # full-width digits
        " 2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00Z" + " " * 40,
    ],
)
def test_bad_times(text):
    rej = only_rejection([{"labels": {"a": "b"}, "startsAt": text}], format="alertmanager_v2")
    assert rej.reason == "time"
    assert rej.detail.startswith("[0].startsAt: ")


@pytest.mark.parametrize("zero", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000000Z", "0001-01-01T00:00:00+00:00", "", None])
def test_zero_time_counts_as_missing(zero):
    (alert,) = run({**WEBHOOK_BODY, "alerts": [{"status": "firing", "labels": {"a": "b"}, "startsAt": zero, "endsAt": zero}]}).alerts
    assert alert.starts_at == NOW
    assert alert.ends_at is None


def test_missing_starts_at_takes_an_earlier_ends_at():
    (alert,) = run([{"labels": {"a": "b"}, "endsAt": "2024-05-01T12:00:00Z"}]).alerts
    assert alert.starts_at == alert.ends_at == ts("2024-05-01T12:00:00Z")
    assert alert.status == "resolved"
    (alert,) = run([{"labels": {"a": "b"}, "endsAt": "2024-05-01T13:00:00Z"}]).alerts
    assert alert.starts_at == NOW and alert.status == "firing"


def test_resolved_without_ends_at_never_ends_before_it_starts():
    body = {"alerts": [{"status": "resolved", "labels": {"a": "b"}, "startsAt": "2024-05-01T13:00:00Z"}]}
    (alert,) = run(body).alerts
    assert alert.ends_at == alert.starts_at == ts("2024-05-01T13:00:00Z")


# --------------------------------------------------------------------------------------- fingerprints


def test_custom_fingerprints_callable_is_used():
    seen = []

    def fps(labels):
        seen.append(dict(labels))
        return "f" * 16

    result = run(PROMETHEUS_BODY, fingerprints=fps)
    assert [a.fingerprint for a in result.alerts] == ["f" * 16] * 2
    assert len(seen) == 2


def test_failing_fingerprints_callable_rejects_items_instead_of_raising():
    def fps(labels):
        raise RuntimeError("boom")

    result = run(PROMETHEUS_BODY, fingerprints=fps)
    assert result.alerts == []
    assert [(r.index, r.reason) for r in result.rejections] == [(0, "internal"), (1, "internal")]
    assert "RuntimeError: boom" in result.rejections[0].detail


def test_deeply_nested_rejected_item_still_serialises():
    deep = 900
    body = b'[{"labels": {"a": "b"}, "annotations": {"x": ' + b"[" * deep + b"]" * deep + b"}}]"
    rej = only_rejection(body)
    assert rej.reason == "schema"
    assert rej.item  # json fallback or placeholder, never an exception


def test_formats_constant():
    assert FORMATS == ("generic", "alertmanager_webhook", "alertmanager_v2", "pagerduty", "grafana")


def test_infinity_and_nan_are_not_json():
    # stdlib json writes them, but they are not JSON: the body is dead-lettered, never half-read
    for raw in (b'[{"labels": {"a": "b"}, "startsAt": Infinity}]', b'[{"labels": {"a": "b"}, "startsAt": NaN}]'):
        with pytest.raises(BodyRejected) as err:
            normalise(raw, now=1_700_000_000.0)
        assert err.value.rejection.reason == "invalid_json"


@pytest.mark.parametrize("depth", [50, 900])
def test_a_deeply_nested_item_with_a_string_that_is_not_utf8_is_refused_never_raised(depth):
    deep = b"[" * depth + b"]" * depth
    body = (b'[{"labels": {"alertname": "A"}, "extra": ' + deep + b', "annotations": {"s": "\\udc00"}}, '
            b'{"labels": {"alertname": "B"}, "extra": ' + deep + b'}]')
    result = run(body, format="alertmanager_v2")
    assert [a.labels["alertname"] for a in result.alerts] == ["B"]
    assert [(r.index, r.reason) for r in result.rejections] == [(0, "utf8")]
