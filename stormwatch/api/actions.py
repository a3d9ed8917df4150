"""Action run routes: list runs (by incident, by state) and decide the ones waiting for approval."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events.builders import action_decided
from stormwatch.api.common import (ActionRuns, ApiError, ApiServices, authorise, instrument, json_response, log,
                                   publish_event, query_choices, query_limit)

STATES = frozenset({"running", "retrying", "succeeded", "failed", "skipped", "rejected", "expired",
                    "pending_approval", "approved"})


def action_routes(services: ApiServices) -> list[Route]:
    routes = [Route("/api/v1/actions", instrument(services, "/api/v1/actions", _list(services)), methods=["GET"]),
              Route("/api/v1/actions/{run}", instrument(services, "/api/v1/actions/{run}", _one(services)),
                    methods=["GET"])]
    for name, decision in (("approve", "approved"), ("reject", "rejected")):
        path = f"/api/v1/actions/{{run}}/{name}"
        routes.append(Route(path, instrument(services, path, _decide(services, decision)), methods=["POST"]))
    return routes


def _state(services: ApiServices) -> ActionRuns:
    assert services.actions is not None
    return services.actions


def _list(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        incident = request.query_params.get("incident") or None
        problem = request.query_params.get("problem") or None
        if incident and problem:
            raise ApiError(400, "bad_query", "problem: give incident or problem, not both", field="problem")
        states = query_choices(request, "state", STATES)
        limit = query_limit(request, 100, 1000)
        # the index holds every run newest first; a state filter reads a bounded window more than it returns
        items = await _state(services).stored_many(incident, limit if not states else min(limit * 10, 5000),
                                                   problem_id=problem, states=states, most=limit)
        return json_response({"items": items})

    return handle


def _one(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        run_id = request.path_params["run"]
        run = await _state(services).load(run_id)
        if run is None:
            raise ApiError(404, "not_found", f"no action run {run_id!r}", field="run")
        return json_response(run.public())

    return handle


def _decide(services: ApiServices, decision: str):
    async def handle(request: Request) -> Response:
        principal = authorise(services, request, "respond")
        run_id = request.path_params["run"]
        result = await _state(services).decide(run_id, decision, principal.name, services.clock())
        if result == "":
            raise ApiError(404, "not_found", f"no action run {run_id!r}", field="run")
        if result != "ok":
            raise ApiError(409, "conflict", f"run {run_id} is not waiting for approval (state: {result})",
                           field="run")
        log.info("action_decided", run_id=run_id, decision=decision, by=principal.name)
        run = await _state(services).run(run_id)
        now = services.clock()
        published = await publish_event(services, action_decided(run_id, decision, run, principal.name, now), run_id)
        return json_response({"run": run, "event_published": published})

    return handle
