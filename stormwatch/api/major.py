"""Major incidents (issue 21): promote (``/major``), the roles (``/roles``: incident commander, communications
lead), stakeholder status updates (``/updates``, published as ``incident.status_update``), and the read-only status
page of one incident (``/status/{id}?token=``), shareable with a token that reads that incident's page and nothing
else (an HMAC of the incident id under ``STORMWATCH_STATUS_PAGE_SECRET``)."""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from correlation.store.incident_commands import Command, ROLES
from stormwatch.api.common import ApiError, ApiServices, authorise, client_of, instrument, json_response, log, \
    parse_model
from stormwatch.api.incidents import execute_command
from stormwatch.api.schemas import MajorBody, RolesBody, StatusUpdateBody
from stormwatch.views import ts

#: how many of an incident's newest timeline entries the status page reads for its updates
PAGE_TIMELINE = 1000


def major_routes(services: ApiServices) -> list[Route]:
    def route(path: str, handler: Any, method: str = "POST") -> Route:
        return Route(path, instrument(services, path, handler), methods=[method])

    return [
        route("/api/v1/incidents/{id}/major", _promote(services)),
        route("/api/v1/incidents/{id}/roles", _roles(services)),
        route("/api/v1/incidents/{id}/updates", _update(services)),
        route("/api/v1/incidents/{id}/updates", _updates(services), "GET"),
        route("/api/v1/incidents/{id}/share", _share(services)),
        route("/status/{id}", _page(services), "GET"),
    ]


def share_token(secret: str, incident_id: str) -> str:
    """The read token of one incident's status page."""
    return hmac.new(secret.encode(), f"status-page:{incident_id}".encode(), hashlib.sha256).hexdigest()


async def _answer(services: ApiServices, incident_id: str, commands: list[Command]) -> Response:
    """Run ``commands`` in order; the answer is the last one's incident (changed if any changed)."""
    changed = False
    published = True
    result = None
    for command in commands:
        result, sent = await execute_command(services, incident_id, command)
        changed = changed or result.changed
        published = published and (sent or not result.changed)
    assert result is not None
    return json_response({"incident": result.incident, "changed": changed, "event_published": published})


def _promote(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        body = await parse_model(request, MajorBody, optional=True)
        commands = [Command("promote", principal.name, "", body.comment)]
        commands += [Command(role, principal.name, getattr(body, role)) for role in ROLES if getattr(body, role)]
        return await _answer(services, request.path_params["id"], commands)

    return handle


def _roles(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        body = await parse_model(request, RolesBody)
        commands = [Command(role, principal.name, getattr(body, role)) for role in ROLES
                    if getattr(body, role) is not None]
        if not commands:
            raise ApiError(422, "invalid", "body: name commander or communications_lead", field="body")
        return await _answer(services, request.path_params["id"], commands)

    return handle


def _update(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        body = await parse_model(request, StatusUpdateBody)
        command = Command("status_update", principal.name, body.text, body.state)
        result, published = await execute_command(services, request.path_params["id"], command)
        update = result.event["update"] if result.event else {}
        return json_response({"incident": result.incident, "update": update, "event_published": published}, 201)

    return handle


async def _read_updates(services: ApiServices, incident_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    doc = await services.queries.detail(incident_id, timeline_limit=PAGE_TIMELINE)  # type: ignore[union-attr]
    if doc is None:
        raise ApiError(404, "not_found", f"no incident {incident_id!r}", field="id")
    return doc, [e for e in doc["timeline"] if e.get("kind") == "status_update"]


def _updates(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        _, updates = await _read_updates(services, request.path_params["id"])
        return json_response({"items": updates})

    return handle


def _share(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "respond")
        incident_id = request.path_params["id"]
        if not services.status_page_secret:
            raise ApiError(404, "not_found", "status pages are off: set STORMWATCH_STATUS_PAGE_SECRET")
        await _read_updates(services, incident_id)  # 404 for an incident that does not exist
        token = share_token(services.status_page_secret, incident_id)
        return json_response({"url": f"/status/{incident_id}?token={token}", "token": token})

    return handle


def _page(services: ApiServices):
    refused = services.metrics.status_page_refused

    async def handle(request: Request) -> Response:
        incident_id = request.path_params["id"]
        given = request.query_params.get("token", "")
        secret = services.status_page_secret
        if not secret or not hmac.compare_digest(given.encode(), share_token(secret, incident_id).encode()):
            reason = "off" if not secret else "missing_token" if not given else "bad_token"
            refused.labels(reason).inc()
            log.info("status_page_refused", reason=reason, client=client_of(services, request))
            raise ApiError(404 if not secret else 403, "forbidden", f"token: {reason}", field="token", reason=reason)
        doc, updates = await _read_updates(services, incident_id)
        return HTMLResponse(status_page(doc, updates), headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'", "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"})

    return handle


def status_page(doc: dict[str, Any], updates: list[dict[str, Any]]) -> str:
    """The page: every value escaped (titles and updates are people's text), no script, no outside resource."""
    def e(value: Any) -> str:
        return escape(str(value if value is not None else ""), quote=True)

    rows = "".join(
        f"<li><strong>{e(u.get('state'))}</strong> <time>{e(ts(u['at']))}</time> ({e(u.get('by'))})"
        f"<p>{e(u.get('text'))}</p></li>" for u in reversed(updates))
    roles = "".join(f"<dt>{e(label)}</dt><dd>{e(doc.get(field) or '-')}</dd>"
                    for field, label in (("commander", "Incident commander"),
                                         ("communications_lead", "Communications lead")) if doc.get("major"))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=robots content=noindex>"
        f"<title>{e(doc['id'])}: {e(doc['title'])}</title>"
        "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto}li{margin:1em 0}</style></head><body>"
        f"<h1>{e(doc['title'])}</h1>"
        f"<p id=status data-status={e(doc['status'])}>{e(doc['id'])}: <strong>{e(doc['status'])}</strong>"
        f"{' (major incident)' if doc.get('major') else ''}, priority {e(doc.get('priority') or '-')}, "
        f"since {e(ts(doc['created_at']))}</p><dl>{roles}</dl>"
        f"<h2>Updates ({len(updates)})</h2><ol id=updates reversed>{rows or '<p>No update yet.</p>'}</ol>"
        "</body></html>")
