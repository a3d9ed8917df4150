"""The one HTTP application: ingest, incident, problem, action, silence and rule APIs, Alertmanager's API v2,
the live event stream, the web console, OpenAPI, and /metrics /healthz /readyz.

Parts of ``ApiServices`` left None are not routed, so the same builder serves a full worker and an ops-only
server. Each part's routes come from its own ``*_routes(services)`` function.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from stormwatch.api.actions import action_routes
from stormwatch.api.alertmanager import alertmanager_routes
from stormwatch.api.common import ApiServices, refuse, stormwatch_version
from stormwatch.api.change_windows import change_window_routes
from stormwatch.api.changes import change_routes
from stormwatch.api.console import console_routes
from stormwatch.api.history import history_routes
from stormwatch.api.declared import declared_routes
from stormwatch.api.major import major_routes
from stormwatch.api.tickets import ticket_routes
from stormwatch.api.incidents import incident_routes
from stormwatch.api.ingest import ingest_routes
from stormwatch.api.openapi import openapi_document
from stormwatch.api.problems import problem_routes
from stormwatch.api.reports import report_routes
from stormwatch.api.rules import rule_routes
from stormwatch.api.services import service_routes
from stormwatch.api.silences import silence_routes
from stormwatch.api.stream import stream_routes
from stormwatch.api.whoami import whoami_routes
from stormwatch.metrics import exposition


def ops_routes(services: ApiServices, registry: CollectorRegistry) -> list[BaseRoute]:
    token = hashlib.sha256(services.metrics_token.encode()).digest() if services.metrics_token else None
    exported = exposition(registry)  # every process's samples under `serve --processes`

    async def metrics(request: Request) -> Response:
        if token is not None:  # STORMWATCH_METRICS_TOKEN: its own bearer token, compared in constant time
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    hashlib.sha256(given.strip().encode()).digest(), token):
                refuse(services, request, "metrics_token")
                return PlainTextResponse("send Authorization: Bearer <STORMWATCH_METRICS_TOKEN>\n", 401,
                                         headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(exported), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: Request) -> Response:
        checks = services.liveness() if services.liveness is not None else {}
        if all(checks.values()):
            return PlainTextResponse("ok\n")
        text = "".join(f"{name}: {'ok' if ok else 'stalled'}\n" for name, ok in checks.items())
        return PlainTextResponse(text, 503)

    async def readyz(request: Request) -> Response:
        checks = await services.readiness()
        text = "".join(f"{name}: {'ok' if ok else 'not ready'}\n" for name, ok in checks.items())
        return PlainTextResponse(text, 200 if all(checks.values()) else 503)

    document = orjson.dumps(openapi_document(stormwatch_version()))

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


def build_app(services: ApiServices, *, registry: CollectorRegistry | None = None) -> Starlette:
    """The app; /metrics exports ``registry`` (default: the services' metrics registry)."""
    routes: list[BaseRoute] = []
    if services.publisher is not None:
        routes += ingest_routes(services)  # first: the hot path matches without trying the others
    routes += ops_routes(services, registry if registry is not None else services.metrics.registry)
    if services.queries is not None and services.commands is not None:
        routes += incident_routes(services)
        routes += declared_routes(services)
        routes += major_routes(services)
        routes += ticket_routes(services)
        routes += whoami_routes(services)
    if services.silences is not None:
        routes += silence_routes(services)
    if services.catalog is not None and services.queries is not None:
        routes += service_routes(services)
    if services.changes is not None:
        routes += change_routes(services)
    if services.change_windows is not None:
        routes += change_window_routes(services)
    if services.rules is not None:
        routes += rule_routes(services)
    routes += alertmanager_routes(services)
    if services.links is not None:
        routes += problem_routes(services)
    if services.actions is not None:
        routes += action_routes(services)
    if services.stream is not None:
        routes += stream_routes(services)
    if services.history is not None:
        routes += history_routes(services)
    if services.reports is not None:
        routes += report_routes(services)
    if services.console:
        routes += console_routes()
    return Starlette(routes=routes)
