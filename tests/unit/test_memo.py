"""The hot path's bounded memo: bounded, keeps what is used, forgets what is not, and never loses the hot set at once."""

from __future__ import annotations

from hypothesis import given, strategies as st

from rules.memo import BoundedMemo, approximate_size


def test_entries_used_since_the_last_turn_survive_it() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(limit=4)  # two generations of two
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("c", 3)  # the young generation (a, b) becomes the old one
    assert memo.get("a") == 1  # a hit in the old generation moves it to the young one
    memo.put("d", 4)  # young (c, a) turns old; (b) is forgotten
    assert memo.get("b") is None
    assert (memo.get("a"), memo.get("c"), memo.get("d")) == (1, 3, 4)
    assert len(memo) <= 4


@given(st.lists(st.integers(0, 50), max_size=500), st.integers(1, 20))
def test_never_holds_more_than_its_limit_and_never_answers_wrongly(keys: list[int], limit: int) -> None:
    memo: BoundedMemo[int, int] = BoundedMemo(limit)
    for k in keys:
        found = memo.get(k)
        assert found is None or found == k * 10
        if found is None:
            memo.put(k, k * 10)
        assert len(memo) <= max(2, limit)


def test_big_entries_turn_the_generations_by_bytes_not_count() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(limit=65_536, max_bytes=40_000)  # generations of 20,000 bytes
    for n in range(100):
        memo.put(f"{n:03d}" + "x" * 9_000, n)  # ~9 KB each: two fit in a generation
        assert memo.bytes <= 40_000
        assert len(memo) <= 4
    assert memo.get("099" + "x" * 9_000) == 99


def test_an_entry_heavier_than_a_generation_is_not_kept() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(max_bytes=10_000)
    memo.put("small", 1)
    memo.put("y" * 6_000, 2)
    assert memo.get("y" * 6_000) is None
    assert memo.get("small") == 1


def test_approximate_size_counts_label_sets() -> None:
    labels = {"alertname": "HighCPU", "service": "x" * 1_000}
    size = approximate_size(frozenset(labels.items()))
    assert 1_000 + len("alertnameHighCPUservice") < size < 2_000
    assert approximate_size(("rule", tuple(labels.items()))) > 1_000
    assert approximate_size(labels) > 1_000


@given(st.lists(st.text(max_size=300), max_size=300), st.integers(1_000, 20_000))
def test_never_holds_more_than_its_byte_budget(keys: list[str], budget: int) -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(max_bytes=budget)
    for k in keys:
        if memo.get(k) is None:
            memo.put(k, len(k))
        assert memo.bytes <= budget
