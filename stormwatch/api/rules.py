"""Rule routes: what is loaded, reload (validate-then-swap in the worker), validate a candidate file."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events.builders import rules_reloaded
from stormwatch.api.common import (ApiError, ApiServices, authorise, instrument, json_response, log, publish_event,
                                   read_body)


def rule_routes(services: ApiServices) -> list[Route]:
    return [
        Route("/api/v1/rules", instrument(services, "/api/v1/rules", _summary(services)), methods=["GET"]),
        Route("/api/v1/rules/reload", instrument(services, "/api/v1/rules/reload", _reload(services)),
              methods=["POST"]),
        Route("/api/v1/rules/validate", instrument(services, "/api/v1/rules/validate", _validate(services)),
              methods=["POST"]),
    ]


def _summary(services: ApiServices):  # noqa: ANN202
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        return json_response(services.rules.rules_summary())  # type: ignore[union-attr]

    return handle


def _reload(services: ApiServices):  # noqa: ANN202
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "admin")
        errors = services.rules.reload_rules_checked()  # type: ignore[union-attr]
        log.info("rules_reload_requested", by=principal.name, refused=bool(errors))
        if errors:
            return json_response({"valid": False, "errors": errors}, 422)
        summary = services.rules.rules_summary()  # type: ignore[union-attr]
        now = services.clock()
        await publish_event(services, rules_reloaded(summary, principal.name, now), "rules")
        return json_response({"valid": True, "errors": []} | summary)

    return handle


def _validate(services: ApiServices):  # noqa: ANN202
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        name = request.query_params.get("file", "candidate.yaml")
        if "/" in name or not name.endswith((".yaml", ".yml")):
            raise ApiError(400, "bad_query", "file: a file name ending in .yaml or .yml", field="file")
        body = await read_body(request, services.max_body_bytes)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "bad_request", "body: a rule file must be UTF-8 text", field="body") from None
        errors = services.rules.validate_rule_file(name, text)  # type: ignore[union-attr]
        return json_response({"valid": not errors, "errors": errors}, 422 if errors else 200)

    return handle
