"""Incident routes: list (filtered, paginated), detail, and people's commands on one incident."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from correlation.store.incident_commands import Command, CommandRefused, CommandResult
from correlation.store.incident_document import incident_document
from correlation.store.incident_queries import IncidentFilter
from stormwatch.api.common import (ApiError, ApiServices, authorise, instrument, json_response, log, parse_model,
                                   publish_event, query_choices, query_limit, query_set)
from stormwatch.api.schemas import AssignBody, CommentBody, HoldBody, NoteBody, PriorityBody, Strict
from stormwatch.moments import parse_moment

STATUSES = frozenset({"open", "acknowledged", "resolved"})
SLA_STAGES = frozenset({"at_risk", "breached", "ok", "none"})
#: command -> (body model, whether the body may be empty, the model field holding the value)
COMMAND_BODIES: dict[str, tuple[type[Strict], bool, str]] = {
    "acknowledge": (NoteBody, True, ""),
    "resolve": (NoteBody, True, ""),
    "reopen": (NoteBody, True, ""),
    "assign": (AssignBody, False, "assignee"),
    "comment": (CommentBody, False, "text"),
    "priority": (PriorityBody, False, "priority"),
    "on_hold": (HoldBody, False, "reason"),
}


def incident_routes(services: ApiServices) -> list[Route]:
    routes = [
        Route("/api/v1/incidents", instrument(services, "/api/v1/incidents", _list(services)), methods=["GET"]),
        Route("/api/v1/incidents/{id}", instrument(services, "/api/v1/incidents/{id}", _detail(services)),
              methods=["GET"]),
    ]
    for name in COMMAND_BODIES:
        path = f"/api/v1/incidents/{{id}}/{name}"
        routes.append(Route(path, instrument(services, path, _command(services, name)), methods=["POST"]))
    return routes


def _time(request: Request, name: str, now: float) -> float | None:
    """A time filter: epoch seconds, an RFC 3339 time with its zone or a duration before now (``2h``)."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_moment(raw, now)
    except ValueError as exc:
        raise ApiError(400, "bad_query", f"{name}: {exc}", field=name) from None


def filters_of(request: Request, now: float) -> tuple[IncidentFilter, int, str | None]:
    statuses = query_choices(request, "status", STATUSES)
    limit = query_limit(request, 50, 500)
    flt = IncidentFilter(statuses, query_set(request, "priority"), query_set(request, "team"),
                         query_set(request, "rule"), _time(request, "since", now), _time(request, "until", now),
                         query_choices(request, "sla", SLA_STAGES))
    return flt, limit, request.query_params.get("cursor") or None


def _list(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        flt, limit, cursor = filters_of(request, services.clock())
        try:
            items, next_cursor = await services.queries.page(flt, limit=limit, cursor=cursor)  # type: ignore[union-attr]
        except ValueError as exc:
            raise ApiError(400, "bad_query", f"cursor: {exc}", field="cursor") from None
        return json_response({"items": items, "next_cursor": next_cursor})

    return handle


def _detail(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        incident_id = request.path_params["id"]
        doc = await incident_document(services.queries, services.links, services.actions,  # type: ignore[arg-type]
                                      incident_id, services.changes.store if services.changes else None)
        if doc is None:
            raise ApiError(404, "not_found", f"no incident {incident_id!r}", field="id")
        return json_response(doc)

    return handle


async def execute_command(services: ApiServices, incident_id: str, command: Command) -> tuple[CommandResult, bool]:
    """Run one person's command and publish its event: (the result, whether the event was published). A refusal
    is counted and raised as its ApiError (``field`` names what was refused)."""
    outcomes = services.metrics.incident_commands
    try:
        result = await services.commands.execute(incident_id, command, services.clock())  # type: ignore[union-attr]
    except CommandRefused as exc:
        outcomes.labels(command.kind, "refused").inc()
        log.info("incident_command_refused", incident_id=incident_id, command=command.kind, status=exc.status,
                 detail=exc.message, by=command.actor)
        raise ApiError(exc.status, "not_found" if exc.status == 404 else "conflict" if exc.status == 409
                       else "invalid", exc.message, field="id" if exc.status == 404 else None) from None
    published = False
    if result.event is not None:
        published = await publish_event(services, result.event, incident_id)
    outcomes.labels(command.kind, "changed" if result.changed else "unchanged").inc()
    if result.changed and command.kind == "resolve":
        services.metrics.incidents_resolved.inc()
    if result.changed:
        log.info("incident_command", incident_id=incident_id, command=command.kind, by=command.actor)
    return result, published


def _command(services: ApiServices, name: str):
    model, optional, value_field = COMMAND_BODIES[name]

    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        body = await parse_model(request, model, optional=optional)
        value = getattr(body, value_field) if value_field else ""
        command = Command(name, principal.name, value, getattr(body, "comment", ""))
        result, published = await execute_command(services, request.path_params["id"], command)
        return json_response({"incident": result.incident, "changed": result.changed, "event_published": published})

    return handle
