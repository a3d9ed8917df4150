"""The service catalog as people read it, the same from the API (``GET /api/v1/services``, ``/services/{name}``,
``/business-services``) and the CLI (``stormwatch services``, either backend): each catalog entry with its
dependencies both ways, its open incidents and its health, computed from those incidents on every read
(``correlation.core.catalog.service_health``), never stored."""

from __future__ import annotations

from typing import Any

from correlation.core.catalog import OPERATIONAL, Catalog, service_health
from correlation.store.incident_queries import IncidentFilter, IncidentQueries

#: open incidents read to compute health (newest first); a catalog view past this many says so (``truncated``)
OPEN_INCIDENTS_READ = 5000
_OPEN = IncidentFilter(frozenset({"open", "acknowledged"}))
_INCIDENT_FIELDS = ("id", "title", "status", "priority", "team", "service", "binding", "business_services",
                    "created_at")


async def open_incidents(queries: IncidentQueries) -> tuple[list[dict[str, Any]], bool]:
    """The open incidents (newest first, at most ``OPEN_INCIDENTS_READ``) and whether there were more."""
    items, cursor = await queries.page(_OPEN, limit=OPEN_INCIDENTS_READ)
    return items, cursor is not None


def _brief(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: doc.get(name) for name in _INCIDENT_FIELDS}


def service_entry(catalog: Catalog, name: str, incidents: list[dict[str, Any]], health: dict[str, str]
                  ) -> dict[str, Any]:
    entry = catalog.services.get(name)
    return {
        "name": name,
        "known": entry is not None,  # False: named by alerts (their service label) but not in the catalog
        "description": entry.description if entry else "",
        "owner": (entry.owner or "") if entry else "",
        "tier": entry.tier if entry else None,
        "business_services": list(entry.business_services) if entry else [],
        "affects": list(catalog.impact(name)),
        "links": entry.links.model_dump() if entry else {},
        "support_hours": (entry.support_hours or "") if entry else "",
        "depends_on": list(catalog.dependencies(name)),
        "dependants": list(catalog.dependants(name)),
        "health": health.get(name, OPERATIONAL),
        "open_incidents": [_brief(d) for d in incidents if d.get("service") == name],
    }


def services_overview(catalog: Catalog, incidents: list[dict[str, Any]], truncated: bool = False
                      ) -> dict[str, Any]:
    """Every catalog service, and every service open incidents are bound to that the catalog lacks, by name."""
    health, _ = service_health(incidents)
    names = sorted(set(catalog.services) | {d["service"] for d in incidents if d.get("service")})
    return {"items": [service_entry(catalog, n, incidents, health) for n in names], "truncated": truncated}


def service_detail(catalog: Catalog, name: str, incidents: list[dict[str, Any]],
                   changes: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """One service with its recent ``changes`` (newest first), or None when neither the catalog, an open incident
    nor a change knows it."""
    if name not in catalog.services and not any(d.get("service") == name for d in incidents) and not changes:
        return None
    health, _ = service_health(incidents)
    return {**service_entry(catalog, name, incidents, health), "changes": changes or []}


def business_overview(catalog: Catalog, incidents: list[dict[str, Any]], truncated: bool = False
                      ) -> dict[str, Any]:
    """Every business service of the catalog: its owner, the services supporting it, its health and incidents."""
    _, by_business = service_health(incidents)
    items = []
    for name, entry in sorted(catalog.topology.business_services.items()):
        supporting = catalog.supporting(name)
        affecting = [_brief(d) for d in incidents if name in (d.get("business_services") or ())]
        items.append({
            "name": name, "description": entry.description, "owner": entry.owner or "",
            "services": list(supporting),
            "health": by_business.get(name, OPERATIONAL),
            "open_incidents": affecting,
        })
    return {"items": items, "truncated": truncated}
