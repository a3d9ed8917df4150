"""``GET /api/v1/whoami``: the caller's token name, role and capabilities, so the console shows a person only the
changes their role allows (the API still decides every request)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stormwatch.api.common import ApiServices, authorise, instrument, json_response
from stormwatch.auth import CAPABILITIES


def whoami_routes(services: ApiServices) -> list[Route]:
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "read")
        return json_response({"name": principal.name, "role": principal.role,
                              "capabilities": sorted(CAPABILITIES.get(principal.role, frozenset()))})

    return [Route("/api/v1/whoami", instrument(services, "/api/v1/whoami", handle), methods=["GET"])]
