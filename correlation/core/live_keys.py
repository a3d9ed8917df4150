"""Live cause keys: which keys of a cause index may hold a source that still explains. Pure, no I/O.

A cause index keeps every key ever fed (the store's hashes expire a week after their last write, the replay's never),
and nearly all of a long storm's keys hold only sources that stopped long ago: a dependant's alert reads every
service it depends on (17 keys on average in ``replay.storms.large_storm``), of which about 9 were ever fed and
about 1 explains. ``Causes`` reads only the keys this index says may explain at the instant it is asked about, and
still checks each source there as before, so what it answers is the same.

A key is *live* while a source under it has an incident and either fires or stopped less than the longest recovery
grace of the rule set ago (``CauseRules.longest_grace``): a key that is not explains nothing under any rule. The index
is a superset: a key leaves it only once its last source's grace has run out (``at``). It is kept in step by whoever
writes the entries it reads (``changed`` after each write: the replay's simulation), or built from entries read once
(``Causes`` over a batch the worker read from the store: nothing of it outlives that batch, so another worker's
writes can never be missed). Asked about an instant before one it has already dropped keys at, it answers None (read
every key): a key dropped then may have explained earlier.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Set
from typing import Protocol

INF = float("inf")


class Source(Protocol):
    """What liveness reads of a cause index entry (``causes.Entry``)."""

    @property
    def incident(self) -> str: ...

    @property
    def stopped(self) -> float | None: ...


class LiveKeys:
    """The keys of a cause index under which a source may explain, kept as the index changes."""

    __slots__ = ("entries", "grace", "keys", "_latest", "_expiry", "_pruned")

    def __init__(self, entries: Mapping[str, Mapping[str, Source]], grace: float) -> None:
        """``entries``: the index (key -> source fingerprint -> entry), read again at each ``changed``; ``grace``:
        the longest recovery grace any lookup of these keys has."""
        self.entries = entries
        self.grace = grace
        self.keys: set[str] = set()
        self._latest: dict[str, float] = {}  # live key -> its sources' latest stop (INF while one fires)
        self._expiry: list[tuple[float, str]] = []  # (when a key's grace runs out, key), soonest first
        self._pruned = -INF  # keys were dropped at this instant: an earlier one is not answered
        self.changed(entries)

    def changed(self, keys: Iterable[str]) -> None:
        """The sources under these keys were written (or removed)."""
        for key in keys:
            latest = -INF
            for entry in self.entries.get(key, {}).values():
                if entry.incident:
                    if entry.stopped is None:
                        latest = INF
                        break
                    latest = max(latest, entry.stopped)
            if latest == -INF:  # no source with an incident: explains nothing, ever
                self.keys.discard(key)
                self._latest.pop(key, None)
                continue
            self.keys.add(key)
            self._latest[key] = latest
            if latest != INF:
                heapq.heappush(self._expiry, (latest + self.grace, key))

    def at(self, now: float) -> Set[str] | None:
        """A superset of the keys under which a source may explain at ``now``; None when ``now`` is before an
        instant keys were dropped at (the caller reads every key then)."""
        if now < self._pruned:
            return None
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, key = heapq.heappop(expiry)
            latest = self._latest.get(key)
            if latest is not None and latest + self.grace <= now:  # not written again since: its grace is over
                self.keys.discard(key)
                del self._latest[key]
                self._pruned = now
        return self.keys
