"""Service catalog routes: the services with their health, one service, the business services
(``docs/services.md``). Read-only: the catalog lives in the rule files."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from correlation.store.service_document import (business_overview, open_incidents, service_detail,
                                                services_overview)
from stormwatch.api.common import ApiError, ApiServices, authorise, instrument, json_response


#: the recent changes a service's document shows
RECENT_CHANGES = 20


def service_routes(services: ApiServices) -> list[Route]:
    return [
        Route("/api/v1/services", instrument(services, "/api/v1/services", _list(services)), methods=["GET"]),
        Route("/api/v1/services/{name}", instrument(services, "/api/v1/services/{name}", _detail(services)),
              methods=["GET"]),
        Route("/api/v1/business-services",
              instrument(services, "/api/v1/business-services", _business(services)), methods=["GET"]),
    ]


def _list(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        incidents, truncated = await open_incidents(services.queries)  # type: ignore[arg-type]
        return json_response(services_overview(services.catalog(), incidents, truncated))  # type: ignore[misc]

    return handle


def _detail(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        name = request.path_params["name"]
        incidents, _ = await open_incidents(services.queries)  # type: ignore[arg-type]
        recent = await services.changes.store.page(name, RECENT_CHANGES) if services.changes is not None else []
        doc = service_detail(services.catalog(), name, incidents, recent)  # type: ignore[misc]
        if doc is None:
            raise ApiError(404, "not_found", f"no service {name!r} in the catalog or on an open incident",
                           field="name")
        return json_response(doc)

    return handle


def _business(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        incidents, truncated = await open_incidents(services.queries)  # type: ignore[arg-type]
        return json_response(business_overview(services.catalog(), incidents, truncated))  # type: ignore[misc]

    return handle
