"""Issue 13's ingest probes replayed against a real worker and its HTTP server (RabbitMQ, Redis, uvicorn).

- a captured signed request replayed with a fresh ``Idempotency-Key`` changes nothing and counts as a replay;
- thousands of unique ``source`` values add no series to ``/metrics`` (and ``/metrics`` can have its own token);
- an oversized label is refused naming the field while its neighbour is stored (HTTP and AMQP);
- an event-stream client that stops reading is dropped once its queued bytes pass the budget.
"""

from __future__ import annotations

import asyncio
import socket
import time

import orjson
import structlog

from events.dead_letter import DETAIL_HEADER, INDEX_HEADER, REASON_HEADER
from ingest.topology import Names
from stormwatch.auth import sign
from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, READ, SECRET, start_api
from tests.integration.helpers import drain_queue, metric, publish, stored_alerts, v2_alert


def series(text: str) -> set[str]:
    """The series of a Prometheus exposition: each sample line's name and labels, without its value."""
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


async def test_a_signed_request_replayed_with_fresh_idempotency_keys_changes_nothing(clean):
    async for api in start_api(clean):
        body = orjson.dumps([v2_alert("Signed", "checkout", "pod-1")])
        now = int(time.time())
        signed = {"X-Stormwatch-Signature": sign(SECRET, body, now)}
        answer = await api.post("/api/v2/alerts", body, token=None, headers={**signed, "Idempotency-Key": "first"})
        assert answer.status_code == 200, answer.text
        await eventually(lambda: stored_alerts(api.worker) >= 1, what="the signed alert stored")
        (incident,) = await api.worker.store.list_incidents()

        # the attacker's replay: the captured body and signature, a fresh key each time (not covered by the signature)
        for n in range(3):
            answer = await api.post("/api/v2/alerts", body, token=None,
                                    headers={**signed, "Idempotency-Key": f"fresh-{n}"})
            assert answer.status_code == 200, answer.text
        await eventually(lambda: metric(api.worker, "stormwatch_replays_total") >= 3, what="three replays counted")
        (again,) = await api.worker.store.list_incidents()
        assert again.id == incident.id and again.occurrences == 1

        # after the window the captured request is refused outright
        stale = {"X-Stormwatch-Signature": sign(SECRET, body, now - 301), "Idempotency-Key": "late"}
        answer = await api.post("/api/v2/alerts", body, token=None, headers=stale)
        assert answer.status_code == 401
        # a bearer-token sender's Idempotency-Key still names the message
        for _ in range(2):
            answer = await api.post("/api/v2/alerts", [v2_alert("Keyed", "cart", "pod-2")], token=INGEST,
                                    headers={"Idempotency-Key": "keyed-1"})
            assert answer.status_code == 200
        await eventually(lambda: metric(api.worker, "stormwatch_replays_total") >= 4, what="the keyed repeat")
        assert len(await api.worker.store.list_incidents()) == 2


async def test_thousands_of_unique_sources_add_no_series(clean):
    async for api in start_api(clean):
        async def post_sources(names: list[str]) -> None:
            alerts = [{"labels": {"alertname": "Probe", "service": "svc", "n": name}, "source": name}
                      for name in names]
            answer = await api.post("/api/v1/alerts", alerts, token=INGEST)
            assert answer.status_code == 200, answer.text

        await post_sources(["warm-up"])  # every series the probe can touch exists now
        await eventually(lambda: stored_alerts(api.worker) >= 1, what="the warm-up stored")
        before = (await api.get("/metrics", token=None)).text

        unique = [f"attacker-{n:05d}" for n in range(3000)]
        for start in range(0, len(unique), 250):
            await post_sources(unique[start:start + 250])
        await eventually(lambda: stored_alerts(api.worker) >= 3001, timeout=60, what="3,000 probes stored")
        after = (await api.get("/metrics", token=None)).text

        # exactly the same series: none keyed by a sender's value, none growing with the senders (every series a
        # worker makes on its own timing, e.g. stormwatch_due_fired_total{kind}, exists from the start)
        added, gone = sorted(series(after) - series(before)), sorted(series(before) - series(after))
        assert not added and not gone, f"unique sources changed the series: added {added}, gone {gone}"
        assert "attacker-" not in after  # and the sender's values are not shown to whoever reads /metrics
        assert metric(api.worker, "stormwatch_alerts_received_total", {"source": "other", "format": "generic"}) == 3001


async def test_metrics_can_have_their_own_token(clean):
    token = "metrics-token-0123456789"
    async for api in start_api(clean, metrics_token=token):
        assert (await api.get("/metrics", token=None)).status_code == 401
        assert (await api.get("/metrics", token=READ)).status_code == 401  # an API token is not the metrics token
        answer = await api.get("/metrics", token=token)
        assert answer.status_code == 200 and "stormwatch_ready" in answer.text
        assert metric(api.worker, "stormwatch_auth_refused_total", {"reason": "metrics_token"}) == 2


async def test_an_oversized_label_is_refused_naming_the_field_and_its_neighbour_is_stored(clean):
    async for api in start_api(clean, label_value_max_bytes=1024):
        big = v2_alert("Huge", "checkout", "pod-1")
        big["labels"]["service"] = "x" * 900_000  # the probe: 900 KB in one label
        small = v2_alert("Neighbour", "checkout", "pod-2")
        with structlog.testing.capture_logs() as logs:
            answer = await api.post("/api/v2/alerts", [big, small], token=INGEST)
        assert answer.status_code == 400, answer.text
        doc = answer.json()
        assert doc["accepted"] == 1
        (refused,) = doc["rejected"]
        assert (refused["index"], refused["field"], refused["reason"]) == (0, "[0].labels.service",
                                                                          "label_value_too_long")
        assert "STORMWATCH_LABEL_VALUE_MAX_BYTES" in refused["detail"]
        assert any(e["event"] == "ingest_rejected" and e["reason"] == "label_value_too_long" for e in logs)
        assert metric(api.worker, "stormwatch_ingest_rejected_total",
                      {"format": "alertmanager_v2", "reason": "label_value_too_long"}) == 1
        await eventually(lambda: stored_alerts(api.worker) >= 1, what="the neighbour stored")
        assert [i.title for i in await api.worker.store.list_incidents()] == ["Neighbour / checkout"]

        # the same body straight onto the queue: the big one is dead-lettered with its reason, the other stored
        settings = api.worker.settings
        many = {f"l{n}": "v" for n in range(200)} | {"alertname": "Many"}
        await publish(settings, [orjson.dumps([big, {**small, "labels": {**small["labels"], "instance": "pod-3"}},
                                               {**small, "labels": many}])], message_ids=["m-big"])
        dead: list = []

        async def dead_lettered() -> bool:
            dead.extend(await drain_queue(settings, Names(settings.namespace).dead_queue))
            return len(dead) >= 2

        await eventually(dead_lettered, what="two dead letters")
        by_reason = {m.headers[REASON_HEADER]: m for m in dead}
        assert set(by_reason) == {"label_value_too_long", "too_many_labels"}
        assert by_reason["label_value_too_long"].headers[INDEX_HEADER] == 0
        assert by_reason["label_value_too_long"].headers[DETAIL_HEADER].startswith("[0].labels.service:")
        assert by_reason["too_many_labels"].headers[INDEX_HEADER] == 2
        await eventually(lambda: stored_alerts(api.worker) >= 2, what="the AMQP neighbour stored")
        assert metric(api.worker, "stormwatch_alerts_rejected_total", {"reason": "label_value_too_long"}) == 1


async def _open_stalled_stream(port: int) -> socket.socket:
    """A client that opens the event stream, reads the response head, then reads nothing more."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server's sends block sooner
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    request = f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {READ}\r\n\r\n".encode()
    await loop.sock_sendall(sock, request)
    head = b""
    while b"event: hello" not in head:
        head += await loop.sock_recv(sock, 1024)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return sock


async def test_a_stream_client_that_stops_reading_is_dropped(clean):
    async for api in start_api(clean, stream_client_max_bytes=65_536):
        worker = api.worker
        assert worker.stream is not None and worker.ops is not None
        sock = await _open_stalled_stream(worker.ops.bound_port)
        await eventually(lambda: worker.stream.subscribers == 1, what="the stream subscribed")
        dropped = {"reason": "bytes"}
        with structlog.testing.capture_logs() as logs:
            n = 0

            async def post_until_dropped() -> bool:  # events flow: each new group opens an incident
                nonlocal n
                # the group label (service) is in every incident event, several times
                alerts = [v2_alert("Stall", f"svc-{n}-{i}-" + "s" * 8_000, "pod-1") for i in range(10)]
                n += 1
                answer = await api.post("/api/v2/alerts", alerts, token=INGEST)
                assert answer.status_code == 200, answer.text
                return metric(worker, "stormwatch_stream_clients_dropped_total", dropped) >= 1

            await eventually(post_until_dropped, timeout=60, what="the stalled client dropped")
        assert worker.stream.subscribers == 0
        assert [e["reason"] for e in logs if e["event"] == "stream_client_dropped"] == ["bytes"]

        # the server cuts the connection although the client reads nothing (its send is not left blocked)
        local = sock.getsockname()

        def server_closing() -> bool:
            conns = [c for c in worker.ops.server.server_state.connections
                     if c.transport.get_extra_info("peername") == local]
            return not conns or conns[0].transport.is_closing()

        await eventually(server_closing, what="the server closing the stalled connection")
        loop = asyncio.get_running_loop()

        async def read_to_eof() -> int:
            total = 0
            while chunk := await loop.sock_recv(sock, 65_536):
                total += len(chunk)
            return total

        await asyncio.wait_for(read_to_eof(), 30)
        sock.close()
        assert metric(worker, "stormwatch_stream_clients_dropped_total", dropped) == 1
