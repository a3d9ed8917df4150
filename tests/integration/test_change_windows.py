"""Change windows against the real RabbitMQ and Redis with an injected clock (docs/changes.md): scheduled from the
API, alerts on its services muted as change:<id> and counted, a resolve passing through, a change event inside it
linked to it, and what still fires when it ends paging then, through the shared timer index, across two workers."""

from __future__ import annotations

import httpx
import orjson

from stormwatch.app import Worker
from tests.conftest import ManualClock, eventually
from tests.integration.api_helpers import INGEST, READ, RESPOND, SECRET, TOKENS, bearer
from tests.integration.helpers import metric, v2_alert
from tests.integration.test_services import write_catalog


async def test_a_mute_window_keeps_alerts_from_paging_until_it_ends_then_what_still_fires_pages(clean, tmp_path):
    clock = ManualClock()
    settings = clean.model_copy(update={"rules": write_catalog(tmp_path / "rules"), "timer_poll_seconds": 0.02,
                                        "api_tokens": TOKENS, "ingest_hmac_secret": SECRET})
    workers = [Worker(settings, clock=clock), Worker(settings.model_copy(update={"metrics_enabled": False}),
                                                     clock=clock)]
    for w in workers:
        await w.start()
    assert workers[0].ops is not None
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{workers[0].ops.bound_port}", timeout=15)
    try:
        async def post(path: str, doc: object, token: str) -> httpx.Response:
            return await client.post(path, content=orjson.dumps(doc), headers=bearer(token))

        async def get(path: str) -> object:
            return (await client.get(path, headers=bearer(READ))).json()

        created = await post("/api/v1/change-windows", {"services": ["payments-db"], "duration": "30m",
                                                        "summary": "PostgreSQL upgrade"}, RESPOND)
        assert created.status_code == 201, created.text
        window = created.json()
        assert (window["state"], window["mode"], window["ends_at"] - window["starts_at"]) == ("active", "mute", 1800)
        refused = await post("/api/v1/change-windows", {"duration": "1h"}, RESPOND)
        assert refused.status_code == 422 and refused.json()["field"] == "services"
        for times in ({"ends_at": "nan"}, {"ends_at": 1e300}, {"starts_at": "inf", "duration": "1h"}):
            refused = await post("/api/v1/change-windows", {"services": ["x"], **times}, RESPOND)
            assert refused.status_code == 422 and refused.json()["field"] == next(iter(times)), refused.text
        assert (await post("/api/v1/change-windows", {"services": ["x"], "duration": "1h"}, READ)).status_code == 403

        down = v2_alert("PostgresDown", "postgres", "pg-1")  # bound to payments-db by its instance
        slow = v2_alert("PostgresSlow", "postgres", "pg-2", severity="warning")
        assert (await post("/api/v2/alerts", [down, slow], INGEST)).status_code == 200
        muted = lambda: sum(metric(w, "stormwatch_alerts_muted_total") for w in workers)  # noqa: E731
        await eventually(lambda: muted() >= 2, what="both alerts muted")
        assert (await get("/api/v1/incidents"))["items"] == []  # recorded and counted, never paging
        resolved = v2_alert("PostgresSlow", "postgres", "pg-2", severity="warning", resolved=True)
        assert (await post("/api/v2/alerts", [resolved], INGEST)).status_code == 200  # resolves pass through

        change = {"id": "upgrade-16", "service": "payments-db", "summary": "PostgreSQL 16.2", "at": clock.now}
        assert (await post("/api/v1/changes", change, INGEST)).status_code == 202
        stored = await eventually(lambda: _listed(get), what="the change stored")
        assert stored[0]["window"] == window["id"]  # a change inside the window is linked to it

        await eventually(lambda: _resolved_stored(workers), what="the resolve stored")
        clock.now += 1799  # not yet over: nothing pages
        assert (await get("/api/v1/incidents"))["items"] == []
        clock.now += 2  # the window is over: the alert still firing pages now, as it would have
        incident = await eventually(lambda: _one_incident(get), what="the incident at the window's end")
        assert incident["title"] == "PostgresDown / postgres" and incident["service"] == "payments-db"
        detail = await get(f"/api/v1/incidents/{incident['id']}")
        assert [c["id"] for c in detail["changes"]] == ["upgrade-16"]
        assert detail["changes"][0]["window"] == window["id"]
        assert [m["labels"]["alertname"] for m in detail["members"]] == ["PostgresDown"]  # the resolved one: not

        ended = await client.delete(f"/api/v1/change-windows/{window['id']}", headers=bearer(RESPOND))
        assert ended.status_code == 200 and ended.json()["state"] == "expired"
        assert (await get("/api/v1/change-windows")) == []
    finally:
        await client.aclose()
        for w in workers:
            await w.stop()


async def _listed(get) -> list:
    return (await get("/api/v1/changes"))["items"]


async def _one_incident(get) -> dict | None:
    items = (await get("/api/v1/incidents"))["items"]
    return items[0] if items else None


def _resolved_stored(workers) -> bool:
    return sum(w.metrics.registry.get_sample_value("stormwatch_batch_alerts_sum") or 0 for w in workers) >= 3


async def test_the_cli_schedules_lists_and_ends_change_windows(clean):
    from tests.integration.helpers import run_cli

    code, out, err = await run_cli(clean, "changes", "window-add", "--service", "orders-db", "--duration", "2h",
                                   "--summary", "failover drill", "--json")
    assert code == 0, err
    window = orjson.loads(out)
    assert window["services"] == ["orders-db"] and window["mode"] == "mute"
    code, out, err = await run_cli(clean, "changes", "windows")
    assert code == 0 and window["id"] in out and "failover drill" in out, err
    code, out, err = await run_cli(clean, "changes", "window-add", "--duration", "2h")
    assert code == 2 and "services" in err
    code, out, err = await run_cli(clean, "changes", "window-end", window["id"])
    assert code == 0, err
    code, out, err = await run_cli(clean, "changes", "windows", "--json")
    assert code == 0 and orjson.loads(out) == []
    code, out, err = await run_cli(clean, "changes", "window-end", "cw-nope")
    assert code == 1 and "no change window" in err
