"""Incident routes: list (filtered, paginated), detail, and people's commands on one incident."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from correlation.store.incident_commands import Command, CommandRefused
from correlation.store.incident_document import incident_document
from correlation.store.incident_queries import IncidentFilter
from stormwatch.api.common import (ApiError, ApiServices, authorise, instrument, json_response, log, parse_model,
                                   query_choices, query_limit, query_set)
from stormwatch.api.schemas import AssignBody, CommentBody, NoteBody, PriorityBody, Strict

STATUSES = frozenset({"open", "acknowledged", "resolved"})
#: command -> (body model, whether the body may be empty, the model field holding the value)
COMMAND_BODIES: dict[str, tuple[type[Strict], bool, str]] = {
    "acknowledge": (NoteBody, True, ""),
    "resolve": (NoteBody, True, ""),
    "reopen": (NoteBody, True, ""),
    "assign": (AssignBody, False, "assignee"),
    "comment": (CommentBody, False, "text"),
    "priority": (PriorityBody, False, "priority"),
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


def _time(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError(400, "bad_query", f"{name}: expected epoch seconds or an RFC 3339 time", field=name) from None


def filters_of(request: Request) -> tuple[IncidentFilter, int, str | None]:
    statuses = query_choices(request, "status", STATUSES)
    limit = query_limit(request, 50, 500)
    flt = IncidentFilter(statuses, query_set(request, "priority"), query_set(request, "team"),
                         query_set(request, "rule"), _time(request, "since"), _time(request, "until"))
    return flt, limit, request.query_params.get("cursor") or None


def _list(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        flt, limit, cursor = filters_of(request)
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


def _command(services: ApiServices, name: str):
    model, optional, value_field = COMMAND_BODIES[name]
    outcomes = services.metrics.incident_commands

    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        body = await parse_model(request, model, optional=optional)
        value = getattr(body, value_field) if value_field else ""
        command = Command(name, principal.name, value, getattr(body, "comment", ""))
        incident_id = request.path_params["id"]
        try:
            result = await services.commands.execute(incident_id, command, services.clock())  # type: ignore[union-attr]
        except CommandRefused as exc:
            outcomes.labels(name, "refused").inc()
            raise ApiError(exc.status, "not_found" if exc.status == 404 else "conflict", exc.message) from None
        published = False
        if result.event is not None:
            try:
                await services.events.publish_events([result.event])  # type: ignore[union-attr]
                published = True
            except Exception as exc:  # noqa: BLE001 - the change is made; say the event is not
                log.warning("incident_event_not_published", incident_id=incident_id, command=name, error=repr(exc))
        outcomes.labels(name, "changed" if result.changed else "unchanged").inc()
        if result.changed and name == "resolve":
            services.metrics.incidents_resolved.inc()
        if result.changed:
            log.info("incident_command", incident_id=incident_id, command=name, by=principal.name)
        return json_response({"incident": result.incident, "changed": result.changed, "event_published": published})

    return handle
