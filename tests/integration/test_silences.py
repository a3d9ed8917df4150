"""Silences through the CLI and the real worker: muted alerts are recorded and counted, never an incident."""

from __future__ import annotations

import orjson

from tests.conftest import eventually
from tests.integration.helpers import body, metric, publish, stored_alerts, v2_alert
from tests.integration.helpers import run_cli as _cli


async def test_silence_mutes_then_expires(worker):
    settings = worker.settings
    code, out, err = await _cli(settings, "silences", "add", 'service="orders-db"', "--duration", "1h",
                                "--author", "ana", "--comment", "failover drill", "--json")
    assert code == 0, err
    silence = orjson.loads(out)
    assert silence["state"] == "active" and silence["matchers"] == ['service="orders-db"']

    await publish(settings, [body([v2_alert("PostgresDown", "orders-db", "db-1"),
                                   v2_alert("HighErrorRate", "checkout", "pod-1")])])
    await eventually(lambda: stored_alerts(worker) >= 2, what="both alerts stored")
    assert [i.title for i in await worker.store.list_incidents()] == ["HighErrorRate / checkout"]
    assert metric(worker, "stormwatch_alerts_muted_total") == 1

    code, out, err = await _cli(settings, "silences", "expire", silence["id"])
    assert code == 0, err
    code, out, err = await _cli(settings, "silences", "list", "--json")
    assert orjson.loads(out) == []
    code, out, err = await _cli(settings, "silences", "list", "--all", "--json")
    assert [s["state"] for s in orjson.loads(out)] == ["expired"]

    # Prometheus re-sends the firing alert: with the silence over it opens its incident
    await publish(settings, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
    await eventually(lambda: stored_alerts(worker) >= 3, what="re-sent alert stored")
    titles = sorted(i.title for i in await worker.store.list_incidents())
    assert titles == ["HighErrorRate / checkout", "PostgresDown / orders-db"]
    (db,) = [i for i in await worker.store.list_incidents() if i.title.startswith("PostgresDown")]
    (alert,) = await worker.store.incident_alerts(db.id)
    assert alert.count == 2 and alert.muted == ""

    code, out, err = await _cli(settings, "silences", "expire", "nope")
    assert code == 1 and "no silence" in err


async def test_a_silence_on_a_utf8_label_name_through_the_cli(worker):
    """`stormwatch silences add` with Alertmanager's quoted and unquoted UTF-8 names; the silence mutes the alert that
    carries the OpenTelemetry-style label and nothing else; the name round-trips through the store."""
    settings = worker.settings
    code, out, err = await _cli(settings, "silences", "add", '"service.name"="payments"', "k8s.pod.name=~api-.*",
                                "--duration", "1h", "--author", "ana", "--comment", "otel", "--json")
    assert code == 0, err
    assert orjson.loads(out)["matchers"] == ['"service.name"="payments"', '"k8s.pod.name"=~"api-.*"']
    muted, kept = v2_alert("HighLatency", "checkout", "pod-1"), v2_alert("HighLatency", "refunds", "pod-2")
    muted["labels"] |= {"service.name": "payments", "k8s.pod.name": "api-7d9f"}
    kept["labels"] |= {"service.name": "refunds", "k8s.pod.name": "api-1"}
    await publish(settings, [body([muted, kept])])
    await eventually(lambda: stored_alerts(worker) >= 2, what="both alerts stored")
    assert [i.title for i in await worker.store.list_incidents()] == ["HighLatency / refunds"]
    assert metric(worker, "stormwatch_alerts_muted_total") == 1
    code, out, err = await _cli(settings, "silences", "list", "--json")
    assert [s["matchers"] for s in orjson.loads(out)] == [['"service.name"="payments"', '"k8s.pod.name"=~"api-.*"']]
