"""The console's static files, the live event stream and the silence preview, over real HTTP against the real
worker, Redis and RabbitMQ."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.integration.api_helpers import INGEST, READ, RESPOND, bearer, start_api
from tests.integration.test_http_incidents import one_incident

WAIT = 20.0  # a bound on waiting for a frame that must come, not a timing assertion


@pytest.fixture
async def api(clean):
    async for api in start_api(clean):
        yield api


async def test_the_console_is_served_without_a_token_but_no_data_is(api):
    root = await api.client.get("/")
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    page = await api.client.get("/console/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script type="module" src="app.js">' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, kind in (("app.js", "javascript"), ("api.js", "javascript"), ("console.css", "text/css")):
        asset = await api.client.get(f"/console/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"], name
    assert (await api.client.get("/console/../stormwatch/auth.py")).status_code == 404
    assert (await api.client.get("/console/nope.js")).status_code == 404
    assert (await api.client.get("/api/v1/incidents")).status_code == 401
    assert (await api.client.get("/api/v1/stream")).status_code == 401


async def _frames(lines: Any) -> Any:
    """(event, data) per Server-Sent Events frame read from a line iterator."""
    kind, data = "message", []
    async for line in lines:
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield kind, orjson.loads("\n".join(data))
            kind, data = "message", []


async def _next(frames: Any, kind: str) -> dict[str, Any]:
    async def find() -> dict[str, Any]:
        async for got, data in frames:
            if got == kind:
                return data
        raise AssertionError(f"the stream ended before a {kind} event")

    return await asyncio.wait_for(find(), WAIT)


async def test_the_stream_carries_events_live_and_ends_when_the_server_stops(clean):
    async for api in start_api(clean):
        async with api.client.stream("GET", "/api/v1/stream", headers=bearer(READ)) as stream:
            assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
            frames = _frames(stream.aiter_lines())
            await _next(frames, "hello")
            iid = await one_incident(api)
            assert (await _next(frames, "incident.created"))["incident"]["id"] == iid
            assert (await api.post(f"/api/v1/incidents/{iid}/acknowledge", None, token=RESPOND)).status_code == 200
            event = await _next(frames, "incident.acknowledged")
            assert (event["incident"]["id"], event["by"]) == (iid, "sre")
            assert api.worker.stream is not None and api.worker.stream.subscribers == 1
            await asyncio.wait_for(api.worker.stream.close(), WAIT)
            rest = [kind async for kind, _ in frames]  # the server ended the stream: iteration finishes
            assert "hello" not in rest


async def test_silence_preview_names_the_firing_alerts_it_would_mute(api):
    db = await one_incident(api)
    await one_incident(api, "HighLatency", "checkout")
    answer = await api.post("/api/v1/silences/preview", {"matchers": ['service="orders-db"']}, token=READ)
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert [(m["incident"], m["labels"]["alertname"]) for m in doc["matched"]] == [(db, "PostgresDown")]
    assert doc["incidents_scanned"] == 2 and doc["truncated"] is False
    regex = await api.post("/api/v1/silences/preview", {"matchers": ['alertname=~".+"', 'severity!="info"']},
                           token=READ)
    assert len(regex.json()["matched"]) == 2
    assert (await api.get("/api/v1/silences")).json() == []  # a preview creates nothing
    for body, field in (({"matchers": ["service=~("]}, "matchers.0"), ({"matchers": []}, "matchers"),
                        ({"matchers": ["a=b"], "x": 1}, "x")):
        bad = await api.post("/api/v1/silences/preview", body, token=READ)
        assert bad.status_code == 422 and bad.json()["field"] == field, body
    assert (await api.post("/api/v1/silences/preview", {"matchers": ["a=b"]}, token=None)).status_code == 401
    assert (await api.post("/api/v1/silences/preview", {"matchers": ["a=b"]}, token=INGEST)).status_code == 403
