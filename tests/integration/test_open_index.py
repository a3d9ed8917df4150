"""The open-incident index agrees with the incidents' statuses whatever order racing writers' index writes land in.

Each test writes out one stale order by hand (a writer's index write arriving after another writer changed the
status and indexed it) against the real Redis, and checks the index ends where the status says."""

from __future__ import annotations

import aio_pika
import orjson

from correlation.store.incident_commands import IncidentCommands
from correlation.store.keyspace import Keyspace
from correlation.store.open_index import settle
from correlation.store.store import FollowUps
from ingest.topology import Names
from tests.conftest import eventually
from tests.integration.helpers import v2_alert


async def _open_incident(worker) -> str:
    settings = worker.settings
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(settings.namespace).alerts_exchange)
        await exchange.publish(aio_pika.Message(orjson.dumps([v2_alert("DiskFull", "db", "db-1")]),
                                                message_id="m-open"), routing_key="a")

        async def opened() -> list:
            return await worker.store.list_incidents()

        (incident,) = await eventually(opened, what="the incident")
        return incident.id
    finally:
        await connection.close()


async def test_the_engines_removal_landing_after_a_person_reopened_leaves_the_incident_indexed(worker):
    """The engine resolved the incident; a person reopened it and indexed it; the engine's removal, written from
    the status it decided on, lands last. The incident is open and must stay in the open index."""
    keys = Keyspace(worker.settings.namespace)
    iid = await _open_incident(worker)
    assert (await worker.store.incident(iid)).status == "open"  # the person's reopen, already indexed

    open_count = await worker.store.index([FollowUps([], [iid], [])])  # the engine's stale removal

    assert await worker.redis.zscore(keys.open_incidents, iid) is not None
    assert open_count == 1
    assert [i.id for i in await worker.store.list_incidents(open_only=True)] == [iid]


async def test_a_persons_stale_index_write_is_corrected_both_ways(worker):
    """A person's command indexes from the status it wrote; another writer changed it since. Removal of an open
    incident is undone; addition of a resolved one is taken back."""
    keys = Keyspace(worker.settings.namespace)
    iid = await _open_incident(worker)
    commands = IncidentCommands(worker.redis, keys, timeline_max=worker.settings.timeline_max_entries)
    stored = {k.decode(): v.decode() for k, v in (await worker.redis.hgetall(keys.incident(iid))).items()}

    await commands._index(iid, stored, "remove")  # written from a resolve the incident has since left
    assert await worker.redis.zscore(keys.open_incidents, iid) is not None

    await worker.redis.hset(keys.incident(iid), "status", "resolved")  # resolved by another writer meanwhile
    await commands._index(iid, stored, "add")  # written from a reopen that is no longer true
    assert await worker.redis.zscore(keys.open_incidents, iid) is None


async def test_settle_reads_first_when_nothing_was_written_and_drops_what_is_gone(worker):
    keys = Keyspace(worker.settings.namespace)
    iid = await _open_incident(worker)
    await worker.redis.zrem(keys.open_incidents, iid)

    assert await settle(worker.redis, keys, {iid: None}) is True
    assert await worker.redis.zscore(keys.open_incidents, iid) == (await worker.store.incident(iid)).created_at
    assert await settle(worker.redis, keys, {iid: True}) is False  # agrees: nothing to correct

    gone = iid[:-1] + "9"  # no such incident
    await worker.redis.zadd(keys.open_incidents, {gone: 1.0})
    assert await settle(worker.redis, keys, {gone: True}) is True
    assert await worker.redis.zscore(keys.open_incidents, gone) is None
