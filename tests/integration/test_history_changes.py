"""Changes in the history (docs/changes.md), against SQLite and the real PostgreSQL: the changes an incident's events
carry and their probable-cause links, each written once whatever is redelivered; the review draft lists them;
retention takes them with their incidents; and a real worker's history writer records a change linked live, which
`stormwatch incidents export` shows."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from events import builders
from events.models import event_adapter
from stormwatch.history import migrate, schema
from stormwatch.history.database import open_engine
from stormwatch.history.retention import prune
from stormwatch.history.store import HistoryStore
from stormwatch.reports.review import from_history, markdown
from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, start_api
from tests.integration.helpers import metric, run_cli, v2_alert
from tests.integration.history_support import dump, history_database
from tests.integration.test_history_store import INC, T0, incident
from tests.integration.test_services import write_catalog

pytestmark = pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
OTHER = "INC-5f1c2a9be07d-2"


def link(cid: str, service: str, at: float, relation: str = "same_service", distance: int = 0) -> dict[str, Any]:
    return {"id": cid, "service": service, "summary": f"deploy {cid}", "kind": "deploy", "at": at,
            "environment": "prod", "source": "ci", "links": [{"href": "https://ci.example.com/1", "text": "run 1"}],
            "relation": relation, "distance": distance, "reason": f"deploy of {service} before", "window": ""}


def events() -> list[dict[str, Any]]:
    db, api = link("db-1", "orders-db", T0 - 240), link("api-7", "orders-api", T0 + 5, "symptom")
    return [
        builders.incident_event("m1:5f1c2a9be07d:0", "incident.created", "opened", T0, incident(T0, changes=[db])),
        builders.incident_event(f"{INC}:change:orders-api|api-7", "incident.updated", "change linked", T0 + 6,
                                incident(T0 + 6, changes=[db, api])),
        builders.incident_event("m3:5f1c2a9be07d:0", "incident.resolved", "resolved", T0 + 30,
                                incident(T0 + 30, status="resolved", resolved_at=T0 + 30, changes=[db, api])),
        builders.incident_event("m4:5f1c2a9be07d:0", "incident.created", "opened", T0 + 40,
                                incident(T0 + 40, id=OTHER, created_at=T0 + 40, changes=[db])),
    ]


async def test_changes_and_links_are_written_once_listed_in_the_review_and_pruned(kind, tmp_path) -> None:
    for event in events():
        event_adapter().validate_python(event)  # what the writer gets is the contract's
    async with history_database(kind, tmp_path) as url:
        engine = open_engine(url)
        try:
            await migrate.upgrade(engine)
            store = HistoryStore(engine)
            batch = [(e, None) for e in events()]
            assert (await store.apply(batch)).applied == 4
            before = await dump(engine)
            assert (await store.apply(batch)).repeats == 4  # redelivered: nothing changes
            assert (await store.apply(list(reversed(batch[1:])))).applied == 0
            assert await dump(engine) == before
            assert [(r[0], r[1], r[2]) for r in before["changes"]] == [("orders-api", "api-7", "deploy api-7"),
                                                                       ("orders-db", "db-1", "deploy db-1")]
            assert sorted((r[0], r[2], r[3], r[6]) for r in before["incident_changes"]) == [
                (INC, "api-7", "symptom", T0 + 6), (INC, "db-1", "same_service", T0), (OTHER, "db-1", "same_service",
                                                                                      T0 + 40)]

            review = await from_history(engine, INC)
            assert review is not None
            assert [c["id"] for c in review["probable_causes"]] == ["db-1", "api-7"]  # same service first
            assert review["probable_causes"][0]["links"] == [{"href": "https://ci.example.com/1", "text": "run 1"}]
            assert any(e["what"] == "probable cause" and "orders-db" in e["text"] for e in review["timeline"])
            text = markdown(review)
            assert "## Probable causes (changes)" in text and "- deploy db-1 (deploy of orders-db, " in text

            # INC resolved long ago goes with its links; db-1 stays (OTHER, still open, links it); api-7 goes
            removed = await prune(engine, T0 + 10_000)
            assert removed["incidents"] == 1 and removed["changes"] == 1
            async with engine.connect() as conn:
                left = (await conn.execute(sa.select(schema.incident_changes.c.incident_id,
                                                     schema.incident_changes.c.change_id))).all()
                kept = (await conn.execute(sa.select(schema.changes.c.change_id))).all()
            assert [tuple(r) for r in left] == [(OTHER, "db-1")] and [r[0] for r in kept] == ["db-1"]
        finally:
            await engine.dispose()


async def test_a_change_linked_live_lands_in_the_history_and_the_export(clean, tmp_path, kind) -> None:
    async with history_database(kind, tmp_path) as url:
        settings = clean.model_copy(update={"history_enabled": True, "history_url": url})
        engine = open_engine(url)
        try:
            async for api in start_api(settings, rules=write_catalog(tmp_path / "rules")):
                await eventually(api.worker.history.ready.is_set, what="the history writer started")
                change = {"id": "db-upgrade", "service": "payments-db", "summary": "PostgreSQL 16.2",
                          "kind": "infrastructure", "at": time.time() - 120}
                assert (await api.post("/api/v1/changes", change, token=INGEST)).status_code == 202
                await eventually(lambda: metric(api.worker, "stormwatch_changes_total", {"outcome": "stored"}) == 1,
                                 what="the change stored")
                alert = v2_alert("PostgresDown", "postgres", "pg-1", severity="critical")  # bound to payments-db
                assert (await api.post("/api/v2/alerts", [alert], token=INGEST)).status_code == 200

                async def linked() -> list[Any]:
                    async with engine.connect() as conn:
                        return list((await conn.execute(sa.select(schema.incident_changes))).all())

                (row,) = await eventually(linked, what="the link in the history")
                assert (row.service, row.change_id, row.relation) == ("payments-db", "db-upgrade", "same_service")
                env = {"STORMWATCH_HISTORY_URL": url} if kind == "postgresql" else {
                    "STORMWATCH_HISTORY_PATH": url.removeprefix("sqlite:///")}
                code, out, err = await run_cli(settings, "incidents", "export", row.incident_id, "--format", "json",
                                               env=env)
                assert code == 0, err
                review = orjson.loads(out)
                assert review["source"] == "history"
                assert [(c["id"], c["kind"]) for c in review["probable_causes"]] == [("db-upgrade", "infrastructure")]
        finally:
            await engine.dispose()
