"""The hot path's bounded memo: bounded, keeps what is used, forgets what is not, and never loses the hot set at once."""

from __future__ import annotations

from hypothesis import given, strategies as st

from rules.memo import BoundedMemo


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
