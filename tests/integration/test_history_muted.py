"""Muted notifications in the history (issue 17): the worker publishes one ``alert.muted`` per message and group
that had mutes, under ``<message id>:<group>:muted``; the history writer adds its counts to ``muted_days`` once.
End to end with a real worker (Redis, RabbitMQ) and its history writer: a silence and a maintenance window mute
notifications, a redelivered message republishes the same event and counts nothing twice, and the report's muted
section matches counts computed here. Then the store on SQLite and the real PostgreSQL: idempotent on the event id,
and the migration from 0004 holding data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from correlation.core.muting import Silence
from correlation.store.silences import SilenceStore, new_silence_id
from events import builders
from events.models import event_adapter
from rules.matchers import parse_matcher
from stormwatch.app import Worker
from stormwatch.history import migrate, schema
from stormwatch.history.database import open_engine
from stormwatch.history.store import DAY, HistoryStore, InvalidEvent, day_of, validate
from stormwatch.reports.csv_out import to_csv
from stormwatch.reports.html import page
from stormwatch.reports.report import build_report
from stormwatch.reports.window import parse_business_hours, window
from tests.conftest import eventually
from tests.integration.helpers import body, metric, publish, v2_alert
from tests.integration.history_support import dump, existing_columns, history_database
from tests.integration.test_event_contract import Capture
from tests.integration.test_history_store import detail_for, story

MAINTENANCE = """
maintenance:
  - name: db-patching
    match: ['service="orders-db"']
    start: "00:00"
    end: "24:00"
"""
HOURS = parse_business_hours("Mon-Fri 09:00-17:00 UTC")


async def muted_rows(engine: Any) -> dict[str, tuple[str, int]]:
    async with engine.connect() as conn:
        return {r.reason: (r.kind, r.notifications) for r in await conn.execute(sa.select(schema.muted_days))}


async def test_silenced_and_maintenance_notifications_reach_the_history_once(clean, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.yaml").write_text(MAINTENANCE)
    url = f"sqlite:///{tmp_path / 'history.db'}"
    settings = clean.model_copy(update={"history_enabled": True, "history_url": url, "rules": str(rules)})
    capture = await Capture(settings).start()
    worker = Worker(settings)
    engine = open_engine(url)
    try:
        await worker.start()
        assert worker.history is not None
        await eventually(worker.history.ready.is_set, what="the history writer started")
        now = time.time()
        silence = await SilenceStore(worker.redis, worker.keyspace).add(Silence.create(
            [parse_matcher('service="cache"')], now - 60, now + 3600, "ana", "cache migration", now,
            silence_id=new_silence_id()))
        first = body([v2_alert("PostgresDown", "orders-db", "db-1"), v2_alert("PostgresDown", "orders-db", "db-2"),
                      v2_alert("CacheDown", "cache", "c-1"), v2_alert("HighLatency", "web", "web-1")])
        repeat = body([v2_alert("PostgresDown", "orders-db", "db-1")])
        await publish(settings, [first], message_ids=["m-first"])
        await eventually(lambda: metric(worker, "stormwatch_alerts_muted_total") >= 3, what="three muted")
        await publish(settings, [repeat], message_ids=["m-repeat"])
        await eventually(lambda: metric(worker, "stormwatch_alerts_muted_total") >= 4, what="the repeat muted")
        # the first message again, with its message id (a publisher's retry, a redelivery after a lost ack): its
        # marker replays its follow-ups, so the same alert.muted events go out again under the same ids
        await publish(settings, [first], message_ids=["m-first"])
        await eventually(lambda: metric(worker, "stormwatch_replays_total") >= 3, what="the redelivery replayed")

        expected = {"maintenance:db-patching": ("maintenance", 3), f"silence:{silence.id}": ("silence", 1)}

        async def landed() -> bool:
            await capture.types()
            return await muted_rows(engine) == expected and len(
                [m for m in capture.messages if m.routing_key == "alert.muted"]) == 5
        await eventually(landed, what="the muted counts in the history, the replayed events republished")
        muted = [orjson.loads(m.body) for m in capture.messages if m.routing_key == "alert.muted"]
        for event in muted:
            event_adapter().validate_python(event)
        ids = [e["event_id"] for e in muted]  # <message id>:<group>:muted (ingest's message ids are "id:<its id>")
        assert len(set(ids)) == 3 and all(ids.count(i) == 1 + i.startswith("id:m-first:") for i in set(ids))
        assert {(e["event_id"].split(":")[1], m["reason"], m["service"], m["notifications"])
                for e in muted for m in e["mutes"]} \
            == {("m-first", "maintenance:db-patching", "orders-db", 2), ("m-first", f"silence:{silence.id}", "cache", 1),
                ("m-repeat", "maintenance:db-patching", "orders-db", 1)}
        # the writer took the republished events (m-first's incident.created and its two alert.muted) as repeats
        await eventually(lambda: metric(worker, "stormwatch_history_events_repeated_total") >= 3,
                         what="the republished events seen by the history writer")
        assert await muted_rows(engine) == expected  # the republished events counted nothing
        assert metric(worker, "stormwatch_history_events_applied_total", {"type": "alert.muted"}) == 3

        report = await build_report(engine, window(now, since="1d"), HOURS, now=now)
        section = report["muted"]
        f = section["figures"]
        assert (f["muted_notifications"]["value"], f["muted_by_maintenance"]["value"],
                f["muted_by_silences"]["value"], f["muted_by_change_windows"]["value"]) == (4, 3, 1, 0)
        assert f["muted_notifications"]["previous"] == 0 and f["muted_notifications"]["change"] == 4
        assert [(r["kind"], r["name"], r["notifications"]) for r in section["top"]] == [
            ("maintenance", "db-patching", 3), ("silence", silence.id, 1)]
        assert report["not_recorded"] == {}
    finally:
        await worker.stop()
        await capture.close()
        await engine.dispose()


def muted_events(at: float) -> list[dict[str, Any]]:
    """Two days: yesterday S-1 muted 5 and db-patching 2; today db-patching 7, S-1 1, CHG-9 4 (across messages)."""
    yesterday = at - DAY
    return [
        builders.alert_muted("a", "g1", {"silence:S-1": 5, "maintenance:db-patching": 2}, yesterday),
        builders.alert_muted("b", "g1", {"maintenance:db-patching": 4}, at),
        builders.alert_muted("b", "g2", {"maintenance:db-patching": 3, "silence:S-1": 1}, at),
        builders.alert_muted("c", "g2", {"change:CHG-9": 4}, at + 1),
    ]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_muted_counts_are_idempotent_and_reported_with_their_trend(kind: str, tmp_path: Path) -> None:
    at = day_of(time.time()) + 3600.0
    async with history_database(kind, tmp_path) as url:
        engine = open_engine(url)
        try:
            await migrate.upgrade(engine)
            store = HistoryStore(engine)
            events = muted_events(at)
            assert (await store.apply([(e, None) for e in events])).applied == 4
            assert (await store.apply([(e, None) for e in reversed(events)])).repeats == 4  # redelivered
            async with engine.connect() as conn:
                got = {(r.day, r.reason): (r.kind, r.notifications) for r in await conn.execute(
                    sa.select(schema.muted_days))}
            today, yesterday = day_of(at), day_of(at) - DAY
            assert got == {(yesterday, "silence:S-1"): ("silence", 5),
                           (yesterday, "maintenance:db-patching"): ("maintenance", 2),
                           (today, "maintenance:db-patching"): ("maintenance", 7),
                           (today, "silence:S-1"): ("silence", 1), (today, "change:CHG-9"): ("change", 4)}
            # today's window against yesterday's: computed from the events above
            report = await build_report(engine, window(at + 10, since=str(int(today)), until=str(int(today + DAY))),
                                        HOURS, now=at + 10)
            f = report["muted"]["figures"]
            assert {name: (v["value"], v["previous"], v["change"]) for name, v in f.items()} == {
                "muted_notifications": (12, 7, 5), "muted_by_silences": (1, 5, -4),
                "muted_by_maintenance": (7, 2, 5), "muted_by_change_windows": (4, 0, 4)}
            assert f["muted_by_silences"]["relative_change"] == -0.8
            assert [(r["reason"], r["notifications"], r["previous"], r["change"]) for r in report["muted"]["top"]] \
                == [("maintenance:db-patching", 7, 2, 5), ("change:CHG-9", 4, 0, 4), ("silence:S-1", 1, 5, -4)]
            csv = to_csv(report)
            assert "muted,,muted_notifications,12,7,5\n" in csv
            assert "muted_by_reason,maintenance:db-patching,notifications,7,2,5\n" in csv
            html = page(report)
            assert "Muted notifications" in html and "db-patching" in html and "Not in the history" not in html
        finally:
            await engine.dispose()


def test_a_muted_event_without_counts_is_refused() -> None:
    event = muted_events(1_000_000.0)[0]
    validate(event)
    for bad in ([], None, [{"reason": "silence:S-1", "notifications": 0}], [{"reason": "", "notifications": 1}],
                [{"notifications": 2}]):
        with pytest.raises(InvalidEvent, match="mutes"):
            validate({**event, "mutes": bad})


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_migration_from_0004_with_data_to_head(kind: str, tmp_path: Path) -> None:
    async with history_database(kind, tmp_path) as url:
        engine = open_engine(url)
        try:
            store = HistoryStore(engine)
            await migrate.upgrade(engine)
            await store.apply([(e, detail_for(e)) for e in story()])
            await migrate.downgrade(engine, "0004")  # what the previous release holds, with its rows
            assert await migrate.current_revision(engine) == "0004"
            at_0004 = await existing_columns(engine)
            before = await dump(engine, columns=at_0004)
            assert before["incidents"] and "muted_days" not in before
            await migrate.upgrade(engine)
            assert await migrate.current_revision(engine) == migrate.head_revision()
            assert await dump(engine, columns=at_0004) == before  # nothing lost or changed
            async with engine.connect() as conn:
                diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(
                    c, opts={"include_name": lambda name, kind, _p: name != migrate.VERSION_TABLE}), schema.metadata))
            assert diff == []
            await store.apply([(e, None) for e in muted_events(1_000_000.0)])
            assert len(await muted_rows(engine)) == 3  # reasons (the last day's rows win in this dict)
            await migrate.downgrade(engine, "0004")
            async with engine.connect() as conn:
                names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            assert "muted_days" not in names and set(before) <= names
        finally:
            await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_report_filtered_by_team_or_service_counts_their_muted_notifications(kind: str,
                                                                                      tmp_path: Path) -> None:
    """The muted section obeys the report's team and service filters (the team and service each count names);
    priority does not apply and ``filtered`` says so. An event without team or service (an engine before them)
    counts in the unfiltered report only."""
    at = day_of(time.time()) + 3600.0
    today = day_of(at)
    events = [
        builders.alert_muted("a", "g1", {("maintenance:db-patching", "storage", "orders-db"): 4,
                                         ("silence:S-1", "storage", "cache"): 2}, at),
        builders.alert_muted("b", "g2", {("maintenance:db-patching", "web", "checkout"): 3}, at + 1),
        builders.alert_muted("c", "g2", {("silence:S-1", "web", "checkout"): 1}, at - DAY),  # the previous day
        builders.alert_muted("d", "g3", {"change:CHG-9": 5}, at + 2),  # no team or service named
    ]
    async with history_database(kind, tmp_path) as url:
        engine = open_engine(url)
        try:
            await migrate.upgrade(engine)
            store = HistoryStore(engine)
            assert (await store.apply([(e, None) for e in events])).applied == 4
            assert (await store.apply([(e, None) for e in events])).repeats == 4  # redelivered: nothing twice

            async def muted(**filters: str) -> dict[str, Any]:
                w = window(at + 10, since=str(int(today)), until=str(int(today + DAY)), **filters)
                return (await build_report(engine, w, HOURS, now=at + 10))["muted"]

            def values(section: dict[str, Any]) -> dict[str, tuple[int, int]]:
                return {name: (f["value"], f["previous"]) for name, f in section["figures"].items()}

            whole = await muted()
            assert values(whole) == {"muted_notifications": (14, 1), "muted_by_silences": (2, 1),
                                     "muted_by_maintenance": (7, 0), "muted_by_change_windows": (5, 0)}
            assert whole["filtered"] is False
            storage = await muted(team="storage")
            assert values(storage) == {"muted_notifications": (6, 0), "muted_by_silences": (2, 0),
                                       "muted_by_maintenance": (4, 0), "muted_by_change_windows": (0, 0)}
            assert [(r["reason"], r["notifications"]) for r in storage["top"]] == [
                ("maintenance:db-patching", 4), ("silence:S-1", 2)]
            assert storage["filtered"] is False
            checkout = await muted(service="checkout")
            assert values(checkout)["muted_notifications"] == (3, 1)
            assert [(r["reason"], r["notifications"], r["previous"]) for r in checkout["top"]] == [
                ("maintenance:db-patching", 3, 0)]
            assert values(await muted(team="web", service="orders-db"))["muted_notifications"] == (0, 0)
            assert values(await muted(team="storage", service="cache"))["muted_notifications"] == (2, 0)
            by_priority = await muted(priority="P1")  # no priority on a muted notification: every one counts
            assert values(by_priority) == values(whole) and by_priority["filtered"] is True
        finally:
            await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_migration_0007_keeps_the_muted_counts_under_no_team_or_service(kind: str, tmp_path: Path) -> None:
    at = day_of(1_000_000.0) + 3600.0
    async with history_database(kind, tmp_path) as url:
        engine = open_engine(url)
        try:
            await migrate.upgrade(engine, "0006")
            async with engine.begin() as conn:  # what a writer at 0006 holds
                await conn.execute(sa.text("INSERT INTO muted_days (day, reason, kind, notifications) "
                                           "VALUES (:day, :reason, :kind, :n)"),
                                   [{"day": day_of(at), "reason": "silence:S-1", "kind": "silence", "n": 5},
                                    {"day": day_of(at), "reason": "maintenance:db-patching", "kind": "maintenance",
                                     "n": 2}])
            await migrate.upgrade(engine)
            assert await migrate.current_revision(engine) == migrate.head_revision() == "0007"
            async with engine.connect() as conn:
                rows = {(r.reason, r.team, r.service, r.kind, r.notifications)
                        for r in await conn.execute(sa.select(schema.muted_days))}
                diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(
                    c, opts={"include_name": lambda name, kind, _p: name != migrate.VERSION_TABLE}), schema.metadata))
            assert rows == {("silence:S-1", "", "", "silence", 5), ("maintenance:db-patching", "", "", "maintenance", 2)}
            assert diff == []
            store = HistoryStore(engine)
            await store.apply([(builders.alert_muted("a", "g", {("silence:S-1", "web", "checkout"): 3}, at), None)])
            await migrate.downgrade(engine, "0006")  # the team and service counts add up under their reason
            async with engine.connect() as conn:
                rows = {(r.reason, r.kind, r.notifications) for r in await conn.execute(sa.text(
                    "SELECT reason, kind, notifications FROM muted_days"))}
            assert rows == {("silence:S-1", "silence", 8), ("maintenance:db-patching", "maintenance", 2)}
        finally:
            await engine.dispose()
