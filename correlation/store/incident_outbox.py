"""What the SLA and escalation stores share: fields of an incident's hash written with the events of the write in
the incident's outbox (field ``sla_outbox``) and its timeline entries, in one script call (``decided_write.lua``):
only if the fields the update decided on are as it read them, so the group's repeats, which move its version, do
not make it lose every retry; the write still moves the version, so other decisions read again.

The caller publishes the outbox and clears it (:meth:`IncidentOutboxStore.clear_outbox`, only if it still holds
what was published); a worker that dies in between leaves it to the first update of the incident at least
``OUTBOX_GRACE`` (the due-time lease) after it was written, which returns it again (its events have stable ids):
never lost, and not published twice by two live workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis

from correlation.core.model import parse_incident_id
from correlation.store.keyspace import Keyspace
from kv.scripts import Scripts

OUTBOX_FIELD = "sla_outbox"
#: seconds after which events left in an outbox are published again by the next update (the due-time service's
#: lease: a publisher still holding its timer is still publishing)
OUTBOX_GRACE = 60.0


@dataclass(eq=False)
class IncidentOutboxStore:
    """The base of a store that writes an incident's fields with their events in its outbox:
    ``Store(redis, keyspace, timeline_max=..., max_attempts=..., outbox_grace=...)``."""

    redis: Redis
    keys: Keyspace
    _: KW_ONLY
    timeline_max: int
    max_attempts: int = 20  # reads and writes again after a conflict, at most
    outbox_grace: float = OUTBOX_GRACE
    scripts: Scripts = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.scripts = Scripts(self.redis, "correlation.store", "decided_write", "sla_outbox_clear")

    def outbox_of(self, stored: dict[str, str], now: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The incident's outbox (empty: one started at ``now``) and the events in it to publish again: those
        another writer left, once they are older than the grace (until then its publisher may be publishing them
        right now, and a second copy is not wanted)."""
        box: dict[str, Any] = (orjson.loads(stored[OUTBOX_FIELD]) if stored.get(OUTBOX_FIELD)
                               else {"at": now, "events": []})
        pending: list[dict[str, Any]] = box["events"] if now - float(box["at"]) >= self.outbox_grace else []
        return box, pending

    @staticmethod
    def outbox_with(box: dict[str, Any], events: list[dict[str, Any]], stored: dict[str, str], now: float) -> str:
        """The outbox to write: the events left in it and this write's, at ``now``; unchanged without new events."""
        return (orjson.dumps({"at": now, "events": box["events"] + events}).decode() if events
                else stored.get(OUTBOX_FIELD, ""))

    async def write(self, incident_id: str, stored: dict[str, str], decided_on: Sequence[str], fields: list[str],
                    entries: list[bytes]) -> str:
        """Write ``fields`` (name, value, ...) and the timeline ``entries`` if the incident's ``decided_on`` fields are
        still as in ``stored`` (what the update read): ``ok``, ``conflict`` (read it again and decide again) or
        ``missing`` (the incident is gone)."""
        gid, _ = parse_incident_id(incident_id)
        keys = [self.keys.group(gid), self.keys.incident(incident_id), self.keys.incident_timeline(incident_id)]
        read = [x for name in decided_on for x in (name, stored.get(name, ""))]
        args = [self.timeline_max, len(decided_on), *read, len(fields), *fields, *entries]
        (result,) = await self.scripts.run_many("decided_write", [(keys, args)])
        return str(result[0].decode())

    async def clear_outbox(self, incident_id: str, outbox: str) -> bool:
        """Forget the published events, only if no crossing was written since they were read."""
        if not outbox:
            return False
        (cleared,) = await self.scripts.run_many(
            "sla_outbox_clear", [([self.keys.incident(incident_id)], [outbox])])
        return bool(cleared)
