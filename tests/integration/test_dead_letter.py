"""Bad input is dead-lettered with a reason header; the good alerts beside it still land."""

from __future__ import annotations

import aio_pika
import orjson

from events.dead_letter import DETAIL_HEADER, INDEX_HEADER, REASON_HEADER
from ingest.topology import FORMAT_HEADER, Names
from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.helpers import drain_queue, metric, v2_alert


async def _dead_letters(settings, n: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    collected: list = []

    async def enough():
        collected.extend(await drain_queue(settings, Names(settings.namespace).dead_queue))
        return len(collected) >= n

    await eventually(enough, what=f"{n} dead letters")
    return collected


async def test_bad_bodies_and_items_are_dead_lettered_with_reasons(clean):
    settings = clean.model_copy(update={"max_body_bytes": 4096})
    worker = Worker(settings)
    await worker.start()
    try:
        good = v2_alert("HighLatency", "checkout", "pod-1")
        bad_name = v2_alert("HighLatency", "checkout", "pod-2")
        bad_name["labels"]["bad_NAME"] = "x"  # made a name that is not UTF-8 below
        no_labels = {"labels": {"alertname": ""}, "startsAt": "2026-11-21T10:00:00Z"}
        bad_time = v2_alert("HighLatency", "checkout", "pod-3")
        bad_time["startsAt"] = "yesterday"
        bodies = [
            (b"{not json", {}),
            (orjson.dumps({"hello": "world"}), {}),
            (orjson.dumps([good, bad_name, no_labels, bad_time]).replace(b"bad_NAME", b"bad\xffname"), {}),
            (orjson.dumps([v2_alert("Big", "svc", "i", severity="x" * 5000)]), {}),
            (orjson.dumps([good]), {FORMAT_HEADER: "smoke-signals"}),
        ]
        connection = await aio_pika.connect(settings.amqp_url)
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(settings.namespace).alerts_exchange)
        for i, (b, headers) in enumerate(bodies):
            await exchange.publish(aio_pika.Message(b, headers=headers, message_id=f"m{i}"), routing_key="src.x")
        await connection.close()

        dead = await _dead_letters(settings, 7)
        reasons = sorted(m.headers[REASON_HEADER] for m in dead)
        assert reasons == sorted(["invalid_json", "unknown_format", "label_name", "no_labels", "time",
                                  "too_large", "unknown_format"])
        by_reason = {m.headers[REASON_HEADER]: m for m in dead}
        item = by_reason["label_name"]
        assert item.headers[INDEX_HEADER] == 1
        assert "'bad\\udcffname' is not valid UTF-8" in item.headers[DETAIL_HEADER]
        assert orjson.loads(item.body)["labels"]["bad?name"] == "x"  # the rejected item itself (the byte shown as ?)
        assert item.headers["x-stormwatch-message-id"] == "m2"
        assert by_reason["time"].headers[INDEX_HEADER] == 3
        assert by_reason["invalid_json"].body == b"{not json"

        # the good alert of the mixed batch landed; the worker is alive and counts the rejections
        await eventually(lambda: metric(worker, "stormwatch_batch_messages_sum") >= 5, what="all messages acked")
        incidents = await worker.store.list_incidents()
        assert [i.title for i in incidents] == ["HighLatency / checkout"]
        (alert,) = await worker.store.incident_alerts(incidents[0].id)
        assert alert.labels["instance"] == "pod-1"
        assert metric(worker, "stormwatch_alerts_rejected_total", {"reason": "label_name"}) == 1
        assert metric(worker, "stormwatch_alerts_rejected_total", {"reason": "too_large"}) == 1
        assert metric(worker, "stormwatch_alerts_received_total", {"source": "prometheus", "format": "alertmanager_v2"}) == 1
        assert (await worker.readiness())["consumer"]
    finally:
        await worker.stop()
