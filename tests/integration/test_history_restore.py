"""Incident ids are never issued twice, even after Redis lost its data: `restore` raises every group's counter past
the ids the history holds (a group whose incidents are all resolved included), and brings back open incidents so
their alerts join them. Without it (the control), Redis issues `INC-<group>-1` again."""

from __future__ import annotations

import time
from collections import Counter

import orjson
import pytest
import sqlalchemy as sa

from stormwatch.app import Worker
from stormwatch.history import schema
from stormwatch.history.database import open_engine
from stormwatch.history.restore import restore
from tests.conftest import eventually
from tests.integration.helpers import body, publish, v2_alert
from tests.integration.history_support import history_database
from tests.integration.test_event_contract import Capture


async def _created(capture: Capture, alertname: str = "") -> list[str]:
    """The ids of every incident.created so far (of one alertname's group if given), in order."""
    await capture.types()
    docs = [orjson.loads(m.body)["incident"] for m in capture.messages if m.routing_key == "incident.created"]
    return [d["id"] for d in docs if not alertname or d["group_labels"].get("alertname") == alertname]


async def _forget(worker: Worker, namespace: str) -> None:
    keys = [k async for k in worker.redis.scan_iter(match=f"{namespace}:*", count=1000)]
    await worker.redis.delete(*keys)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize("restored", [True, False])
async def test_ids_are_never_issued_twice_after_redis_lost_its_data(clean, tmp_path, kind, restored):
    async with history_database(kind, tmp_path) as url:
        settings = clean.model_copy(update={"history_enabled": True, "history_url": url, "metrics_enabled": False,
                                            "history_auto_restore": False})  # restored here, or not at all
        capture = await Capture(settings).start()
        worker = Worker(settings)
        await worker.start()
        engine = open_engine(url)
        try:
            await eventually(worker.history.ready.is_set, what="history writer started")
            await publish(settings, [body([v2_alert("Gone", "a", "h1")]), body([v2_alert("Stays", "b", "h1")])])
            await eventually(lambda: _count(capture, 2), what="two incidents")
            await publish(settings, [body([v2_alert("Gone", "a", "h1", resolved=True)])])
            before = await _created(capture)
            gone = (await _created(capture, "Gone"))[0]

            async def written() -> bool:
                async with engine.connect() as conn:
                    statuses = dict((await conn.execute(sa.select(schema.incidents.c.id, schema.incidents.c.status)))
                                    .all())
                return statuses.get(gone) == "resolved" and len(statuses) == 2
            await eventually(written, what="both incidents in the history, the first resolved")

            await _forget(worker, settings.namespace)
            if restored:
                done = await restore(engine, worker.redis, settings.namespace, time.time())
                assert (done.incidents, done.counters_raised) == (1, 2)
            await publish(settings, [body([v2_alert("Gone", "a", "h1")]), body([v2_alert("Stays", "b", "h1")]),
                                     body([v2_alert("Stays", "b", "h2")])])
            await eventually(lambda: _firing_in_redis(worker, settings.namespace, 3), what="the second wave in")
            # the events follow the state: wait for the second wave's incident.created (1 new with restore, 2 without)
            await eventually(lambda: _count(capture, 3 if restored else 4), what="the second wave's incidents")
            created = await _created(capture)
            repeated = [i for i, n in Counter(created).items() if n > 1]
            if restored:
                assert repeated == [] and len(created) == 3  # only the resolved group's next incident is new
                assert created[-1] == gone.rsplit("-", 1)[0] + "-2"
            else:  # the control: this is what restore prevents
                assert sorted(repeated) == sorted(before)
        finally:
            await engine.dispose()
            await worker.stop()
            await capture.close()


async def _count(capture: Capture, n: int) -> bool:
    return len(await _created(capture)) >= n


async def _firing_in_redis(worker: Worker, namespace: str, n: int) -> bool:
    incidents = await worker.store.list_incidents(open_only=True)
    return sum(i.firing for i in incidents) >= n
