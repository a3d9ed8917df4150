"""A bounded memo for the hot path: two generations of plain dicts, so memory stays bounded without a cliff.

Lookups read the young generation, then the old one (a hit there moves the entry to the young one). When the
young generation holds half the entry limit, or half the byte budget, it becomes the old one and the previous old
one is dropped: entries used since the last turn survive, the rest are forgotten. Every lookup is O(1) and is a
couple of dict operations, unlike an LRU list, and unlike clearing everything when full there is no moment when
the whole hot set is lost.

Bytes are an estimate (:func:`approximate_size`: string lengths plus a fixed per-object overhead, measured with
``sys.getsizeof`` on CPython 3.11), taken once per ``put`` (a miss), never on a hit, so the hot path keeps its speed.
An entry heavier than half the budget is not memoised at all (the caller recomputes it each time).
"""

from __future__ import annotations

from itertools import chain
from typing import Generic, TypeVar
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sized

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# entries, both generations together: label sets notified again within ~32,000 others hit;
# see docs/scaling.md (worker RSS)
MEMO_LIMIT = 65_536
MEMO_MAX_BYTES = 128 << 20  # estimated bytes, both generations together (STORMWATCH_MEMO_MAX_BYTES); docs/security.md

# CPython 3.11, 64-bit: sys.getsizeof("") == 49, of a 2-tuple 56, and a frozenset/set grows ~ 40 bytes per member
_STR = 49
_TUPLE = 40
_PER_ITEM = 8
_SET = 216
_SET_ITEM = 40
_PAIR = _SET_ITEM + _TUPLE + 2 * (_PER_ITEM + _STR)  # one (name, value) member of a label set, strings aside
_OTHER = 64  # anything else (an int, a rule object shared with the rule set): a pointer and a share of the object


def approximate_size(value: object) -> int:
    """Rough bytes held by a memo key or value: strings, label sets (frozensets of name/value pairs), dicts of
    strings, tuples of them. Label sets and dicts are summed by C-level ``len`` calls (about a microsecond for a
    usual label set); anything else is walked."""
    if type(value) is str:
        return _STR + len(value)
    if type(value) is frozenset:
        try:  # a label set: each member a (name, value) pair
            return _SET + len(value) * _PAIR + sum(map(len, chain.from_iterable(value)))
        except TypeError:  # members that are not pairs of sized things
            return _SET + sum(_SET_ITEM + approximate_size(item) for item in value)
    if type(value) is dict:
        try:
            return _SET + len(value) * (_SET_ITEM + 2 * _STR) + sum(map(len, value)) + sum(map(len, value.values()))
        except TypeError:
            return _SET + sum(_SET_ITEM + approximate_size(k) + approximate_size(v) for k, v in value.items())
    if type(value) is tuple:
        total = _TUPLE
        for item in value:
            if type(item) is str:
                total += _PER_ITEM + _STR + len(item)
            elif type(item) is tuple and len(item) == 2 and type(item[0]) is str and type(item[1]) is str:
                total += _PER_ITEM + _TUPLE + 2 * (_PER_ITEM + _STR) + len(item[0]) + len(item[1])
            else:
                total += _PER_ITEM + approximate_size(item)
        return total
    return _OTHER


def weigh_key(key: object, value: object, _fixed: int = _SET, _pair: int = _PAIR,
              _chain: Callable[[Iterable[Iterable[Sized]]], Iterator[Sized]] = chain.from_iterable) -> int:
    """The default weight: the key's size (values usually share the key's strings, or are small). A label set
    (the usual key) is summed right here, without a further call."""
    if type(key) is frozenset:
        try:
            return _fixed + len(key) * _pair + sum(map(len, _chain(key)))
        except TypeError:
            pass
    return approximate_size(key)


class BoundedMemo(Generic[K, V]):
    __slots__ = ("_young", "_old", "_half", "_half_bytes", "_young_bytes", "_old_bytes", "_weigh")

    def __init__(self, limit: int = MEMO_LIMIT, max_bytes: int = MEMO_MAX_BYTES,
                 weigh: Callable[[K, V], int] = weigh_key) -> None:
        self._young: dict[K, V] = {}
        self._old: dict[K, V] = {}
        self._half = max(1, limit // 2)
        self._half_bytes = max(1, max_bytes // 2)
        self._young_bytes = 0
        self._old_bytes = 0
        self._weigh = weigh

    def get(self, key: K) -> V | None:
        value = self._young.get(key)
        if value is None:
            value = self._old.pop(key, None)
            if value is not None:  # its bytes stay counted in the old generation too: an overestimate, safe
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Called on a miss (the key is in neither generation, or is being moved out of the old one)."""
        size = self._weigh(key, value)
        young_bytes = self._young_bytes + size
        if young_bytes > self._half_bytes or len(self._young) >= self._half:
            if size > self._half_bytes:
                return  # heavier than a generation: memoising it would evict everything else
            self._old, self._old_bytes = self._young, self._young_bytes
            self._young, young_bytes = {}, size
        self._young_bytes = young_bytes
        self._young[key] = value

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    @property
    def bytes(self) -> int:
        """Estimated bytes held (both generations)."""
        return self._young_bytes + self._old_bytes

    def clear(self) -> None:
        self._young.clear()
        self._old.clear()
        self._young_bytes = self._old_bytes = 0


class ByLabels(Generic[V]):
    """A pure function of a label set that reads only the labels ``names``, memoised by those labels' values
    (``None`` where absent): label sets that differ only elsewhere share one entry, so a label set seen for the
    first time is usually a hit (its ``instance`` is new, its ``alertname`` and ``service`` are not).

    Exact as long as ``compute`` reads no other label (``rules.matchers.names_read`` lists what matchers read); the
    key is a tuple of a few strings, cheaper to build than a frozenset of every label. Bounded as ``BoundedMemo``."""

    __slots__ = ("names", "_compute", "_memo")

    def __init__(self, names: Iterable[str], compute: Callable[[Mapping[str, str]], V], limit: int = MEMO_LIMIT,
                 max_bytes: int = MEMO_MAX_BYTES) -> None:
        self.names = tuple(names)
        self._compute = compute
        # values are boxed in a 1-tuple: ``compute`` may answer None, which ``BoundedMemo.get`` means as a miss
        self._memo: BoundedMemo[tuple[str | None, ...], tuple[V]] = BoundedMemo(limit, max_bytes)

    def __call__(self, labels: Mapping[str, str]) -> V:
        key = tuple(map(labels.get, self.names))
        found = self._memo.get(key)
        if found is None:
            found = (self._compute(labels),)
            self._memo.put(key, found)
        return found[0]

    def __len__(self) -> int:
        return len(self._memo)
