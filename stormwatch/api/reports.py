"""Report routes over the history: the figures of a window with their trend (JSON, or CSV with ``format=csv``),
and the same report's charts as server-drawn SVG for the console. docs/reports.md defines the figures."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stormwatch.api.common import ApiError, ApiServices, authorise, instrument, json_response, log
from stormwatch.reports.csv_out import to_csv
from stormwatch.reports.source import HistoryUnavailable
from stormwatch.reports.svg import charts
from stormwatch.reports.window import Window, WindowError, window

#: the query parameters every report route takes, with their meaning (the OpenAPI document lists them)
PARAMETERS = (
    ("since", "start: a duration before now (30d), epoch seconds or RFC 3339; default 30d"),
    ("until", "end (exclusive): epoch seconds or RFC 3339; default now"),
    ("period", "series buckets: day, week or month (default by the window's length)"),
    ("team", "only incidents of this team"), ("service", "only incidents of this service"),
    ("priority", "only incidents of this priority (P1..P5)"),
)
FORMATS = ("json", "csv")


def report_routes(services: ApiServices) -> list[Route]:
    def route(path: str, handler: Any) -> Route:
        return Route(path, instrument(services, path, handler), methods=["GET"])

    return [route("/api/v1/reports/summary", _summary(services)),
            route("/api/v1/reports/charts", _charts(services))]


def _window(services: ApiServices, request: Request) -> Window:
    q = request.query_params
    try:
        return window(services.clock(), **{name: q.get(name, "") for name, _ in PARAMETERS})
    except WindowError as exc:
        raise ApiError(400, "bad_query", str(exc), field=exc.field) from None


async def _report(services: ApiServices, request: Request) -> dict[str, Any]:
    authorise(services, request, "read")
    w = _window(services, request)
    assert services.reports is not None
    try:
        return await services.reports.report(w)
    except HistoryUnavailable as exc:
        log.warning("report_unavailable", error=str(exc.__cause__)[:300])
        raise ApiError(503, "history_unavailable", str(exc), headers={"Retry-After": "10"}) from None


def _summary(services: ApiServices):
    async def handle(request: Request) -> Response:
        fmt = request.query_params.get("format", "")
        if not fmt:
            fmt = "csv" if "text/csv" in request.headers.get("accept", "") else "json"
        if fmt not in FORMATS:
            raise ApiError(400, "bad_query", "format: json or csv", field="format")
        report = await _report(services, request)
        if fmt == "csv":
            return Response(to_csv(report), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="stormwatch-report.csv"'})
        return json_response(report)

    return handle


def _charts(services: ApiServices):
    async def handle(request: Request) -> Response:
        report = await _report(services, request)
        return json_response({"window": report["window"], "charts": charts(report)})

    return handle
