"""Problem routes: list (filtered, paginated), detail with timeline and incidents, and people's changes
(link / unlink an incident, known error, resolve), each on the problem's timeline and published as an event."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from correlation.store.links import Links
from correlation.store.problem_queries import STATUSES, ProblemFilter, is_problem_id, page_problems
from events.builders import problem_linked, problem_status
from stormwatch.api.common import (ApiError, ApiServices, authorise, instrument, json_response, log, parse_model,
                                   publish_event,
                                   query_choices, query_limit, query_set)
from stormwatch.api.schemas import LinkBody, NoteBody

TIMELINE_MAX = 1000  # entries returned by the detail


def problem_routes(services: ApiServices) -> list[Route]:
    def route(path: str, handler: Any, method: str) -> Route:
        return Route(path, instrument(services, path, handler), methods=[method])

    return [
        route("/api/v1/problems", _list(services), "GET"),
        route("/api/v1/problems/{id}", _detail(services), "GET"),
        route("/api/v1/problems/{id}/link", _link(services, unlink=False), "POST"),
        route("/api/v1/problems/{id}/unlink", _link(services, unlink=True), "POST"),
        route("/api/v1/problems/{id}/known-error", _status(services, "known_error"), "POST"),
        route("/api/v1/problems/{id}/resolve", _status(services, "resolved"), "POST"),
    ]


def _links(services: ApiServices) -> Links:
    assert services.links is not None
    return services.links


def _problem_id(request: Request) -> str:
    pid = request.path_params["id"]
    if not is_problem_id(pid):
        raise ApiError(404, "not_found", f"no problem {pid!r}", field="id")
    return pid


async def _one(services: ApiServices, pid: str) -> dict[str, Any]:
    found = await _links(services).problems([pid])
    if not found:
        raise ApiError(404, "not_found", f"no problem {pid!r}", field="id")
    return found[0].public()


def _list(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        statuses = query_choices(request, "status", STATUSES)
        limit = query_limit(request, 50, 500)
        flt = ProblemFilter(statuses, query_set(request, "rule"), query_set(request, "team"))
        try:
            items, cursor = await page_problems(_links(services), flt, limit=limit,
                                                cursor=request.query_params.get("cursor") or None)
        except ValueError as exc:
            raise ApiError(400, "bad_query", f"cursor: {exc}", field="cursor") from None
        return json_response({"items": items, "next_cursor": cursor})

    return handle


def _detail(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        pid = _problem_id(request)
        doc = await _one(services, pid)
        doc["timeline"] = (await _links(services).problem_timeline(pid))[-TIMELINE_MAX:]
        linked = []
        if services.queries is not None and doc["incidents"]:
            for iid in sorted(doc["incidents"])[:200]:
                incident = await services.queries.detail(iid, timeline_limit=1)
                if incident is not None:
                    incident.pop("members", None)
                    incident.pop("timeline", None)
                    linked.append(incident)
        doc["linked_incidents"] = linked
        return json_response(doc)

    return handle


async def _publish(services: ApiServices, event: dict[str, Any]) -> bool:
    return await publish_event(services, event, event["problem"]["id"])


def _link(services: ApiServices, *, unlink: bool):
    op = "unlink" if unlink else "link"

    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        pid = _problem_id(request)
        body = await parse_model(request, LinkBody)
        if not unlink and services.queries is not None and not await services.queries.exists(body.incident):
            raise ApiError(404, "not_found", f"incident: no incident {body.incident!r}", field="incident")
        now = services.clock()
        outcome = await _links(services).link_incident(pid, body.incident, principal.name, now, unlink=unlink)
        if outcome == "missing":
            raise ApiError(404, "not_found", f"no problem {pid!r}", field="id")
        if outcome == "resolved":
            raise ApiError(409, "conflict", f"{pid} is resolved: it takes no new incidents", field="id")
        problem = await _one(services, pid)
        published = False
        if outcome == "changed":
            log.info("problem_command", problem_id=pid, command=op, incident_id=body.incident, by=principal.name)
            published = await _publish(services, problem_linked(problem, body.incident, op, principal.name, now))
        return json_response({"problem": problem, "changed": outcome == "changed", "event_published": published})

    return handle


def _status(services: ApiServices, status: str):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        pid = _problem_id(request)
        body = await parse_model(request, NoteBody, optional=True)
        now = services.clock()
        outcome, problem = await _links(services).change_problem_status(pid, status, principal.name, now,
                                                                         body.comment)
        if problem is None:
            raise ApiError(404, "not_found", f"no problem {pid!r}", field="id")
        if outcome == "same":
            return json_response({"problem": problem.public(), "changed": False, "event_published": False})
        if outcome == "resolved":
            raise ApiError(409, "conflict", f"{pid} is resolved; its signature opens a new problem next time",
                           field="id")
        log.info("problem_command", problem_id=pid, command=status, by=principal.name)
        published = await _publish(services, problem_status(problem.public(), status, principal.name, now))
        return json_response({"problem": problem.public(), "changed": True, "event_published": published})

    return handle
