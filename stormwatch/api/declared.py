"""Declared incidents (issue 21): ``POST /api/v1/incidents`` (a person declares one, or joins the one open for the
service: 201 created, 200 ``joined: true``) and attaching / detaching alerts (``/attach``, ``/detach``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from correlation.core.declared import Declaration
from correlation.store.incident_commands import CommandRefused
from stormwatch.api.common import ApiError, ApiServices, authorise, instrument, json_response, log, parse_model, \
    publish_event
from stormwatch.api.schemas import AlertLinkBody, DeclareBody


def declared_routes(services: ApiServices) -> list[Route]:
    routes = [Route("/api/v1/incidents", instrument(services, "/api/v1/incidents", _declare(services)),
                    methods=["POST"])]
    for op in ("attach", "detach"):
        path = f"/api/v1/incidents/{{id}}/{op}"
        routes.append(Route(path, instrument(services, path, _link(services, op)), methods=["POST"]))
    return routes


def _refused(services: ApiServices, command: str, exc: ApiError, who: str) -> ApiError:
    """Count and log a refusal (the answer names the field) and give it back to raise."""
    services.metrics.incident_commands.labels(command, "refused").inc()
    log.info("incident_command_refused", command=command, status=exc.status, field=exc.field, detail=exc.detail,
             by=who)
    return exc


def _declare(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        if services.declared is None:
            raise ApiError(404, "not_found", "declaring incidents is not served here")
        try:
            body = await parse_model(request, DeclareBody)
        except ApiError as exc:
            raise _refused(services, "declare", exc, principal.name) from None
        declaration = Declaration(title=body.title, service=body.service, reporter=body.reporter or principal.name,
                                  by=principal.name, description=body.description, impact=body.impact,
                                  urgency=body.urgency, team=body.team, major=body.major)
        now = services.clock()
        # the alerts are checked before anything is written: one unknown refuses the whole report
        for n, fingerprint in enumerate(body.alerts):
            if await services.declared.find_alert(fingerprint) is None:
                raise _refused(services, "declare", ApiError(
                    422, "invalid", f"alerts.{n}: no open incident has an alert with fingerprint {fingerprint!r}",
                    field=f"alerts.{n}"), principal.name)
        try:
            declared = await services.declared.declare(declaration, now)
        except CommandRefused as exc:
            field = exc.message.split(" ", 1)[0].rstrip(":")  # the refusal names its field first
            raise _refused(services, "declare", ApiError(exc.status, "conflict" if exc.status == 409 else "invalid",
                                                         exc.message, field=field), principal.name) from None
        events: list[dict[str, Any]] = [declared.event]
        incident = declared.incident
        not_attached: list[str] = []
        for fingerprint in body.alerts:
            try:
                attached = await services.declared.link(incident["id"], fingerprint, "attach", principal.name, now)
            except CommandRefused:  # its incident closed between the check and now: said in the answer
                not_attached.append(fingerprint)
                continue
            incident = attached.incident
            if attached.event is not None:
                events.append(attached.event)
        published = [await publish_event(services, e, incident["id"]) for e in events]
        outcome = "joined" if declared.joined else "created"
        services.metrics.incident_commands.labels("declare", outcome).inc()
        log.info("incident_declared", incident_id=incident["id"], outcome=outcome, service=body.service,
                 reporter=declaration.reporter, by=principal.name)
        answer = {"incident": incident, "joined": declared.joined, "event_published": all(published)}
        if not_attached:
            answer["not_attached"] = not_attached
        return json_response(answer,
                             200 if declared.joined else 201,
                             {"Location": f"/api/v1/incidents/{incident['id']}"})

    return handle


def _link(services: ApiServices, op: str):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        if services.declared is None:
            raise ApiError(404, "not_found", "attaching alerts is not served here")
        try:
            body = await parse_model(request, AlertLinkBody)
        except ApiError as exc:
            raise _refused(services, op, exc, principal.name) from None
        incident_id = request.path_params["id"]
        try:
            result = await services.declared.link(incident_id, body.fingerprint, op, principal.name, services.clock())
        except CommandRefused as exc:
            field = "id" if exc.status == 404 else "fingerprint"
            raise _refused(services, op, ApiError(exc.status, "not_found" if exc.status == 404 else "invalid",
                                                  exc.message, field=field), principal.name) from None
        published = await publish_event(services, result.event, incident_id) if result.event is not None else False
        services.metrics.incident_commands.labels(op, "changed" if result.changed else "unchanged").inc()
        if result.changed:
            log.info("incident_command", incident_id=incident_id, command=op, fingerprint=body.fingerprint,
                     by=principal.name)
        return json_response({"incident": result.incident, "changed": result.changed, "event_published": published})

    return handle
