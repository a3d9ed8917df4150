"""Probable causes through a topology bound by the catalog, against the real RabbitMQ and Redis (docs/changes.md,
docs/services.md): an alert bound by a binding rule (no service label naming it) is the cause its dependants roll up
into; a symptom's service brings its recent changes to the cause's incident; and once an incident has changes, every
event about it carries them (the engine's updates, people's commands)."""

from __future__ import annotations

import time

from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, RESPOND, EventTap, start_api
from tests.integration.helpers import metric, v2_alert
from tests.integration.test_services import write_catalog


def _change(cid: str, service: str, minutes_ago: float) -> dict:
    return {"id": cid, "service": service, "summary": f"deploy {cid}", "at": time.time() - 60 * minutes_ago}


async def test_symptoms_bound_by_the_catalog_bring_their_changes_and_every_later_event_carries_them(clean, tmp_path):
    async for api in start_api(clean, rules=write_catalog(tmp_path / "rules")):
        tap = await EventTap(clean).start()
        try:
            assert (await api.post("/api/v1/changes", _change("checkout-v9", "checkout", 3),
                                   token=INGEST)).status_code == 202
            await eventually(lambda: metric(api.worker, "stormwatch_changes_total", {"outcome": "stored"}) == 1,
                             what="the change stored")
            # bound to payments-db by the pg-hosts rule: its label says "postgres", which the topology does not know
            db_alert = v2_alert("PostgresDown", "postgres", "pg-1", severity="critical")
            assert (await api.post("/api/v2/alerts", [db_alert], token=INGEST)).status_code == 200

            async def events_of(kind: str, *, with_changes: bool = False) -> list[dict]:
                await tap.types()
                return [e for e in tap.seen if e["type"] == kind and (e["incident"].get("changes") or not with_changes)]

            (created,) = await eventually(lambda: events_of("incident.created"), what="the database incident")
            db = created["incident"]
            assert (db["service"], db["binding"]) == ("payments-db", "binding:pg-hosts")
            assert "changes" not in db  # checkout's change is not on anything payments-db watches

            # checkout depends on payments-api, which depends on payments-db: a symptom of the database incident
            symptom = v2_alert("SlowCheckout", "checkout", "web-1", severity="warning")
            assert (await api.post("/api/v2/alerts", [symptom], token=INGEST)).status_code == 200
            linked = await eventually(lambda: events_of("incident.updated", with_changes=True),
                                      what="incident.updated with the symptom's change")
            assert linked[0]["incident"]["id"] == db["id"]
            (link,) = linked[0]["incident"]["changes"]
            assert (link["id"], link["relation"]) == ("checkout-v9", "symptom")
            assert link["reason"].endswith("checkout alerts are symptoms of this incident")
            doc = (await api.get(f"/api/v1/incidents/{db['id']}")).json()
            assert [s["path"] for s in doc["symptoms"]] == [["checkout", "payments-api", "payments-db"]]
            assert [c["id"] for c in doc["changes"]] == ["checkout-v9"]
            assert len((await api.get("/api/v1/incidents?status=open")).json()["items"]) == 1

            # a second database alert joins: the engine's incident.updated carries the changes
            before = len(await events_of("incident.updated"))
            more = v2_alert("PostgresDown", "postgres", "pg-2", severity="critical")
            assert (await api.post("/api/v2/alerts", [more], token=INGEST)).status_code == 200

            async def joined() -> dict | None:
                updates = (await events_of("incident.updated"))[before:]
                return next((e for e in updates if e["incident"]["alerts"] == 2), None)

            event = await eventually(joined, what="the engine's incident.updated")
            assert [c["id"] for c in event["incident"]["changes"]] == ["checkout-v9"]

            # and so does a person's command
            answer = await api.post(f"/api/v1/incidents/{db['id']}/acknowledge", None, token=RESPOND)
            assert answer.status_code == 200
            (acked,) = await eventually(lambda: events_of("incident.acknowledged"), what="incident.acknowledged")
            assert [c["id"] for c in acked["incident"]["changes"]] == ["checkout-v9"]
        finally:
            await tap.close()
