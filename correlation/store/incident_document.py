"""The incident document: one incident as people read it, the same from the API (``GET /api/v1/incidents/{id}``)
and the CLI (``stormwatch incidents show``, either backend): the record, its member alerts and timeline, the
symptoms it explains (alerts of other groups it caused), the changes linked to it as probable causes and its
newest action runs."""

from __future__ import annotations

from typing import Any, Protocol

from correlation.store.changes import ChangeStore
from correlation.store.incident_queries import IncidentQueries
from correlation.store.links import Links

#: how many of the incident's newest action runs the document carries
DOCUMENT_RUNS = 50


class IncidentRuns(Protocol):
    """An incident's action runs as people see them (``actions.state.ActionState``; correlation imports no actions)."""

    async def runs(self, incident_id: str | None = None, limit: int = 100, problem_id: str | None = None
                   ) -> list[dict[str, str]]: ...


async def incident_document(queries: IncidentQueries, links: Links | None, runs: IncidentRuns | None,
                            incident_id: str, changes: ChangeStore | None = None) -> dict[str, Any] | None:
    """The document, or None when there is no such incident. Without ``links`` (or ``runs``, ``changes``) its
    symptoms (or action runs, linked changes) are empty."""
    doc = await queries.detail(incident_id)
    if doc is None:
        return None
    doc["symptoms"] = await links.symptoms(incident_id) if links is not None else []
    doc["changes"] = await changes.linked(incident_id) if changes is not None else []
    doc["actions"] = await runs.runs(incident_id, DOCUMENT_RUNS) if runs is not None else []
    return doc
