"""History routes (read role): incident search over the history database, resolved incidents Redis no longer
holds included (docs/history.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stormwatch.api.common import ApiError, ApiServices, authorise, instrument, json_response, query_choices, query_int
from stormwatch.history.queries import BadQuery, HistoryQueries, SearchFilter, parse_label, parse_when

STATUSES = frozenset({"open", "acknowledged", "resolved"})
MAX_OFFSET = 100_000


def history_routes(services: ApiServices) -> list[Route]:
    def route(path: str, handler: Any) -> Route:
        return Route(path, instrument(services, path, handler), methods=["GET"])

    return [
        route("/api/v1/history/incidents", _search(services)),
        route("/api/v1/history/incidents/{id}", _detail(services)),
    ]


def _history(services: ApiServices) -> HistoryQueries:
    assert services.history is not None
    return services.history


def _search(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        params = request.query_params
        for name, value in params.multi_items():
            if "\x00" in value:  # PostgreSQL text cannot hold it: refused here rather than by the database
                raise ApiError(400, "bad_query", f"{name}: contains a NUL character", field=name)
        statuses = query_choices(request, "status", STATUSES)
        if len(statuses) > 1:
            raise ApiError(400, "bad_query", "status: one of acknowledged, open, resolved", field="status")
        limit = query_int(request, "limit", 50, 0, 1000)
        if limit < 1:
            raise ApiError(400, "bad_query", "limit: an integer from 1 to 1000", field="limit")
        now = services.clock()
        try:
            f = SearchFilter(
                text=params.get("q", "")[:200], labels=tuple(parse_label(v) for v in params.getlist("label")),
                team=params.get("team", ""), service=params.get("service", ""),
                status=next(iter(statuses), ""),
                since=parse_when(params["since"], now, "since") if params.get("since") else None,
                until=parse_when(params["until"], now, "until") if params.get("until") else None,
                limit=limit, offset=query_int(request, "offset", 0, 0, MAX_OFFSET))
        except BadQuery as exc:
            raise ApiError(400, "bad_query", str(exc), field=exc.field) from None
        return json_response(await _history(services).search(f))

    return handle


def _detail(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        incident_id = request.path_params["id"]
        doc = None if "\x00" in incident_id else await _history(services).incident(incident_id)
        if doc is None:
            raise ApiError(404, "not_found", f"no incident {incident_id!r} in the history", field="id")
        return json_response(doc)

    return handle
