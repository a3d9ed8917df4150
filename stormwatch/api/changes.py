"""Change event routes (``docs/changes.md``): ``POST /api/v1/changes`` (Stormwatch's JSON), ``POST
/v2/change/enqueue`` (PagerDuty's Change Events API, answered as PagerDuty answers) and ``GET /api/v1/changes``.

Ingest is authenticated like the alert ingest endpoints (a bearer token whose role may ingest, or an HMAC signature
of the body); ``/v2/change/enqueue`` does not check ``routing_key`` against anything (it is required, and kept out
of storage). A change is validated here (400 naming the field), then published to ``<ns>.changes`` and answered
once RabbitMQ confirmed it (202); the workers store and link it. ``Idempotency-Key`` (or the body's ``id`` /
``dedup_key``) makes a retry the same change."""

from __future__ import annotations


import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingest.changes import read_change
from ingest.formats import ItemError
from stormwatch.api.common import (
    ApiError, ApiServices, authorise, instrument, json_response, log, query_limit, refuse,
)
from stormwatch.api.ingest import _authenticate, _body
from stormwatch.auth import AuthError
from stormwatch.changes_service import ChangesUnavailable


def change_routes(services: ApiServices) -> list[Route]:
    return [
        Route("/api/v1/changes", instrument(services, "/api/v1/changes", _post(services, "change")), methods=["POST"]),
        Route("/api/v1/changes", instrument(services, "/api/v1/changes", _list(services)), methods=["GET"]),
        Route("/v2/change/enqueue", instrument(services, "/v2/change/enqueue", _post(services, "pagerduty_change")),
              methods=["POST"]),
    ]


def _post(services: ApiServices, fmt: str):
    pagerduty = fmt == "pagerduty_change"

    async def handle(request: Request) -> Response:
        # as the alert ingest routes (the routing key is a credential for PagerDuty's alert events only)
        signature = _authenticate(services, request, fmt)
        body = await _body(services, request, fmt)
        if isinstance(signature, str):
            try:
                services.auth.signature(signature, body)  # type: ignore[union-attr]
            except AuthError as exc:
                refuse(services, request, exc.reason)
                raise ApiError(401, "unauthorized", exc.message, reason=exc.reason) from None
        try:
            change = read_change(body, fmt, services.clock(), services.max_body_bytes)
        except ItemError as exc:
            services.metrics.ingest_rejected.labels(fmt, exc.reason).inc()
            log.info("change_rejected", route=request.url.path, reason=exc.reason, field=exc.path)
            detail = f"{exc.path}: {exc.message}" if exc.path else exc.message
            if pagerduty:
                return json_response({"status": "invalid event", "message": "Event object is invalid",
                                      "errors": [detail]}, 400)
            raise ApiError(400, "invalid_change", detail, field=exc.path or None) from None
        # the same change again (a retry) has the same message id: the store keeps it once per service
        key = request.headers.get("idempotency-key")
        message_id = f"chg:{change.service}|{change.id}" if not key else "key:" + key[:200]
        stored = orjson.dumps(change.body())  # as our own JSON, with the id and time it was given (or made up)
        try:
            await services.changes.publish(stored, "change", message_id)  # type: ignore[union-attr]
        except ChangesUnavailable as exc:
            raise ApiError(503, "unavailable", f"{exc}; nothing was accepted, retry later",
                           headers={"Retry-After": "5"}) from None
        services.metrics.ingest_alerts.labels(fmt, "accepted").inc()
        if pagerduty:
            return json_response({"status": "success", "message": "Change event processed", "id": change.id}, 202)
        return json_response({"status": "accepted", "id": change.id, "service": change.service}, 202)

    return handle


def _list(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        service = request.query_params.get("service") or None
        limit = query_limit(request, 100, 1000)
        items = await services.changes.store.page(service, limit)  # type: ignore[union-attr]
        return json_response({"items": items})

    return handle


__all__ = ["change_routes"]
