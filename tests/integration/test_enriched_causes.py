"""Labels that enrichment adds take part in inhibition and topology like labels the alert came with.

A CMDB-style lookup fills in ``service`` from ``host``; the topology says checkout depends on orders-db. The
checkout alert carries no ``service`` of its own, yet it is a symptom of the database incident."""

from __future__ import annotations

import orjson

from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.helpers import publish, stored_alerts

RULES = """
enrichment:
  - name: cmdb
    lookup:
      from_label: host
      table:
        db-1:  {labels: {service: orders-db}}
        web-1: {labels: {service: checkout}}
topology:
  service_label: service
  services:
    orders-db: {}
    checkout: {depends_on: [orders-db]}
groups:
  - name: by-service
    match: ['alertname=~".+"']
    group_by: [service]
"""


def alert(name: str, host: str) -> dict:
    return {"labels": {"alertname": name, "host": host, "severity": "critical"}, "startsAt": "2026-11-21T10:00:00Z"}


async def test_a_label_added_by_enrichment_finds_the_cause(clean, tmp_path):
    (tmp_path / "rules.yaml").write_text(RULES)
    worker = Worker(clean.model_copy(update={"rules": str(tmp_path)}))
    await worker.start()
    try:
        await publish(clean, [orjson.dumps([alert("PostgresDown", "db-1")])])
        await eventually(lambda: stored_alerts(worker) >= 1, what="the database alert stored")
        await publish(clean, [orjson.dumps([alert("HighErrorRate", "web-1")])])
        await eventually(lambda: stored_alerts(worker) >= 2, what="the checkout alert stored")

        (incident,) = await worker.store.list_incidents()  # the checkout alert paged nobody
        assert incident.group_labels == {"service": "orders-db"}
        symptoms = await worker.pipeline.links.symptoms(incident.id)
        assert [(s["labels"]["service"], s["kind"], s["path"]) for s in symptoms] == [
            ("checkout", "topology", ["checkout", "orders-db"])]
    finally:
        await worker.stop()
