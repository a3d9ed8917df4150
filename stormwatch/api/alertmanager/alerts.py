"""Alertmanager API v2 alerts: ``GET /api/v2/alerts`` and ``GET /api/v2/alerts/groups`` (``POST /api/v2/alerts``
is the ingest route, ``stormwatch.api.ingest``).

The alerts are those firing now (``correlation.store.alert_queries``). Their status is what Stormwatch decided at the
alert's last notification (``AlertState.muted``), in Alertmanager's words (docs/alertmanager-api.md):

* ``silence:<id>``, ``maintenance:<window>`` and ``change:<id>`` (a change window, docs/changes.md): suppressed,
  ``silencedBy`` the silence id, ``maintenance:<name>`` or ``change:<id>``;
* ``inhibited:<rule>`` and ``topology:<a>><b>`` (a symptom of a cause elsewhere): suppressed, ``inhibitedBy`` the
  cause's incident id; ``hold:<s>`` (waiting for a cause): suppressed, ``inhibitedBy`` ``hold:<s>``;
* anything else (in an incident, or held back by its rule's threshold): active.

A group is an incident (its group labels, its team as the receiver); alerts outside any open incident are grouped
as their rule would group them. A receiver is a team (``stormwatch.team_directory``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from correlation.core.change_windows import CHANGE_REASON
from correlation.core.model import AlertState
from rules.matchers import Matcher, MatcherError, MatchType, matches_all
from stormwatch.api.alertmanager.common import Query, am_route, am_time
from stormwatch.api.common import ApiError, ApiServices, authorise, json_response

#: Alertmanager stamps endsAt = updatedAt + resolve_timeout (default 5m) on an alert whose sender gave none
DEFAULT_RESOLVE_TIMEOUT = 300.0
SILENCED = ("silence:", "maintenance:", CHANGE_REASON)
INHIBITED = ("inhibited:", "topology:", "hold:")


def am_alert_routes(services: ApiServices) -> list[Route]:
    return [
        Route("/api/v2/alerts", am_route(services, "/api/v2/alerts", _alerts(services)), methods=["GET"]),
        Route("/api/v2/alerts/groups", am_route(services, "/api/v2/alerts/groups", _groups(services)),
              methods=["GET"]),
    ]


def am_status(alert: AlertState) -> dict[str, Any]:
    muted = alert.muted
    silenced = [muted.removeprefix("silence:")] if muted.startswith(SILENCED) else []
    inhibited = [alert.cause or muted] if muted.startswith(INHIBITED) else []
    return {"state": "suppressed" if silenced or inhibited else "active", "silencedBy": silenced,
            "inhibitedBy": inhibited, "mutedBy": []}


def am_alert(alert: AlertState, receivers: list[str]) -> dict[str, Any]:
    ends = alert.ends_at if alert.ends_at is not None else alert.expires_at
    return {
        "labels": alert.labels, "annotations": alert.annotations, "receivers": [{"name": r} for r in receivers],
        "fingerprint": alert.fingerprint, "startsAt": am_time(alert.starts_at), "updatedAt": am_time(alert.last_seen),
        "endsAt": am_time(ends if ends is not None else alert.last_seen + DEFAULT_RESOLVE_TIMEOUT),
        "generatorURL": alert.generator_url, "status": am_status(alert),
    }


class Selection:
    """The query parameters both routes share: filter, active, silenced, inhibited, unprocessed (accepted; no
    Stormwatch alert is ever unprocessed: an alert not yet decided is still in RabbitMQ, not in the store),
    receiver (an anchored regex over team names), receiver_matchers (teams carry no labels: matched against an
    empty label set)."""

    def __init__(self, query: Query) -> None:
        self.matchers = query.matchers("filter")
        self.active, self.silenced, self.inhibited = query.flag("active"), query.flag("silenced"), \
            query.flag("inhibited")
        query.flag("unprocessed")
        receiver = query.text("receiver")
        try:
            self.receiver = Matcher("receiver", MatchType.RE, receiver) if receiver else None
        except MatcherError as exc:
            raise ApiError(400, "bad_query", f"failed to parse receiver param: {exc}", field="receiver") from None
        self.receivers_match = matches_all(query.matchers("receiver_matchers"), {})

    def team(self, team: str) -> bool:
        return self.receivers_match and (self.receiver is None or self.receiver.matches({"receiver": team}))

    def alert(self, alert: dict[str, Any]) -> bool:
        status = alert["status"]
        return ((self.active or status["state"] != "active") and (self.silenced or not status["silencedBy"])
                and (self.inhibited or not status["inhibitedBy"]))


async def _firing(services: ApiServices, selection: Selection) -> list[tuple[AlertState, dict[str, Any] | None]]:
    """Firing alerts passing the label filter, each with its open incident (None when in none)."""
    alerts = [a for a in await services.alerts.firing()  # type: ignore[union-attr]
              if matches_all(selection.matchers, a.labels)]
    incidents = await services.alerts.incidents({a.incident for a in alerts})  # type: ignore[union-attr]
    out = []
    for alert in alerts:
        incident = incidents.get(alert.incident)
        out.append((alert, incident if incident is not None and incident["status"] != "resolved" else None))
    return out


def _team(services: ApiServices, alert: AlertState, incident: dict[str, Any] | None) -> str:
    if incident is not None and incident["team"]:
        return str(incident["team"])
    return services.teams.team_of(alert.labels)  # type: ignore[union-attr]


def _alerts(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        selection = Selection(Query(request))
        found = []
        for alert, incident in await _firing(services, selection):
            team = _team(services, alert, incident)
            doc = am_alert(alert, [team])
            if selection.team(team) and selection.alert(doc):
                found.append(doc)
        return json_response(found)

    return handle


def _groups(services: ApiServices):
    async def handle(request: Request) -> Response:
        authorise(services, request, "read")
        query = Query(request)
        selection, muted = Selection(query), query.flag("muted")
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        for alert, incident in await _firing(services, selection):
            team = _team(services, alert, incident)
            doc = am_alert(alert, [team])
            if not (selection.team(team) and selection.alert(doc)):
                continue
            if incident is not None:
                key: tuple[Any, ...] = ("incident", incident["id"])
                labels = incident["group_labels"]
            else:
                labels = services.teams.group_labels(alert.labels)  # type: ignore[union-attr]
                key = ("group", team, tuple(sorted(labels.items())))
            group = groups.setdefault(key, {"labels": labels, "routeLabels": {}, "receiver": {"name": team},
                                            "alerts": []})
            group["alerts"].append(doc)
        answer = [g for g in groups.values()
                  if muted or any(a["status"]["state"] == "active" for a in g["alerts"])]
        answer.sort(key=lambda g: (g["receiver"]["name"], sorted(g["labels"].items())))
        return json_response(answer)

    return handle
