"""Grafana-managed alerting's webhook contact point, from its documented payload (Grafana's "Configure the webhook
notifier for Alerting" page, versions 9.3 to 11: the example JSON body, with ``values`` (9.1+) or ``valueString``
(older)): detected wherever it is posted, validated as Alertmanager's webhook, Grafana's own fields kept as
annotations."""

from __future__ import annotations

import copy

import orjson
import pytest

from ingest.normalise import normalise
from ingest.receivers import receive
from rules.fingerprint import fingerprint

NOW = 1_634_100_000.0  # 2021-10-13, after the example's startsAt

#: Grafana's documented example body
GRAFANA_BODY = {
    "receiver": "My Super Webhook",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
            "annotations": {"description": "The system has high memory usage",
                            "runbook_url": "https://myrunbook.com/runbook/1234",
                            "summary": "This alert was triggered for zone us-1"},
            "startsAt": "2021-10-12T09:51:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2"
                          "%2Cteam%3Dblue%2Czone%3Dus-1",
            "dashboardURL": "",
            "panelURL": "",
            "values": {"B": 44.23943737541908, "C": 1},
        },
        {
            "status": "firing",
            "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1"},
            "annotations": {"description": "The system has high CPU usage",
                            "runbook_url": "https://myrunbook.com/runbook/1234",
                            "summary": "This alert was triggered for zone eu-1"},
            "startsAt": "2021-10-12T09:56:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit",
            "fingerprint": "bc97ff14869b13e3",
            "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1"
                          "%2Cteam%3Dblue%2Czone%3Deu-1",
            "dashboardURL": "https://play.grafana.org/d/abc",
            "panelURL": "https://play.grafana.org/d/abc?viewPanel=2",
            "imageURL": "https://play.grafana.org/images/cpu.png",
            "valueString": "[ metric='' labels={} value=14151.331895396988 ]",
        },
    ],
    "groupLabels": {},
    "commonLabels": {"team": "blue"},
    "commonAnnotations": {},
    "externalURL": "https://play.grafana.org/",
    "version": "1",
    "groupKey": "{}:{}",
    "truncatedAlerts": 0,
    "title": "[FIRING:2]  (blue)",
    "state": "alerting",
    "message": "**Firing**\n\nLabels:\n - alertname = T2\n - team = blue\n - zone = us-1\n",
}


@pytest.mark.parametrize("fmt", [None, "alertmanager_webhook", "generic", "grafana"])
def test_the_documented_body_is_detected_and_its_fields_kept(fmt) -> None:
    result = normalise(orjson.dumps(GRAFANA_BODY), now=NOW, format=fmt)
    assert result.format == "grafana" and result.rejections == []
    memory, cpu = result.alerts
    assert memory.source == cpu.source == "grafana"
    assert dict(memory.labels) == {"alertname": "High memory usage", "team": "blue", "zone": "us-1"}
    assert memory.fingerprint == fingerprint(memory.labels)  # recomputed, Alertmanager's definition
    assert memory.status == "firing" and memory.ends_at is None
    assert memory.generator_url == "https://play.grafana.org/alerting/1afz29v7z/edit"
    assert dict(memory.annotations) == {
        "description": "The system has high memory usage", "runbook_url": "https://myrunbook.com/runbook/1234",
        "summary": "This alert was triggered for zone us-1",
        "silenceURL": GRAFANA_BODY["alerts"][0]["silenceURL"], "values": '{"B":44.23943737541908,"C":1}',
        "orgId": "1", "state": "alerting", "title": "[FIRING:2]  (blue)", "message": GRAFANA_BODY["message"],
    }  # empty dashboardURL and panelURL are not kept
    assert cpu.annotations["dashboardURL"] == "https://play.grafana.org/d/abc"
    assert cpu.annotations["panelURL"] == "https://play.grafana.org/d/abc?viewPanel=2"
    assert cpu.annotations["imageURL"] == "https://play.grafana.org/images/cpu.png"
    assert cpu.annotations["valueString"] == "[ metric='' labels={} value=14151.331895396988 ]"


def test_the_alerts_own_annotations_win_and_the_message_is_bounded() -> None:
    body = copy.deepcopy(GRAFANA_BODY)
    body["alerts"][0]["annotations"]["message"] = "the rule's own message"
    body["message"] = "m" * 10_000
    memory, cpu = normalise(orjson.dumps(body), now=NOW).alerts
    assert memory.annotations["message"] == "the rule's own message"
    assert len(cpu.annotations["message"]) == 4096 and cpu.annotations["message"].endswith("…")


def test_resolved_alerts_and_a_bad_one_beside_them() -> None:
    body = copy.deepcopy(GRAFANA_BODY)
    body["status"], body["state"] = "resolved", "ok"
    body["alerts"][0] |= {"status": "resolved", "endsAt": "2021-10-12T10:01:03Z"}
    body["alerts"][1]["startsAt"] = "yesterday"
    result = normalise(orjson.dumps(body), now=NOW)
    (memory,) = result.alerts
    assert memory.status == "resolved" and memory.annotations["state"] == "ok"
    assert [(r.index, r.reason, r.detail.split(":")[0]) for r in result.rejections] == [
        (1, "time", "alerts[1].startsAt")]


def test_an_alertmanager_webhook_stays_one() -> None:
    webhook = {"version": "4", "status": "firing", "receiver": "x", "groupKey": "{}:{}",
               "alerts": [{"status": "firing", "labels": {"alertname": "A"}}]}
    assert normalise(orjson.dumps(webhook), now=NOW).format == "alertmanager_webhook"


def test_the_webhook_endpoint_publishes_it_as_grafana() -> None:
    receipt = receive("alertmanager_webhook", orjson.dumps(GRAFANA_BODY), now=NOW, max_bytes=1 << 20)
    assert (receipt.status, receipt.format, receipt.accepted) == (200, "grafana", 2)
    again = normalise(receipt.publish, now=NOW, format=receipt.format)
    assert [a.annotations.get("title") for a in again.alerts] == ["[FIRING:2]  (blue)"] * 2
