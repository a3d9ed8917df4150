"""Probable cause: which recent changes may explain an incident, ranked, each with its reason in words. Pure.

An incident looks at changes on (``docs/changes.md``):

* its own service (``same_service``, distance 0);
* every service its service depends on, directly or not (``dependency``, distance along ``depends_on``);
* the services of its symptoms (``symptom``: alerts of other groups attached to it).

A change counts when it happened within the look-back before the incident opened (``change_lookback``, default
2h), or after that while the incident is open (a change arriving later for an affected service is linked then).
Ranked: same service first, then by dependency distance, then symptoms, then the most recent first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from correlation.core.catalog import Catalog

#: the default look-back of a group rule's ``change_lookback``
DEFAULT_LOOKBACK = 2 * 3600.0
_RELATION_ORDER = {"same_service": 0, "dependency": 1, "symptom": 2}


@dataclass(frozen=True, slots=True)
class Watched:
    """A service whose changes may explain the incident, and how it relates to the incident's service."""

    relation: str  # same_service | dependency | symptom
    distance: int
    path: tuple[str, ...] = ()  # the incident's service -> ... -> this one (dependencies)


def watched_services(catalog: Catalog, service: str, symptom_services: Iterable[str] = ()) -> dict[str, Watched]:
    """The services an incident on ``service`` (with symptoms on ``symptom_services``) takes changes from."""
    out: dict[str, Watched] = {}
    if service:
        paths: dict[str, tuple[str, ...]] = {service: (service,)}
        for name, distance in sorted(catalog.downstream(service).items(), key=lambda kv: kv[1]):
            if name != service:
                parent = next((p for p in paths if name in catalog.dependencies(p) and len(paths[p]) == distance),
                              service)
                paths[name] = (*paths[parent], name)
            out[name] = Watched("same_service" if distance == 0 else "dependency", distance, paths[name])
    for name in sorted(set(symptom_services)):
        if name and name not in out:
            out[name] = Watched("symptom", 0, (name,))
    return out


def _ago(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def reason(change: Mapping[str, Any], watched: Watched, incident_service: str, opened_at: float) -> str:
    """Why a change is linked, in words: "deploy of payments-db 4m before; payments-api depends on payments-db"."""
    delta = opened_at - float(change["at"])
    when = f"{_ago(delta)} before" if delta >= 0 else f"{_ago(delta)} after the incident opened"
    head = f"{change.get('kind', 'change')} of {change['service']} {when}"
    if watched.relation == "same_service":
        return f"{head}; the incident's own service"
    if watched.relation == "dependency":
        via = f" (via {', '.join(watched.path[1:-1])})" if len(watched.path) > 2 else ""
        return f"{head}; {incident_service} depends on {change['service']}{via}"
    return f"{head}; {change['service']} alerts are symptoms of this incident"


def link(change: Mapping[str, Any], watched: Watched, incident_service: str, opened_at: float) -> dict[str, Any]:
    """The link an incident records for one change (``events.models.ChangeLinkDoc``)."""
    return {
        "id": change["id"], "service": change["service"], "summary": change["summary"],
        "kind": change.get("kind", "deploy"), "at": float(change["at"]),
        "environment": change.get("environment", ""), "source": change.get("source", ""),
        "links": list(change.get("links") or []), "relation": watched.relation, "distance": watched.distance,
        "reason": reason(change, watched, incident_service, opened_at), "window": change.get("window", ""),
    }


def in_reach(change_at: float, opened_at: float, lookback: float, resolved_at: float | None = None) -> bool:
    """Whether a change is within an incident's look-back (or happened while it was open)."""
    return change_at >= opened_at - lookback and (resolved_at is None or change_at <= resolved_at)


def probable_causes(catalog: Catalog, service: str, symptom_services: Iterable[str], opened_at: float,
                    lookback: float, changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The links of the ``changes`` (documents of ``events.changes.Change``) that may explain an incident, ranked."""
    watched = watched_services(catalog, service, symptom_services)
    links = [link(c, watched[c["service"]], service, opened_at) for c in changes
             if c.get("service") in watched and in_reach(float(c["at"]), opened_at, lookback)]
    return rank(links)


def rank(links: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Same service first, then by dependency distance, then symptoms, then the most recent first; one per change."""
    unique = {(x["service"], x["id"]): dict(x) for x in links}
    return sorted(unique.values(), key=lambda x: (_RELATION_ORDER[x["relation"]], x["distance"], -x["at"], x["id"]))
