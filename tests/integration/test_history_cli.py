"""`stormwatch history backfill`, `search` and `show` as an operator runs them (subprocesses), and retention."""

from __future__ import annotations

import orjson
import pytest
import sqlalchemy as sa

from stormwatch.app import Worker
from stormwatch.history import migrate, schema
from stormwatch.history.database import open_engine
from stormwatch.history.retention import prune
from stormwatch.history.store import HistoryStore
from tests.conftest import eventually
from tests.integration.helpers import body, publish, run_cli, stored_alerts, v2_alert
from tests.integration.history_support import history_database
from tests.integration.test_history_store import T0, detail_for, story


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_backfill_writes_what_redis_holds_then_search_finds_it(clean, tmp_path, kind):
    async with history_database(kind, tmp_path) as url:
        env = {"STORMWATCH_HISTORY_URL": url}
        worker = Worker(clean.model_copy(update={"metrics_enabled": False}))  # no history writer: nothing written
        await worker.start()
        try:
            await publish(clean, [body([v2_alert("DiskFull", "orders", f"h{i}")]) for i in range(3)]
                          + [body([v2_alert("Latency", "billing", "h1")])])
            await eventually(lambda: stored_alerts(worker) >= 4, what="alerts correlated")
            await publish(clean, [body([v2_alert("Latency", "billing", "h1", resolved=True)])])
            await eventually(lambda: stored_alerts(worker) >= 5, what="the resolution correlated")
        finally:
            await worker.stop()
        code, out, err = await run_cli(clean, "history", "backfill", "--json", env=env)
        assert code == 0, err
        assert orjson.loads(out) == {"incidents": 2, "problems": 0, "silences": 0}
        code, out, err = await run_cli(clean, "history", "backfill", "--json", env=env)  # again: no change
        assert code == 0 and orjson.loads(out)["incidents"] == 2, err
        code, out, err = await run_cli(clean, "history", "search", "--label", "service=orders", "--since", "1h",
                                       "--json", env=env)
        assert code == 0, err
        found = orjson.loads(out)["incidents"]
        assert [(i["service"], i["status"], i["alerts"]) for i in found] == [("orders", "open", 3)]
        code, out, err = await run_cli(clean, "history", "search", "-q", "latency", "--status", "resolved",
                                       "--json", env=env)
        assert code == 0 and [i["service"] for i in orjson.loads(out)["incidents"]] == ["billing"], err
        code, out, err = await run_cli(clean, "history", "show", found[0]["id"], "--json", env=env)
        assert code == 0, err
        assert sorted(m["labels"]["instance"] for m in orjson.loads(out)["members"]) == ["h0", "h1", "h2"]
        code, out, err = await run_cli(clean, "history", "search", "--since", "yesterday", env=env)
        assert code == 2 and "--since" in err
        code, out, err = await run_cli(clean, "history", "search", env=env)  # the table for people
        assert code == 0 and "orders" in out and "billing" in out, err
        # one database per namespace: another namespace's restore would put these incidents in the wrong place
        code, out, err = await run_cli(clean, "history", "restore", env={**env, "STORMWATCH_NAMESPACE": "other-ns"})
        assert code == 2 and f"holds namespace '{clean.namespace}'" in err, err


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_retention_removes_what_ended_before_the_cut_and_keeps_the_counters(tmp_path, kind):
    async with history_database(kind, tmp_path) as url:
        engine = open_engine(url)
        try:
            await migrate.upgrade(engine)
            await HistoryStore(engine, clock=lambda: T0 + 100).apply([(e, detail_for(e)) for e in story()])
            async with engine.connect() as conn:
                before = {t.name: (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar()
                          for t in schema.metadata.sorted_tables}
            assert (await prune(engine, T0 + 30)) == {"incidents": 0, "problems": 0, "silences": 0,
                                                      "action_runs": 0, "applied_events": 0,
                                                      "changes": 0, "muted_days": 0}  # nothing ended yet
            removed = await prune(engine, T0 + 10_000)
            assert removed == {"incidents": 1, "problems": 1, "silences": 1, "action_runs": 0,
                               "applied_events": before["applied_events"], "changes": 0, "muted_days": 0}
            async with engine.connect() as conn:
                after = {t.name: (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar()
                         for t in schema.metadata.sorted_tables}
            assert after["incident_groups"] == before["incident_groups"] == 1  # ids are never issued twice
            assert after["action_runs"] == 1  # not finished: kept
            for table in ("incidents", "incident_alerts", "incident_symptoms", "incident_labels", "timeline_entries",
                          "problems", "problem_incidents", "silences", "applied_events"):
                assert after[table] == 0, (table, after)
        finally:
            await engine.dispose()
