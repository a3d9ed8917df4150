"""Ingest endpoints: validate with the normalisers, publish with a broker confirm, answer like the sender expects.

They never touch the correlation engine or Redis: an accepted alert is a message RabbitMQ confirmed on
``<ns>.alerts``, processed by the workers like any other. Auth: a bearer token whose role may ingest
(``ingest`` or ``admin``), or an HMAC signature of the body (``X-Stormwatch-Signature``). Everything the
headers decide (no credentials, a wrong token, a stale or malformed signature) is refused before the body is read;
only the signature's match needs the body, read within STORMWATCH_MAX_BODY_BYTES.

PagerDuty's own authentication (``/v2/enqueue`` only, when STORMWATCH_PAGERDUTY_ROUTING_KEYS is set): a request with
neither an Authorization nor a signature header is authenticated by the event's ``routing_key``, as PagerDuty does.
The body is read (within the limit) to find the key; an unknown key is a failed authentication (counted, logged
without the key, 429 past the client's budget) answered in PagerDuty's shape. A known key's event is published with
the key redacted and its integration's source, team and service (``ingest.integrations``).

Replays (docs/formats.md, "Signed requests and replays"): a signed request's message id is derived from its
signature alone; an ``Idempotency-Key`` header on a signed request is not covered by the signature, so it is
ignored (else a captured request replayed with a fresh key would be new work). A replay within the signature's
five-minute window is the same message: the workers' idempotency markers (``STORMWATCH_IDEMPOTENCY_TTL_SECONDS``,
longer than the window) make it change nothing, and it counts in ``stormwatch_replays_total``. After the window
the signature is refused as stale. Bearer-token requests keep honouring ``Idempotency-Key``.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events.names import http_alerts_route
from ingest.receivers import Receipt, invalid_routing_key, receive, routing_key_of, with_integration
from stormwatch.api.common import (ApiError, ApiServices, authorise, instrument, json_response, log, read_body, refusal,
                                   refuse)
from stormwatch.api.publishing import IngestUnavailable
from stormwatch.auth import SIGNATURE_HEADER, AuthError

#: path -> endpoint kind (ingest.receivers.FORMAT_OF)
INGEST_PATHS = {
    "/api/v2/alerts": "alertmanager_v2",
    "/api/v1/webhooks/alertmanager": "alertmanager_webhook",
    "/v2/enqueue": "pagerduty",
    "/api/v1/alerts": "generic",
}


def ingest_routes(services: ApiServices) -> list[Route]:
    return [Route(path, instrument(services, path, _handler(services, kind)), methods=["POST"])
            for path, kind in INGEST_PATHS.items()]


def _handler(services: ApiServices, kind: str):
    metrics = services.metrics
    accepted = metrics.ingest_alerts.labels(kind, "accepted")
    rejected = metrics.ingest_alerts.labels(kind, "rejected")
    unavailable = metrics.ingest_alerts.labels(kind, "unavailable")
    routing_key = http_alerts_route(kind)
    last_outage_log = [0.0]

    async def handle(request: Request) -> Response:
        signature = _authenticate(services, request, kind)  # from the headers alone: nothing is read before this
        body = await _body(services, request, kind)
        message_id = None
        if isinstance(signature, _ByRoutingKey):  # PagerDuty's authentication: the event's routing key
            integration = services.integrations.find(routing_key_of(body))  # type: ignore[union-attr]
            if integration is not None:
                body = with_integration(body, integration)
            elif services.auth is None or not services.auth.disabled:  # disabled (development): anyone may ingest
                return _unknown_routing_key(services, request)
        elif signature is not None:
            try:
                _, mac = services.auth.signature(signature, body)  # type: ignore[union-attr]
            except AuthError as exc:
                refuse(services, request, exc.reason)
                raise ApiError(401, "unauthorized", exc.message, reason=exc.reason) from None
            message_id = "sig:" + mac[:64]  # the signature covers the body and t, not Idempotency-Key: ignore it
        else:
            key = request.headers.get("idempotency-key")
            if key:
                message_id = "key:" + key[:200]

        receipt = receive(kind, body, now=services.clock(), max_bytes=services.max_body_bytes,
                          limits=services.label_guard)
        if receipt.rejections:
            rejected.inc(len(receipt.rejections))
            for r in receipt.rejections:
                metrics.ingest_rejected.labels(kind, r.reason).inc()
            first = receipt.rejections[0]
            log.info("ingest_rejected", route=request.url.path, reason=first.reason, detail=first.detail[:300],
                     rejected=len(receipt.rejections), accepted=receipt.accepted)
        if receipt.publish is not None:
            publisher = services.publisher
            assert publisher is not None
            try:
                if message_id is None and receipt.publish[:1] == b"[":  # lists posted together: one message
                    await publisher.publish_list(receipt.publish, receipt.format, routing_key=routing_key)
                else:
                    await publisher.publish(receipt.publish, receipt.format, routing_key=routing_key,
                                            message_id=message_id)
            except IngestUnavailable as exc:
                unavailable.inc(receipt.accepted)
                now = time.monotonic()
                if now - last_outage_log[0] > 10:
                    last_outage_log[0] = now
                    log.warning("ingest_unavailable", route=request.url.path, error=str(exc))
                raise ApiError(503, "unavailable", f"{exc}; nothing was accepted, retry later",
                               headers={"Retry-After": str(exc.retry_after)}) from None
            accepted.inc(receipt.accepted)
        return json_response(receipt.document, receipt.status)

    return handle


class _ByRoutingKey:
    """_authenticate's answer when the PagerDuty event's routing key, in the body, is the credential."""


ROUTING_KEY = _ByRoutingKey()


def _authenticate(services: ApiServices, request: Request, kind: str) -> str | _ByRoutingKey | None:
    """Refuse (401/403/429) what the headers alone condemn. Returns None for a bearer token allowed to ingest,
    ROUTING_KEY when a PagerDuty event's routing key is to authenticate it, or the signature header still to verify
    against the body (signing enabled, well formed, timestamp in window)."""
    if (kind == "pagerduty" and services.integrations and "authorization" not in request.headers
            and SIGNATURE_HEADER not in request.headers):
        return ROUTING_KEY
    auth = services.auth
    if auth is None or not auth.configured or auth.disabled or "authorization" in request.headers:
        authorise(services, request, "ingest")
        return None
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise refusal(services, request, 401, "missing_token",
                      "send Authorization: Bearer <token> or X-Stormwatch-Signature")
    try:
        auth.signature_header(signature)
    except AuthError as exc:
        refuse(services, request, exc.reason)
        raise ApiError(401, "unauthorized", exc.message, reason=exc.reason) from None
    return signature


def _unknown_routing_key(services: ApiServices, request: Request) -> Response:
    """A routing key no integration has: a failed authentication, answered as PagerDuty answers (400; 429 once the
    client has failed too often)."""
    try:
        refuse(services, request, "unknown_routing_key")
    except ApiError as exc:  # the client's budget of failures is spent
        return json_response({"status": "throttled", "message": exc.detail, "errors": [exc.detail]}, exc.status,
                             exc.headers)
    receipt: Receipt = invalid_routing_key()
    return json_response(receipt.document, receipt.status)


async def _body(services: ApiServices, request: Request, kind: str) -> bytes:
    try:
        return await read_body(request, services.max_body_bytes)
    except ApiError as exc:
        if exc.status == 413:
            services.metrics.ingest_rejected.labels(kind, "too_large").inc()
            log.info("ingest_rejected", route=request.url.path, reason="too_large", detail=exc.detail)
        raise
