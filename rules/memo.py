"""A bounded memo for the hot path: two generations of plain dicts, so memory stays bounded without a cliff.

Lookups read the young generation, then the old one (a hit there moves the entry to the young one). When the
young generation holds half the limit, it becomes the old one and the previous old one is dropped: entries used
since the last turn survive, the rest are forgotten. Every operation is O(1) and is a couple of dict operations,
unlike an LRU list, and unlike clearing everything when full there is no moment when the whole hot set is lost.
"""

from __future__ import annotations

from typing import Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MEMO_LIMIT = 65_536  # entries, both generations together: label sets notified again within ~32,000 others hit; see docs/scaling.md (worker RSS)


class BoundedMemo(Generic[K, V]):
    __slots__ = ("_young", "_old", "_half")

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        self._young: dict[K, V] = {}
        self._old: dict[K, V] = {}
        self._half = max(1, limit // 2)

    def get(self, key: K) -> V | None:
        value = self._young.get(key)
        if value is None:
            value = self._old.pop(key, None)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        if len(self._young) >= self._half:
            self._old = self._young
            self._young = {}
        self._young[key] = value

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def clear(self) -> None:
        self._young.clear()
        self._old.clear()
