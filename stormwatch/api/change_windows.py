"""Change window routes over correlation.store.change_windows.ChangeWindowStore (docs/changes.md): list, schedule
(role respond), end now."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from correlation.core.change_windows import ChangeWindow
from correlation.store.change_windows import new_window_id
from stormwatch.api.common import ApiError, ApiServices, authorise, instrument, json_response, log, parse_model
from stormwatch.api.schemas import ChangeWindowBody
from stormwatch.api.silences import _matchers, time_span


def change_window_routes(services: ApiServices) -> list[Route]:
    path = "/api/v1/change-windows"
    return [
        Route(path, instrument(services, path, _list(services)), methods=["GET"]),
        Route(path, instrument(services, path, _create(services)), methods=["POST"]),
        Route(path + "/{id}", instrument(services, path + "/{id}", _expire(services)), methods=["DELETE"]),
    ]


def _list(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        now = services.clock()
        include_expired = request.query_params.get("expired", "false").lower() in ("1", "true", "yes")
        windows = await services.change_windows.all()  # type: ignore[union-attr]
        return json_response([w.public(now) for w in windows if include_expired or w.state(now) != "expired"])

    return handle


def _create(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        body = await parse_model(request, ChangeWindowBody)
        now = services.clock()
        starts, ends = time_span(body.starts_at, body.ends_at, body.duration, now)
        try:
            window = ChangeWindow.create(new_window_id(), starts, ends, mode=body.mode, services=body.services,
                                         matchers=_matchers(body.matchers), summary=body.summary,
                                         created_by=principal.name, now=now)
        except ValueError as exc:
            field = str(exc).partition(":")[0]
            raise ApiError(422, "invalid", str(exc), field=field) from None
        await services.change_windows.add(window)  # type: ignore[union-attr]
        log.info("change_window_created", window_id=window.id, by=principal.name, mode=window.mode)
        return json_response(window.public(now), 201)

    return handle


def _expire(services: ApiServices):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        now = services.clock()
        window = await services.change_windows.expire(request.path_params["id"], now)  # type: ignore[union-attr]
        if window is None:
            raise ApiError(404, "not_found", f"no change window {request.path_params['id']!r}", field="id")
        log.info("change_window_ended", window_id=window.id, by=principal.name)
        return json_response(window.public(now))

    return handle
