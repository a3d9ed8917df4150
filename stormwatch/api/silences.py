"""Silence routes over correlation.store.silences.SilenceStore (the same store the CLI and the workers use)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from correlation.store.incident_queries import IncidentFilter
from correlation.core.muting import Silence
from correlation.store.silences import new_silence_id
from events.builders import silence_created, silence_expired
from rules.matchers import Matcher, MatcherError, matches_all, parse_matcher
from rules.schema import parse_duration
from stormwatch.api.common import (ApiError, ApiServices, authorise, instrument, json_response, log, parse_model,
                                   publish_event)
from stormwatch.api.schemas import PreviewBody, SilenceBody

PREVIEW_INCIDENTS = 200  # open incidents scanned by a preview, newest first


def silence_routes(services: ApiServices) -> list[Route]:
    return [
        Route("/api/v1/silences", instrument(services, "/api/v1/silences", _list(services)), methods=["GET"]),
        Route("/api/v1/silences", instrument(services, "/api/v1/silences", _create(services)), methods=["POST"]),
        Route("/api/v1/silences/preview", instrument(services, "/api/v1/silences/preview", _preview(services)),
              methods=["POST"]),
        Route("/api/v1/silences/{id}", instrument(services, "/api/v1/silences/{id}", _expire(services)),
              methods=["DELETE"]),
    ]


def _list(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        now = services.clock()
        include_expired = request.query_params.get("expired", "false").lower() in ("1", "true", "yes")
        silences = await services.silences.all()  # type: ignore[union-attr]
        return json_response([s.public(now) for s in silences if include_expired or s.state(now) != "expired"])

    return handle


def _create(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        body = await parse_model(request, SilenceBody)
        now = services.clock()
        matchers = _matchers(body.matchers)
        starts, ends = time_span(body.starts_at, body.ends_at, body.duration, now)
        try:
            silence = Silence.create(matchers, starts, ends, principal.name, body.comment, now,
                                     silence_id=new_silence_id())
        except ValueError as exc:  # "starts_at: ..." / "ends_at: ..." (a duration past the year 9999), or the order
            text = str(exc) if str(exc).startswith(("starts_at:", "ends_at:")) else f"ends_at: {exc}"
            raise ApiError(422, "invalid", text, field=text.partition(":")[0]) from None
        return json_response(await store_silence(services, silence, principal.name, now), 201)

    return handle


async def store_silence(services: ApiServices, silence: Silence, by: str, now: float, **context: str
                        ) -> dict[str, Any]:
    """Store a new silence and announce it (log line, ``silence.created`` event): the one way a silence is made
    through the API, whichever API (v1 or Alertmanager's v2). Returns its public form."""
    await services.silences.add(silence)  # type: ignore[union-attr]
    log.info("silence_created", silence_id=silence.id, by=by, **context)
    doc = silence.public(now)
    await publish_event(services, silence_created(doc, by, now, silence.comment), silence.id)
    return doc


async def end_silence(services: ApiServices, silence_id: str, by: str) -> Silence | None:
    """Expire a silence now and announce it (log line, ``silence.expired`` event); None when there is no such
    silence. One already expired stays as it is, announced again (the v1 API's behaviour)."""
    now = services.clock()
    silence = await services.silences.expire(silence_id, now)  # type: ignore[union-attr]
    if silence is None:
        return None
    log.info("silence_expired", silence_id=silence_id, by=by)
    await publish_event(services, silence_expired(silence.public(now), by, now), silence_id)
    return silence


def time_span(starts_at: float | None, ends_at: float | None, duration: str | None, now: float
              ) -> tuple[float, float]:
    """(start, end) of a silence or a change window: from ``starts_at`` (default now) to ``ends_at``, or for
    ``duration``; 422 naming ``duration`` when neither is given or the duration is not one."""
    starts = starts_at if starts_at is not None else now
    if ends_at is not None:
        return starts, ends_at
    if duration is None:
        raise ApiError(422, "invalid", "duration: give duration or ends_at", field="duration")
    try:
        return starts, starts + parse_duration(duration)
    except ValueError as exc:
        raise ApiError(422, "invalid", f"duration: {exc}", field="duration") from None


def _matchers(texts: list[str]) -> list[Matcher]:
    matchers = []
    for n, text in enumerate(texts):
        try:
            matchers.append(parse_matcher(text))
        except MatcherError as exc:
            raise ApiError(422, "invalid", f"matchers.{n}: {exc}", field=f"matchers.{n}") from None
    return matchers


def _preview(services: ApiServices):
    """Which firing alerts of the open incidents (newest PREVIEW_INCIDENTS) these matchers would mute."""

    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        matchers = _matchers((await parse_model(request, PreviewBody)).matchers)
        queries = services.queries
        if queries is None:
            raise ApiError(404, "not_found", "no incident store on this server")
        incidents, more = await queries.page(IncidentFilter(frozenset({"open", "acknowledged"})),
                                             limit=PREVIEW_INCIDENTS)
        matched = []
        for incident in incidents:
            detail = await queries.detail(incident["id"], timeline_limit=1)
            for alert in detail["members"] if detail is not None else []:
                if alert["status"] == "firing" and matches_all(matchers, alert["labels"]):
                    matched.append({"incident": incident["id"], "fingerprint": alert["fingerprint"],
                                    "labels": alert["labels"], "status": alert["status"]})
        return json_response({"matched": matched, "incidents_scanned": len(incidents), "truncated": more is not None})

    return handle


def _expire(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        silence_id = request.path_params["id"]
        silence = await end_silence(services, silence_id, principal.name)
        if silence is None:
            raise ApiError(404, "not_found", f"no silence {silence_id!r}", field="id")
        return json_response(silence.public(services.clock()))

    return handle
