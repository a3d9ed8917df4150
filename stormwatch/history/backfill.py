"""``stormwatch history backfill``: write into the history what Redis still holds (incidents with their members,
symptoms, action runs and linked changes; problems; silences), for a history started after the incidents were, or
one that missed events (its queue deleted). Safe to run at any time and more than once: every row is versioned by
the document's own time with the lowest tie-break, so a backfill never replaces what an event of the same moment
wrote, and a newer event always replaces what a backfill wrote. It writes no timeline entries: Redis' timeline is
not the event stream, and entries made up from it would be counted twice beside the events' own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from stormwatch.history.redis_source import RedisSource
from stormwatch.history.store import HistoryStore, day_of, order_key

BACKFILL = ""  # the tie-break: sorts before every event id


@dataclass(slots=True)
class Backfilled:
    incidents: int = 0
    problems: int = 0
    silences: int = 0


async def backfill(engine: AsyncEngine, source: RedisSource, now: float) -> Backfilled:
    store = HistoryStore(engine)
    done = Backfilled()
    async for doc in source.all_incidents():
        detail = await source.detail(doc["id"])
        people = await source.people(doc["id"])
        async with engine.begin() as conn:
            await store.upsert_incident(conn, {**doc, **people}, order_key(doc["updated_at"], 0.0, BACKFILL),
                                        people=bool(people))
            await store.first_times(conn, doc["id"], _num(people.get("acknowledged_at")), doc.get("resolved_at"))
            days = {day_of(float(doc["created_at"]))}
            await store.write_detail(conn, doc["id"], detail, days)
            await store.touch_days(conn, days)
            await store.write_changes(conn, doc["id"], doc.get("changes") or (), float(doc["updated_at"]))
        done.incidents += 1
    for doc in await source.all_problems():
        async with engine.begin() as conn:
            await store.upsert_problem(conn, doc, order_key(doc["updated_at"], 0.0, BACKFILL))
            run_days: set[float] = set()
            await store.write_runs(conn, await source.problem_runs(doc["id"]), days=run_days)
            await store.touch_days(conn, run_days)
        done.problems += 1
    for doc in await source.all_silences(now):
        async with engine.begin() as conn:
            await store.upsert_silence(conn, doc, order_key(doc.get("created_at") or doc["starts_at"], 0.0, BACKFILL),
                                       expired=None)
        done.silences += 1
    return done


def _num(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None
