"""The open-incident index (``<ns>:incidents:open``) made to agree with each incident's status.

The index is one key; an incident's hash lives in its group's slot, so on a Redis Cluster no script can write
both, and every writer of a status updates the index after its own write, outside it. Two writers racing (the
engine resolving while a person reopens, a person resolving a declared incident the moment it was created) could
each write the index from a status read before the other's write, and the later index write would then be the
stale one: an open incident missing from the index, or a resolved one in it.

:func:`settle` closes that window. A writer states what it put in the index; the index is then re-read against
each incident's status and corrected, and every correction is followed by another read, until a read agrees
with what the index holds. So the last index write for an incident is always followed by a read of its status by
the same writer; a status written after that read belongs to a writer that settles the index after its own
write, later still. The index converges to the statuses whatever the interleaving (tested with the stale order
written out in ``tests/integration/test_open_index.py``)."""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from redis.asyncio import Redis

from correlation.core.model import OPEN_STATUSES
from correlation.store.keyspace import Keyspace

log = structlog.get_logger("stormwatch.store")

# Each round is a read and, when it disagrees, a correction; people and workers changing one incident's status
# faster than this many round trips is not a case that occurs, and a run out of rounds is logged and left to the
# next write of that incident.
ROUNDS = 8


async def settle(redis: Redis, keys: Keyspace, written: Mapping[str, bool | None]) -> bool:
    """Make the open index agree with the statuses of the incidents in ``written``.

    ``written`` maps an incident id to what the caller last put in the index for it: ``True`` added, ``False``
    removed, ``None`` nothing yet (the first read decides). Returns whether the index was corrected."""
    todo = dict(written)
    corrected = False
    for _ in range(ROUNDS):
        if not todo:
            return corrected
        pipe = redis.pipeline(transaction=False)
        ids = list(todo)
        for iid in ids:
            pipe.hmget(keys.incident(iid), "status", "created_at")
        fields = await pipe.execute()
        fix: dict[str, float | None] = {}  # id -> score to add with, or None to remove
        for iid, (status, created_at) in zip(ids, fields, strict=True):
            is_open = status is not None and created_at is not None and status.decode() in OPEN_STATUSES
            if todo[iid] is not is_open:
                fix[iid] = float(created_at) if is_open else None
        if not fix:
            return corrected
        pipe = redis.pipeline(transaction=False)
        for iid, score in fix.items():
            if score is None:
                pipe.zrem(keys.open_incidents, iid)
            else:
                pipe.zadd(keys.open_incidents, {iid: score})
        await pipe.execute()
        corrected = True
        todo = {iid: score is not None for iid, score in fix.items()}
    log.warning("open_index_unsettled", incidents=sorted(todo))
    return corrected
