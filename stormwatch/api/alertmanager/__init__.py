"""Alertmanager's API v2 over Stormwatch's alerts, incidents, teams and silences (docs/alertmanager-api.md): what
amtool, Grafana and Karma read and silence with. A module per resource; ``alertmanager_routes`` gathers those the
services allow (``POST /api/v2/alerts``, the ingest route, lives in ``stormwatch.api.ingest``)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from stormwatch.api.alertmanager.alerts import am_alert_routes
from stormwatch.api.alertmanager.silences import am_silence_routes
from stormwatch.api.alertmanager.status import am_status_routes
from stormwatch.api.common import ApiServices


def alertmanager_routes(services: ApiServices) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    if services.alerts is not None and services.teams is not None:
        routes += am_alert_routes(services)
        routes += am_status_routes(services)
    if services.silences is not None:
        routes += am_silence_routes(services)
    return routes
