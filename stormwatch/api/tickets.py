"""The ticketing system's side of the bridge (issue 21): ``POST /api/v1/webhooks/tickets/{system}``.

Authenticated with an HMAC of the body (``X-Stormwatch-Signature: t=<unix>,v1=<hex>``, the scheme of signed ingest,
under ``STORMWATCH_TICKET_WEBHOOK_SECRET``). The system's adapter reads the change (``actions.tickets.adapters``);
a change to a ticket Stormwatch made is applied to its incident as a person's change: resolved resolves it,
reopened reopens it (a resolved incident; an open one is unchanged), reassigned assigns it, commented comments, each
by ``<system>:<who>``. Stormwatch's own updates coming back (their text starts with the marker, or the ticketing
system names the account Stormwatch writes as) are dropped: no loop.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actions.tickets.adapters import ADAPTERS, Settings, adapter
from correlation.store.incident_commands import Command
from stormwatch.api.common import ApiError, ApiServices, client_of, instrument, json_response, log, read_body
from stormwatch.api.incidents import execute_command
from stormwatch.auth import AuthError, Authenticator

#: the ticket's change -> the incident command it becomes
COMMANDS = {"resolved": "resolve", "reopened": "reopen", "reassigned": "assign", "commented": "comment"}
#: changes applied as a state change with a note naming the ticket (not as text)
STATE_CHANGES = ("resolved", "reopened")


def ticket_routes(services: ApiServices) -> list[Route]:
    path = "/api/v1/webhooks/tickets/{system}"
    return [Route(path, instrument(services, path, _webhook(services)), methods=["POST"])]


def _webhook(services: ApiServices):
    outcomes = services.metrics.ticket_webhooks
    settings_of: Callable[[str], Settings] = services.ticket_settings or (lambda system: Settings())

    def refuse(status: int, reason: str, detail: str, field: str, request: Request) -> ApiError:
        outcomes.labels(reason).inc()
        log.info("ticket_webhook_refused", reason=reason, field=field, client=client_of(services, request))
        return ApiError(status, "refused" if status < 422 else "invalid", detail, field=field, reason=reason)

    async def handle(request: Request) -> Response:
        system = request.path_params["system"]
        if system not in ADAPTERS:
            raise refuse(404, "unknown_system", f"system: one of {', '.join(sorted(ADAPTERS))}", "system", request)
        if not services.ticket_webhook_secret or services.ticket_refs is None:
            raise refuse(404, "off", "ticket webhooks are off: set STORMWATCH_TICKET_WEBHOOK_SECRET", "system",
                         request)
        header = request.headers.get("x-stormwatch-signature", "")
        checker = Authenticator((), services.ticket_webhook_secret, disabled=False, clock=services.clock)
        body = await read_body(request, services.max_body_bytes)
        try:
            checker.signature(header, body)
        except AuthError as exc:
            raise refuse(401, exc.reason, str(exc), "X-Stormwatch-Signature", request) from None
        try:
            change = adapter(system, settings_of(system)).change(orjson.loads(body))
        except orjson.JSONDecodeError:
            raise refuse(400, "invalid_json", "body: not valid JSON", "body", request) from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise refuse(422, "unreadable", f"body: not a {system} change ({exc!r} missing or wrong)", "body",
                         request) from None
        if change.echo:
            outcomes.labels("echo").inc()
            log.info("ticket_webhook_echo_dropped", system=system, ticket=change.ref)
            return json_response({"applied": False, "echo": True})
        if change.kind not in COMMANDS:
            outcomes.labels("ignored").inc()
            return json_response({"applied": False, "echo": False, "detail": "a change Stormwatch does not follow"})
        incident_id = await services.ticket_refs.incident_of(system, change.ref)
        if incident_id is None:
            raise refuse(404, "unknown_ticket", f"ticket: {system} {change.ref!r} is no incident's ticket", "ticket",
                         request)
        who = f"{system}:{change.actor or 'unknown'}"[:200]
        state_change = change.kind in STATE_CHANGES
        command = Command(COMMANDS[change.kind], who, "" if state_change else change.text[:10_000],
                          f"from {system} ticket {change.ref}" if state_change else "")
        if command.kind == "comment" and not command.value:
            raise refuse(422, "empty_comment", "body: the comment is empty", "body", request)
        result, published = await execute_command(services, incident_id, command)
        outcomes.labels("applied" if result.changed else "unchanged").inc()
        return json_response({"applied": result.changed, "echo": False, "incident": result.incident,
                              "event_published": published})

    return handle
