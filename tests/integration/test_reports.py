"""Report figures on a generated history, on SQLite and the real PostgreSQL, checked against values computed here
from the generator's specs (plain Python and ``statistics``; no report code, no SQL)."""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from stormwatch.history import migrate, schema
from stormwatch.history.database import open_engine
from stormwatch.history.store import HistoryStore, day_of
from stormwatch.reports.queries import read_rows
from stormwatch.reports.report import build_report
from stormwatch.reports.rollup import pending_days, roll_up_ended, served_days
from stormwatch.reports.tally import HISTOGRAM_ERROR
from stormwatch.reports.window import parse_business_hours, window
from tests.integration import report_history as gen
from tests.integration.history_support import history_database

HOURS = "Mon-Fri 09:00-17:00 Europe/Paris"


@pytest.fixture(scope="module")
def history() -> gen.History:
    return gen.generate(seed=17, count=300)  # ~150 incidents a 30-day window: past the coverage checks below (> 100, > 5)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: Any, tmp_path: Any, history: gen.History):
    async with history_database(request.param, tmp_path) as url:
        eng = open_engine(url)
        try:
            await migrate.upgrade(eng)
            await gen.write(HistoryStore(eng, clock=lambda: gen.END), history)
            yield eng
        finally:
            await eng.dispose()


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def quantile(values: list[float], q: int) -> float | None:
    """p50 / p90 from statistics: the inclusive method is linear interpolation between closest ranks."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[q // 10 - 1]


def in_hours(at: float) -> bool:
    from zoneinfo import ZoneInfo
    local = datetime.fromtimestamp(at, ZoneInfo("Europe/Paris"))
    return local.isoweekday() <= 5 and 9 <= local.hour < 17


def expected(h: gen.History, since: float, until: float, *, team: str = "", service: str = "") -> dict[str, Any]:
    specs = [s for s in h.incidents if since <= s.created_at < until and (not team or s.team == team)
             and (not service or s.service == service)]
    tta = [s.acked_at - s.created_at for s in specs if s.acked_at is not None]
    ttr = [s.resolved_at - s.created_at for s in specs if s.resolved_at is not None]
    notifications = sum(s.occurrences for s in specs)
    alerts = sum(len(s.members) for s in specs)
    symptoms = sum(s.symptoms for s in specs)
    runs = [r | {"incident": s} for s in specs for r in s.runs] if team or service else [
        r | {"incident": s} for s in h.incidents for r in s.runs if since <= r["created_at"] < until] + [
        r | {"incident": None} for r in h.problem_runs if since <= r["created_at"] < until]
    ok = [r for r in runs if r["state"] == "succeeded"]
    bad = [r for r in runs if r["state"] == "failed"]
    after = 0
    for s in specs:
        finished = [r["finished_at"] for r in s.runs if r["state"] == "succeeded"]
        if s.resolved_at is not None and finished and min(finished) <= s.resolved_at:
            after += 1
    silenced = 0.0
    for sil in h.silences:
        end = sil["ends_at"] if sil["expired_at"] is None else min(sil["ends_at"], sil["expired_at"])
        silenced += max(0.0, min(end, until) - max(sil["starts_at"], since))
    return {
        "incidents": len(specs), "notifications": notifications,
        "compression": notifications / len(specs) if specs else None,
        "symptoms": symptoms, "symptom_share": symptoms / (alerts + symptoms) if alerts + symptoms else None,
        "duplicates": notifications - alerts,
        "acknowledged": len(tta), "mtta_mean": statistics.fmean(tta) if tta else None,
        "mtta_p50": statistics.median(tta) if tta else None, "mtta_p90": quantile(tta, 90),
        "resolved": len(ttr), "mttr_mean": statistics.fmean(ttr) if ttr else None,
        "mttr_p50": statistics.median(ttr) if ttr else None, "mttr_p90": quantile(ttr, 90),
        "reopened": sum(s.reopened for s in specs),
        "reopen_rate": sum(s.reopened for s in specs) / len(specs) if specs else None,
        "interruptions_business_hours": sum(in_hours(s.created_at) for s in specs),
        "interruptions_outside_business_hours": sum(not in_hours(s.created_at) for s in specs),
        "action_runs": len(runs), "action_success_rate": len(ok) / (len(ok) + len(bad)) if ok or bad else None,
        "resolved_after_action": after, "time_saved_seconds": sum(r["saves"] or 0.0 for r in ok),
        "silences": sum(since <= sil["created_at"] < until for sil in h.silences), "silenced_seconds": silenced,
        **sla_expected(specs),
        "_specs": specs,
    }


def sla_expected(specs: list[gen.Spec]) -> dict[str, Any]:
    """Attainment from the specs' outcomes: met in time / (met + breached, late ones included)."""
    out: dict[str, Any] = {}
    for kind in ("respond", "resolve"):
        met = sum(s.sla.get(kind) == "met" for s in specs)
        breached = sum(s.sla.get(kind) in ("breached", "late") for s in specs)
        out |= {f"sla_{kind}_met": met, f"sla_{kind}_breached": breached,
                f"sla_{kind}_met_rate": met / (met + breached) if met + breached else None}
    out["sla_breaches"] = out["sla_respond_breached"] + out["sla_resolve_breached"]
    return out


PERCENTILES = ("mtta_p50", "mtta_p90", "mttr_p50", "mttr_p90")


def near(name: str, got: float | None, want: float | None, *, exact: bool = False) -> bool:
    """``close``, but a percentile a roll-up served is within the histogram's error (docs/reports.md)."""
    if exact or name not in PERCENTILES or got is None or want is None:
        return close(got, want)
    return abs(got - want) <= (HISTOGRAM_ERROR + 1e-9) * abs(want)


def check_figures(report: dict[str, Any], want: dict[str, Any], side: str, *, exact: bool = False) -> None:
    for name, value in want.items():
        if name.startswith("_"):
            continue
        got = report["figures"][name][side]
        assert near(name, got, value, exact=exact), f"{name} ({side}): report {got!r}, expected {value!r}"


async def test_report_figures_match_the_generated_history(engine: Any, history: gen.History) -> None:
    """One history written per database (writing it is the slow part), several reports read from it: read raw
    (exact), then through the per-day roll-ups (computed by the first, read by the next), then after a change."""
    await check_window_and_trend(engine, history, rollups=False)
    await check_background_rollup(engine, history)
    await check_window_and_trend(engine, history, rollups=True)
    await check_window_and_trend(engine, history, rollups=True)  # the roll-ups as kept, not recomputed
    await check_ragged_window(engine, history)
    await check_filters(engine, history)
    await check_empty_window(engine)
    await check_a_change_reaches_the_rollups(engine, history)
    await check_a_run_reaches_the_rollups(engine)
    await check_without_rollup_tables(engine, history)


async def report_of(engine: Any, w: Any, *, rollups: bool = True) -> dict[str, Any]:
    return await build_report(engine, w, parse_business_hours(HOURS), now=gen.END, rollups=rollups)


async def check_window_and_trend(engine: Any, history: gen.History, *, rollups: bool) -> None:
    w = window(gen.END, since="30d")
    report = await report_of(engine, w, rollups=rollups)
    now = expected(history, gen.END - 30 * gen.DAY, gen.END)
    before = expected(history, gen.END - 60 * gen.DAY, gen.END - 30 * gen.DAY)
    assert now["incidents"] > 100 and before["incidents"] > 100 and now["reopened"] > 0  # the data covers the cases
    assert now["sla_respond_met"] > 10 and now["sla_resolve_breached"] > 5
    assert any(s.sla.get("respond") == "warned" for s in now["_specs"])  # running records count in neither
    check_figures(report, now, "value", exact=not rollups)
    check_figures(report, before, "previous", exact=not rollups)
    f = report["figures"]["incidents"]
    assert close(f["change"], now["incidents"] - before["incidents"])
    f = report["figures"]["mttr_p90"]
    assert close(f["change"], f["value"] - f["previous"])

    specs = now["_specs"]
    # breakdown by team
    by_team = {row["team"]: row for row in report["by_team"]}
    assert set(by_team) == {s.team for s in specs}
    for team, row in by_team.items():
        mine = expected(history, gen.END - 30 * gen.DAY, gen.END, team=team)
        for name in ("incidents", "notifications", "mtta_p50", "mttr_p90", "reopen_rate", "sla_respond_met_rate",
                     "sla_resolve_met_rate", "sla_breaches"):
            assert near(name, row[name], mine[name], exact=not rollups), (team, name)
    assert [r["priority"] for r in report["by_priority"]] == [
        p for p, _ in sorted(Counter(s.priority for s in specs).items(), key=lambda kv: (-kv[1], kv[0]))]
    # series: one bucket per UTC day, incidents counted by opening
    days = Counter(int((s.created_at - (gen.END - 30 * gen.DAY)) // gen.DAY) for s in specs)
    assert len(report["series"]) == 30
    assert [b["incidents"] for b in report["series"]] == [days.get(k, 0) for k in range(30)]
    breaches: Counter[int] = Counter()
    for s in specs:
        breaches[int((s.created_at - (gen.END - 30 * gen.DAY)) // gen.DAY)] += sum(
            o in ("breached", "late") for o in s.sla.values())
    assert [b["sla_breaches"] for b in report["series"]] == [breaches.get(k, 0) for k in range(30)]
    for key in ("sla_respond_met_rate", "sla_resolve_met_rate"):
        assert trend_ok(report["figures"][key], now[key], before[key]), key
    # noisiest alerts
    notes: Counter[str] = Counter()
    incs: dict[str, set[str]] = defaultdict(set)
    flapped: dict[str, set[str]] = defaultdict(set)
    for s in specs:
        for m in s.members:
            notes[m["alertname"]] += m["notifications"]
            incs[m["alertname"]].add(s.id)
            if m["flapping"] or s.flapping_noted:
                flapped[m["alertname"]].add(s.id)
    top = report["alerts"]["by_notifications"]
    assert [(a["alertname"], a["notifications"]) for a in top] == sorted(notes.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(a["alertname"], a["incidents"]) for a in report["alerts"]["by_incidents"]] == sorted(
        ((n, len(v)) for n, v in incs.items()), key=lambda kv: (-kv[1], kv[0]))
    assert [(a["alertname"], a["flapping_incidents"]) for a in report["alerts"]["flapping"]] == sorted(
        ((n, len(v)) for n, v in flapped.items()), key=lambda kv: (-kv[1], kv[0]))
    # problems: linked incidents opened in the window (the unlinked one is not counted)
    in_window = {s.id for s in specs}
    want = sorted(((p["id"], len(set(p["incidents"]) & in_window)) for p in history.problems
                   if set(p["incidents"]) & in_window), key=lambda kv: (-kv[1], kv[0]))
    assert [(p["id"], p["incidents"]) for p in report["problems"]] == want


def trend_ok(figure: dict[str, Any], now: float | None, before: float | None) -> bool:
    return close(figure["change"], None if now is None or before is None else now - before)


async def check_ragged_window(engine: Any, history: gen.History) -> None:
    """A window whose ends fall inside days: the whole days from roll-ups, the ends raw; series by week."""
    since, until = gen.END - 20.5 * gen.DAY, gen.END - 2.25 * gen.DAY
    w = window(gen.END, since=str(since), until=str(until), period="week")
    report = await report_of(engine, w)
    check_figures(report, expected(history, since, until), "value")
    check_figures(report, expected(history, 2 * since - until, since), "previous")
    weeks = [sum(start <= s.created_at < end for s in history.incidents) for start, end in w.buckets()]
    assert [b["incidents"] for b in report["series"]] == weeks


async def check_a_change_reaches_the_rollups(engine: Any, history: gen.History) -> None:
    """An incident of a rolled-up day acknowledged later: the next report counts it; its redelivery changes
    nothing (not even the day's change count)."""
    spec = next(s for s in history.incidents if s.acked_at is None and gen.END - 29 * gen.DAY < s.created_at
                < gen.END - 2 * gen.DAY)
    w = window(gen.END, since="30d")
    before = (await report_of(engine, w))["figures"]["acknowledged"]["value"]
    acked = spec.created_at + 120
    event = gen.builders.incident_command(spec.id, 99, "acknowledge", "late ack", acked, "sre",
                                          gen._doc(spec, acked, "acknowledged", acknowledged_by="sre",
                                                   acknowledged_at=acked))
    store = HistoryStore(engine, clock=lambda: gen.END)
    assert (await store.apply([(event, None)])).applied == 1
    report = await report_of(engine, w)
    assert report["figures"]["acknowledged"]["value"] == before + 1
    async with engine.connect() as conn:
        changes = (await conn.execute(sa.select(schema.rollup_days.c.changes, schema.rollup_days.c.computed)
                                      .where(schema.rollup_days.c.day == day_of(spec.created_at)))).one()
    assert changes.changes == changes.computed  # fresh again
    assert (await store.apply([(event, None)])).repeats == 1
    async with engine.connect() as conn:
        again = (await conn.execute(sa.select(schema.rollup_days.c.changes)
                                    .where(schema.rollup_days.c.day == day_of(spec.created_at)))).scalar()
    assert again == changes.changes
    assert (await report_of(engine, w))["figures"]["acknowledged"]["value"] == before + 1


async def day_states(engine: Any) -> list[Any]:
    d = schema.rollup_days.c
    async with engine.connect() as conn:
        return sorted(tuple(r) for r in await conn.execute(sa.select(d.day, d.changes, d.computed, d.computed_at)))


async def check_background_rollup(engine: Any, history: gen.History) -> None:
    """The writer's background rounds (``roll_up_ended``) compute every ended day a bounded few at a time; the
    reports after them compute nothing (each day's state, with when it was computed, unchanged), read no raw run
    of a whole day, and give the same figures. A round racing a report never counts a day twice."""
    assert await roll_up_ended(engine, gen.END, 3, horizon_days=60) == 3  # bounded: three days a round
    while await roll_up_ended(engine, gen.END, 50, horizon_days=60):
        pass
    # the round that found nothing stale gave the days nothing was written for a row: the next rounds compute them
    assert len(await pending_days(engine, gen.END, 1000)) > 0
    while await roll_up_ended(engine, gen.END, 50, horizon_days=60):
        pass
    states = await day_states(engine)
    assert {s[0] for s in states} >= {gen.END - k * gen.DAY for k in range(1, 61)}
    assert all(s[2] == s[1] for s in states if s[0] + gen.DAY <= gen.END)
    assert await pending_days(engine, gen.END, 10) == []
    await check_window_and_trend(engine, history, rollups=True)
    assert await day_states(engine) == states  # served as rolled up in the background: nothing recomputed
    w = window(gen.END, since="30d")  # whole days only: its runs all come from the run roll-ups
    served = await served_days(engine, w, gen.END)
    assert served is not None and served.span == (w.since, w.until) and served.runs
    rows = await read_rows(engine, w, days=served.days, served=served.span, run_days=served.runs)
    assert rows.runs == [] and rows.incidents == []
    assert sum(r.runs for r in served.runs) == sum(  # independently: the generator's runs of those days
        w.since <= r["created_at"] < w.until for s in history.incidents for r in s.runs) + sum(
        w.since <= r["created_at"] < w.until for r in history.problem_runs)
    async with engine.begin() as conn:  # every day stale again; then a round and a report at the same time
        await HistoryStore(engine).touch_days(conn, [s[0] for s in states])
    await asyncio.gather(roll_up_ended(engine, gen.END, 1000), check_window_and_trend(engine, history, rollups=True))
    assert await pending_days(engine, gen.END, 10) == []
    await check_window_and_trend(engine, history, rollups=True)


async def check_a_run_reaches_the_rollups(engine: Any) -> None:
    """A run created on a rolled-up day, written later: its day's run roll-up goes stale, the next report counts
    it (and the background round finds the day to compute)."""
    w = window(gen.END, since="30d")
    before = (await report_of(engine, w))["figures"]
    created = gen.END - 3 * gen.DAY + 3600
    record = {"run_id": "run-late-1", "incident": "", "problem": "PRB-000000000000-1", "action": "ticket",
              "type": "http", "rule": "generated", "trigger": "created", "event_id": "run-late-1:event",
              "state": "succeeded", "created_at": repr(created), "finished_at": repr(created + 60), "saves": "123.0"}
    event = gen.builders.action_decided("run-late-1", "approved", record, "sre", created + 60)
    assert (await HistoryStore(engine, clock=lambda: gen.END).apply([(event, None)])).applied == 1
    assert await pending_days(engine, gen.END, 10) == [day_of(created)]
    after = (await report_of(engine, w))["figures"]
    assert after["action_runs"]["value"] == before["action_runs"]["value"] + 1
    assert close(after["time_saved_seconds"]["value"], before["time_saved_seconds"]["value"] + 123.0)
    assert await pending_days(engine, gen.END, 10) == []  # the report computed it, under the same lock


async def check_without_rollup_tables(engine: Any, history: gen.History) -> None:
    """A database that refuses the roll-ups (here: their tables are gone) gives the same report, read raw."""
    async with engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE rollup_figures"))
    until = gen.END - 30 * gen.DAY  # before the incident check_a_change_reaches_the_rollups acknowledged
    report = await report_of(engine, window(gen.END, since="20d", until=str(until)))
    check_figures(report, expected(history, until - 20 * gen.DAY, until), "value", exact=True)


async def check_filters(engine: Any, history: gen.History) -> None:
    w = window(gen.END, since="30d", team="dba", service="orders")
    report = await report_of(engine, w)
    now = expected(history, gen.END - 30 * gen.DAY, gen.END, team="dba", service="orders")
    assert now["incidents"] > 5
    check_figures(report, now, "value", exact=True)  # filtered: read raw
    assert {r["team"] for r in report["by_team"]} == {"dba"}


async def check_empty_window(engine: Any) -> None:
    w = window(gen.END, since=str(gen.END - 400 * gen.DAY), until=str(gen.END - 300 * gen.DAY))
    report = await report_of(engine, w)
    assert report["figures"]["incidents"]["value"] == 0
    assert report["figures"]["mttr_mean"]["value"] is None
    assert report["figures"]["compression"]["value"] is None


async def test_migration_0006_adds_run_rollups_and_marks_the_day_rollups_stale(tmp_path: Any) -> None:
    """From 0005 with roll-ups computed (they hold no runs) to the head: the run roll-ups' table appears, every day
    is stale (the next round computes its runs too) and the schema matches the models; down again drops it."""
    small = gen.generate(seed=5, count=12)
    async with history_database("sqlite", tmp_path) as url:
        eng = open_engine(url)
        try:
            await migrate.upgrade(eng)
            await gen.write(HistoryStore(eng, clock=lambda: gen.END), small)
            while await roll_up_ended(eng, gen.END, 100, horizon_days=1):
                pass
            await migrate.downgrade(eng, "0005")
            async with eng.connect() as conn:
                names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            assert "rollup_runs" not in names and "rollup_days" in names
            await migrate.upgrade(eng)
            assert await migrate.current_revision(eng) == migrate.head_revision()
            states = await day_states(eng)
            assert states and all(s[2] is None for s in states)  # stale: computed again, runs included
            async with eng.connect() as conn:
                diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(
                    c, opts={"include_name": lambda name, kind, _p: name != migrate.VERSION_TABLE}),
                    schema.metadata))
            assert diff == []
            while await roll_up_ended(eng, gen.END, 100, horizon_days=1):
                pass
            async with eng.connect() as conn:
                runs = (await conn.execute(sa.select(sa.func.sum(schema.rollup_runs.c.runs)))).scalar()
            assert runs == sum(len(s.runs) for s in small.incidents) + len(small.problem_runs)
        finally:
            await eng.dispose()
