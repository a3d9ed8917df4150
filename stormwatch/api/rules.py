"""Rule routes: what is loaded, reload (validate-then-swap in the worker), validate a candidate file."""

from __future__ import annotations

import asyncio
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events.builders import rules_reloaded
from stormwatch.api.common import (ApiError, ApiServices, authorise, instrument, json_response, log, publish_event,
                                   read_body)


#: a candidate's file name: it becomes a file in a scratch directory and appears in every error
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,122}\.ya?ml")
#: validations parsing at once; more answer 503 (each may take a second of CPU under the rule-file limits)
VALIDATIONS_AT_ONCE = 2


def rule_routes(services: ApiServices) -> list[Route]:
    return [
        Route("/api/v1/rules", instrument(services, "/api/v1/rules", _summary(services)), methods=["GET"]),
        Route("/api/v1/rules/reload", instrument(services, "/api/v1/rules/reload", _reload(services)),
              methods=["POST"]),
        Route("/api/v1/rules/validate", instrument(services, "/api/v1/rules/validate", _validate(services)),
              methods=["POST"]),
    ]


def _summary(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        return json_response(services.rules.rules_summary())  # type: ignore[union-attr]

    return handle


def _reload(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "admin")
        errors = await services.rules.reload_rules_checked()  # type: ignore[union-attr]
        log.info("rules_reload_requested", by=principal.name, refused=bool(errors))
        if errors:
            return json_response({"valid": False, "errors": errors}, 422)
        summary = services.rules.rules_summary()  # type: ignore[union-attr]
        now = services.clock()
        await publish_event(services, rules_reloaded(summary, principal.name, now), "rules")
        return json_response({"valid": True, "errors": []} | summary)

    return handle


def _validate(services: ApiServices):
    running = 0

    async def handle(request: Request) -> Response:
        nonlocal running
        authorise(services, request, "read")
        names = request.query_params.getlist("file") or ["candidate.yaml"]
        name = names[0]
        if len(names) > 1 or not _FILE_NAME.fullmatch(name):
            raise ApiError(400, "bad_query", "file: one file name of letters, digits, '_', '.' and '-' (not "
                           "starting with '.' or '-'), ending in .yaml or .yml, at most 128 characters", field="file")
        body = await read_body(request, services.max_body_bytes)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "bad_request", "body: a rule file must be UTF-8 text", field="body") from None
        if running >= VALIDATIONS_AT_ONCE:
            raise ApiError(503, "busy", f"rules: {VALIDATIONS_AT_ONCE} validations are running; retry shortly",
                           headers={"Retry-After": "1"})
        running += 1
        try:  # YAML parsing is CPU work: in a thread, so the event loop (and /healthz) keeps answering
            errors = await asyncio.to_thread(services.rules.validate_rule_file, name, text)  # type: ignore[union-attr]
        finally:
            running -= 1
        return json_response({"valid": not errors, "errors": errors}, 422 if errors else 200)

    return handle
