"""Alertmanager API v2 ``GET /api/v2/status`` (amtool's ``cluster show`` and ``config show``) and
``GET /api/v2/receivers``.

* ``cluster``: this worker. Stormwatch workers share Redis and RabbitMQ rather than gossiping, so there is no peer
  list: ``peers`` holds this node only (``name`` its host name, ``address`` the HTTP address it answered on);
  ``status`` is ``ready`` when its readiness checks (/readyz) pass, else ``settling``.
* ``versionInfo``: Stormwatch's version; no revision, branch or build data (``unknown``); ``goVersion`` says Python.
* ``config.original``: a YAML summary of the running rule set, the document of ``GET /api/v1/rules`` (rule files,
  group rules and their teams, counts, the actions mode), not the rule files themselves (they may hold action
  endpoints and secrets' names).
* ``uptime``: when this server started.
* receivers: the teams (``stormwatch.team_directory``); a team has no labels, so ``receiver_matchers`` matches as
  against an empty label set.
"""

from __future__ import annotations

import platform
import socket

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rules.matchers import matches_all
from stormwatch.api.alertmanager.common import UNKNOWN, Query, am_route, am_time
from stormwatch.api.common import ApiServices, authorise, json_response, stormwatch_version


def am_status_routes(services: ApiServices) -> list[Route]:
    started = services.clock()
    node = socket.gethostname()
    version_info = {"version": stormwatch_version(), "revision": UNKNOWN, "branch": UNKNOWN, "buildUser": UNKNOWN,
                    "buildDate": UNKNOWN, "goVersion": f"python{platform.python_version()}"}

    async def status(request: Request) -> Response:
        authorise(services, request, "read")
        ready = all((await services.readiness()).values())
        host, port = request.scope.get("server") or ("", 0)
        summary = services.rules.rules_summary() if services.rules is not None else {}
        return json_response({
            "cluster": {"name": node, "status": "ready" if ready else "settling",
                        "peers": [{"name": node, "address": f"{host}:{port}"}]},
            "versionInfo": version_info,
            "config": {"original": yaml.safe_dump(summary, sort_keys=False, allow_unicode=True)},
            "uptime": am_time(started),
        })

    async def receivers(request: Request) -> Response:
        authorise(services, request, "read")
        matched = matches_all(Query(request).matchers("receiver_matchers"), {})
        teams = services.teams.teams() if services.teams is not None and matched else []
        return json_response([{"name": team} for team in teams])

    return [
        Route("/api/v2/status", am_route(services, "/api/v2/status", status), methods=["GET"]),
        Route("/api/v2/receivers", am_route(services, "/api/v2/receivers", receivers), methods=["GET"]),
    ]
