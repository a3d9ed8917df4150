"""Alertmanager API v2 silences: ``GET/POST /api/v2/silences``, ``GET/DELETE /api/v2/silence/{id}``.

One silence model: these read and write Stormwatch's silence store (``correlation.store.silences.SilenceStore``) and
announce through the same code as ``/api/v1/silences`` (log line, ``silence.created`` / ``silence.expired``
event), so a silence made with amtool is in the console and the CLI, and the reverse. ``createdBy`` is the
author the client names (amtool's ``--author``), as in Alertmanager; the token that made the change is the
event's ``by`` and the log line's. Posting with an ``id`` expires that silence and makes a new one with a new id.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from correlation.core.muting import Silence
from correlation.store.silences import new_silence_id
from rules.matchers import Matcher, MatcherError, MatchType
from stormwatch.api.alertmanager.common import Query, am_route, am_time, parse_am_time
from stormwatch.api.alertmanager.schemas import AmPostableSilence
from stormwatch.api.common import ApiError, ApiServices, authorise, decode_model, json_response, read_body
from stormwatch.api.silences import end_silence, store_silence

STATE_ORDER = {"active": 1, "pending": 2, "expired": 3}
NOT_FOUND = "silence not found"


def am_silence_routes(services: ApiServices) -> list[Route]:
    return [
        Route("/api/v2/silences", am_route(services, "/api/v2/silences", _list(services)), methods=["GET"]),
        Route("/api/v2/silences", am_route(services, "/api/v2/silences", _post(services)), methods=["POST"]),
        Route("/api/v2/silence/{id}", am_route(services, "/api/v2/silence/{id}", _get(services)), methods=["GET"]),
        Route("/api/v2/silence/{id}", am_route(services, "/api/v2/silence/{id}", _delete(services)),
              methods=["DELETE"]),
    ]


def am_matcher(m: Matcher) -> dict[str, Any]:
    return {"name": m.name, "value": m.value, "isRegex": m.type in (MatchType.RE, MatchType.NRE),
            "isEqual": m.type in (MatchType.EQ, MatchType.RE)}


def am_silence(s: Silence, now: float) -> dict[str, Any]:
    """A Stormwatch silence as Alertmanager's ``gettableSilence``."""
    return {"id": s.id, "status": {"state": s.state(now)}, "updatedAt": am_time(s.created_at or s.starts_at),
            "matchers": [am_matcher(m) for m in s.matchers], "startsAt": am_time(s.starts_at),
            "endsAt": am_time(s.ends_at), "createdBy": s.created_by, "comment": s.comment, "annotations": {}}


def _same(filter_matcher: Matcher, silence: Silence) -> bool:
    """Alertmanager's filter on silences: a silence matcher with the same name, type and value."""
    return any(m.name == filter_matcher.name and m.type is filter_matcher.type and m.value == filter_matcher.value
               for m in silence.matchers)


def _sort_key(doc: dict[str, Any]) -> tuple[int, str]:
    """Active first (soonest to end), then pending (soonest to start), then expired (most recently ended)."""
    state = doc["status"]["state"]
    if state == "active":
        return 1, doc["endsAt"]
    if state == "pending":
        return 2, doc["startsAt"]
    return 3, "".join(chr(0x10FFFF - ord(c)) for c in doc["endsAt"])  # descending


def _list(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        query = Query(request)
        wanted = {state for state in STATE_ORDER if query.flag(state)}
        matchers = query.matchers()
        now = services.clock()
        docs = [am_silence(s, now) for s in await services.silences.all()  # type: ignore[union-attr]
                if s.state(now) in wanted and all(_same(m, s) for m in matchers)]
        return json_response(sorted(docs, key=_sort_key))

    return handle


def _get(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        silence = await _stored(services, request.path_params["id"])
        return json_response(am_silence(silence, services.clock()))

    return handle


def _delete(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        silence = await _stored(services, request.path_params["id"])
        if silence.state(services.clock()) != "expired":  # expiring an expired silence changes nothing
            await end_silence(services, silence.id, principal.name)
        return Response(status_code=200)

    return handle


async def _stored(services: ApiServices, silence_id: str) -> Silence:
    silence = await services.silences.get(silence_id) if len(silence_id) <= 200 else None  # type: ignore[union-attr]
    if silence is None:
        raise ApiError(404, "not_found", f"{NOT_FOUND}: {silence_id[:200]!r}", field="id")
    return silence


def _post(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        body = await _body(request, services.max_body_bytes)
        now = services.clock()
        matchers = _matchers(body)
        if body.annotations:
            raise ApiError(400, "invalid", "annotations: Stormwatch silences keep no annotations; send none",
                           field="annotations")
        starts, ends = parse_am_time(body.startsAt, "startsAt"), parse_am_time(body.endsAt, "endsAt")
        if starts >= ends:
            raise ApiError(400, "invalid", "Failed to create silence: start time must be before end time",
                           field="endsAt")
        if ends < now:
            raise ApiError(400, "invalid", "Failed to create silence: end time can't be in the past", field="endsAt")
        replaced = await _stored(services, body.id) if body.id else None
        try:
            silence = Silence.create(matchers, max(starts, now), ends, body.createdBy.strip(), body.comment, now,
                                     silence_id=new_silence_id())
        except ValueError as exc:
            raise ApiError(400, "invalid", f"Failed to create silence: {exc}") from None
        context = {}
        if replaced is not None:
            context["replaces"] = replaced.id
            if replaced.state(now) != "expired":
                await end_silence(services, replaced.id, principal.name)
        await store_silence(services, silence, principal.name, now, **context)
        return json_response({"silenceID": silence.id})

    return handle


async def _body(request: Request, limit: int) -> AmPostableSilence:
    return decode_model(await read_body(request, limit), AmPostableSilence, am_wording=True)


def _matchers(body: AmPostableSilence) -> list[Matcher]:
    matchers = []
    for n, m in enumerate(body.matchers):
        kind = (MatchType.RE if m.isRegex else MatchType.EQ) if m.isEqual else \
            (MatchType.NRE if m.isRegex else MatchType.NE)
        try:
            matchers.append(Matcher(m.name, kind, m.value))
        except MatcherError as exc:
            raise ApiError(400, "invalid", f"matchers.{n}: {exc}", field=f"matchers.{n}") from None
    if all(m.matches({}) for m in matchers):
        raise ApiError(400, "invalid", "matchers: at least one matcher must not match the empty string "
                       "(a silence of everything)", field="matchers")
    return matchers
