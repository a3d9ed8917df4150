"""PagerDuty's own Python clients, unchanged, sending to Stormwatch's ``/v2/enqueue`` over https: ``pdpyras``
(EventsAPISession) and the ``pagerduty`` package (EventsApiV2Client, which refuses any base URL but https://). Their
only credential is the routing key, one of STORMWATCH_PAGERDUTY_ROUTING_KEYS; the server's certificate is made by the
test (tests/integration/tls.py) and the clients trust its CA through their own settings (a requests session's
``verify``, the httpx client's ``verify`` context). The clients are synchronous: they run in a thread while the
worker serves on the test's event loop."""

from __future__ import annotations

import asyncio
import ssl
import warnings

import httpx
import pytest
import structlog

from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, start_api
from tests.integration.helpers import metric, stored_alerts
from tests.integration.tls import Certificates, make_certificates

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # pdpyras announces its deprecation in favour of `pagerduty`
    import pdpyras

import pagerduty

PAYMENTS_KEY = "R0UT1NG-payments-0123456789abcdef"
BATCH_KEY = "R0UT1NG-batch-jobs-0123456789abcd"
ROUTING_KEYS = f"payments-app:payments:checkout:{PAYMENTS_KEY},cron:::{BATCH_KEY}"


@pytest.fixture
def certificates(tmp_path) -> Certificates:
    return make_certificates(tmp_path)


@pytest.fixture
async def https_api(clean, certificates: Certificates):
    async for api in start_api(clean, http_tls_cert_file=str(certificates.cert_file),
                               http_tls_key_file=str(certificates.key_file), pagerduty_routing_keys=ROUTING_KEYS):
        api.url = f"https://127.0.0.1:{api.worker.ops.bound_port}"
        api.clients = []
        yield api
        # the clients leave before the server stops, as a sender's process would: an idle keep-alive TLS
        # connection left open holds the server's graceful shutdown for its whole 5 s
        for client in api.clients:
            client.close()


@pytest.fixture(autouse=True)
def _trust_the_test_ca(monkeypatch, certificates: Certificates) -> None:
    """requests takes REQUESTS_CA_BUNDLE over a session's own ``verify`` when the variable is set (as on many
    machines): point it at the test's CA, as an operator would for a private CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates.ca_file))


def _pdpyras(api, key: str, certificates: Certificates) -> pdpyras.EventsAPISession:
    session = pdpyras.EventsAPISession(key)
    session.url = api.url  # its base URL pointed at Stormwatch
    session.verify = str(certificates.ca_file)  # a requests session: trust the test's CA
    api.clients.append(session)
    return session


def _pagerduty(api, key: str, certificates: Certificates) -> pagerduty.EventsApiV2Client:
    client = pagerduty.EventsApiV2Client(key, base_url=api.url,
                                         verify=ssl.create_default_context(cafile=str(certificates.ca_file)))
    api.clients.append(client)
    return client


async def _incident(api, title: str):
    async def found():
        return [i for i in await api.worker.store.list_incidents() if i.title == title]

    (incident,) = await eventually(found, what=f"incident {title!r}")
    return incident


async def test_pdpyras_triggers_acknowledges_and_resolves_with_its_routing_key(https_api, certificates):
    api = https_api
    session = _pdpyras(api, PAYMENTS_KEY, certificates)
    dedup_key = await asyncio.to_thread(session.trigger, "Card payments failing", "pay-1.example.com",
                                        dedup_key="payments/cards", severity="critical",
                                        custom_details={"error_rate": "12%"})
    assert dedup_key == "payments/cards"
    incident = await _incident(api, "Card payments failing / checkout")
    assert incident.team == "payments"  # the integration's team
    (alert,) = await api.worker.store.incident_alerts(incident.id)
    assert alert.source == "payments-app"
    assert alert.labels["service"] == "checkout" and alert.labels["team"] == "payments"
    assert alert.annotations["error_rate"] == "12%"

    assert await asyncio.to_thread(session.acknowledge, dedup_key) == dedup_key
    assert await asyncio.to_thread(session.resolve, dedup_key) == dedup_key

    async def resolved():
        return (await api.worker.store.incident(incident.id)).status == "resolved"

    await eventually(resolved, what="the incident resolved by the resolve event")
    assert metric(api.worker, "stormwatch_ingest_alerts_total", {"format": "pagerduty", "outcome": "accepted"}) == 3


async def test_the_pagerduty_package_needs_https_and_sends_over_it(https_api, certificates):
    api = https_api
    with pytest.raises(pagerduty.UrlError):  # why Stormwatch has TLS: this client refuses anything else
        pagerduty.EventsApiV2Client(BATCH_KEY, base_url=api.url.replace("https://", "http://"))
    client = _pagerduty(api, BATCH_KEY, certificates)
    dedup_key = await asyncio.to_thread(client.trigger, "Nightly export failed", "batch-3", severity="error")
    assert len(dedup_key) == 16  # no dedup_key sent: the Alertmanager fingerprint of the mapped labels, as returned
    incident = await _incident(api, "Nightly export failed / batch-3")
    (alert,) = await api.worker.store.incident_alerts(incident.id)
    assert (alert.fingerprint, alert.source, alert.labels.get("team")) == (dedup_key, "cron", None)
    await asyncio.to_thread(client.resolve, dedup_key)

    async def resolved():
        return (await api.worker.store.incident(incident.id)).status == "resolved"

    await eventually(resolved, what="resolved by the pagerduty package")


async def test_a_wrong_routing_key_is_refused_in_pagerdutys_shape_and_its_neighbours_kept(https_api, certificates):
    api = https_api
    wrong = _pdpyras(api, "not-a-configured-key-0123456789", certificates)
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(pdpyras.PDHTTPError) as info:
            await asyncio.to_thread(wrong.trigger, "Should not land", "nowhere")
    answer = info.value.response
    assert answer.status_code == 400
    assert answer.json() == {"status": "invalid event", "message": "Event object is invalid",
                             "errors": ["routing_key: not a known integration key"]}
    assert [e["reason"] for e in logs if e["event"] == "auth_refused"] == ["unknown_routing_key"]
    assert "not-a-configured-key" not in str(logs)  # the presented key is never logged
    assert metric(api.worker, "stormwatch_auth_refused_total", {"reason": "unknown_routing_key"}) == 1

    # an event with a good key right after it is processed; the refused one was never published
    good = _pdpyras(api, PAYMENTS_KEY, certificates)
    await asyncio.to_thread(good.trigger, "Refunds slow", "pay-2", dedup_key="payments/refunds")
    await _incident(api, "Refunds slow / checkout")
    assert metric(api.worker, "stormwatch_ingest_alerts_total", {"format": "pagerduty", "outcome": "accepted"}) == 1


async def test_routing_keys_never_travel_and_bearer_senders_still_work(https_api, certificates):
    api = https_api
    verify = ssl.create_default_context(cafile=str(certificates.ca_file))
    event = {"routing_key": PAYMENTS_KEY, "event_action": "trigger",
             "payload": {"summary": "Queue backlog", "source": "mq-1", "severity": "warning"}}
    async with httpx.AsyncClient(base_url=api.url, verify=verify, timeout=15) as client:
        answer = await client.post("/v2/enqueue", json=event)
        assert answer.status_code == 202 and answer.json()["status"] == "success"
        # a bearer-token sender's event is not taken as coming from an integration, whatever its key
        answer = await client.post("/v2/enqueue", json={**event, "routing_key": "anything-at-all-here"},
                                   headers={"Authorization": f"Bearer {INGEST}"})
        assert answer.status_code == 202
        # plain http on the https port gets no answer but a closed connection; the server goes on
        with pytest.raises(httpx.HTTPError):
            await httpx.AsyncClient(timeout=5).post(api.url.replace("https://", "http://") + "/v2/enqueue",
                                                    json=event)
        assert (await client.get("/healthz")).status_code == 200
    await eventually(lambda: stored_alerts(api.worker) >= 1, what="the alert stored")


async def test_guessing_routing_keys_is_rate_limited_and_oversize_is_refused(clean, certificates):
    """Hostile senders on the routing-key path: wrong keys count as failed authentications (429 past the client's
    budget, in PagerDuty's shape, with Retry-After); a body over the limit is refused before any key is looked at."""
    async for api in start_api(clean, http_tls_cert_file=str(certificates.cert_file),
                               http_tls_key_file=str(certificates.key_file), pagerduty_routing_keys=ROUTING_KEYS,
                               auth_failures_burst=2, auth_failures_per_minute=1.0, max_body_bytes=4096):
        url = f"https://127.0.0.1:{api.worker.ops.bound_port}"
        verify = ssl.create_default_context(cafile=str(certificates.ca_file))
        event = {"event_action": "trigger", "payload": {"summary": "x", "source": "y", "severity": "info"}}
        async with httpx.AsyncClient(base_url=url, verify=verify, timeout=15) as client:
            big = {**event, "routing_key": PAYMENTS_KEY, "payload": {**event["payload"], "summary": "x" * 5000}}
            with structlog.testing.capture_logs() as logs:
                answer = await client.post("/v2/enqueue", json=big)
            assert answer.status_code == 413 and answer.json()["field"] == "body"
            assert any(e["event"] == "ingest_rejected" and e["reason"] == "too_large" for e in logs)
            assert metric(api.worker, "stormwatch_ingest_rejected_total", {"format": "pagerduty",
                                                                           "reason": "too_large"}) == 1
            statuses = []
            for n in range(3):
                answer = await client.post("/v2/enqueue", json={**event, "routing_key": f"guess-{n:02d}-0123456789ab"})
                statuses.append(answer.status_code)
            assert statuses == [400, 400, 429]
            assert answer.headers["retry-after"] and answer.json()["status"] == "throttled"
            assert metric(api.worker, "stormwatch_auth_rate_limited_total") == 1
        assert stored_alerts(api.worker) == 0
        assert metric(api.worker, "stormwatch_ingest_alerts_total", {"format": "pagerduty", "outcome": "accepted"}) == 0


async def test_an_integrations_source_has_its_own_metric_label(https_api, certificates):
    session = _pdpyras(https_api, PAYMENTS_KEY, certificates)
    await asyncio.to_thread(session.trigger, "Latency high", "pay-3", dedup_key="payments/latency")
    await eventually(lambda: metric(https_api.worker, "stormwatch_alerts_received_total",
                                    {"source": "payments-app", "format": "pagerduty"}) == 1,
                     what="counted under the integration's source")


async def test_with_auth_disabled_an_unknown_key_is_ingested_unmapped(clean, certificates):
    """STORMWATCH_AUTH_DISABLED (development) means anyone may ingest: an unknown routing key is not refused there, a
    known one is still mapped to its integration."""
    async for api in start_api(clean, auth_disabled=True, pagerduty_routing_keys=ROUTING_KEYS):
        event = {"event_action": "trigger", "payload": {"summary": "Dev alert", "source": "laptop", "severity": "info"}}
        answer = await api.post("/v2/enqueue", {**event, "routing_key": "some-other-key-0123456789"}, token=None)
        assert answer.status_code == 202
        answer = await api.post("/v2/enqueue", {**event, "routing_key": PAYMENTS_KEY, "dedup_key": "dev/mapped"},
                                token=None)
        assert answer.status_code == 202
        await eventually(lambda: stored_alerts(api.worker) >= 2, what="both stored")
        sources = sorted([a.source for i in await api.worker.store.list_incidents()
                          for a in await api.worker.store.incident_alerts(i.id)])
        assert sources == ["pagerduty", "payments-app"]
