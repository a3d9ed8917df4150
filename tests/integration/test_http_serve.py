"""The real `stormwatch serve` process configured from the environment: tokens, one HTTP port, logs without secrets."""

from __future__ import annotations

import httpx
import orjson

from tests.conftest import eventually
from tests.integration.api_helpers import INGEST, RESPOND, SECRET, TOKENS
from tests.integration.helpers import v2_alert
from tests.integration.test_shutdown import Serve


async def test_serve_takes_tokens_from_the_environment_and_never_logs_them(clean, tmp_path):
    serve = Serve(clean, tmp_path / "serve.log", STORMWATCH_API_TOKENS=TOKENS, STORMWATCH_INGEST_HMAC_SECRET=SECRET,
                  STORMWATCH_LOG_LEVEL="debug")
    await serve.start()
    try:
        await eventually(serve.ready, timeout=20, what="serve ready")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{serve.port}", timeout=10) as client:
            answer = await client.post("/api/v2/alerts", content=orjson.dumps([v2_alert("Env", "svc", "pod-1")]),
                                       headers={"Authorization": f"Bearer {INGEST}"})
            assert answer.status_code == 200, answer.text
            assert (await client.post("/api/v2/alerts", content=b"[]",
                                      headers={"Authorization": "Bearer wrong-token-0123456789"})).status_code == 401

            async def one_incident():
                page = (await client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {RESPOND}"})).json()
                return page["items"]

            (incident,) = await eventually(one_incident, what="the incident through the API")
            answer = await client.post(f"/api/v1/incidents/{incident['id']}/acknowledge",
                                       headers={"Authorization": f"Bearer {RESPOND}"})
            assert answer.json()["incident"]["acknowledged_by"] == "sre"
            assert (await client.get("/metrics")).status_code == 200
        assert await serve.terminate() == 0
    finally:
        await serve.kill()
    output = serve.output()
    assert "auth_refused" in output and "incident_command" in output  # it did log, just not the secrets
    for secret in (INGEST, RESPOND, SECRET, "wrong-token-0123456789", *[t.split(":")[2] for t in TOKENS.split(",")]):
        assert secret not in output
