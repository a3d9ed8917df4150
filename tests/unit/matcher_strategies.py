"""Hypothesis strategies shared by the memo property tests: random matcher lists over a test's own vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

OPERATORS = ("=", "!=", "=~", "!~")


@st.composite
def matcher_lists(draw: Any, names: Sequence[str], values: Sequence[str], patterns: Sequence[str],
                  at_least: int = 0, at_most: int = 3) -> list[str]:
    """``at_least``..``at_most`` matchers ``name<op>"value"``: a regex operator takes a value from ``patterns``."""
    out = []
    for _ in range(draw(st.integers(at_least, at_most))):
        name, op = draw(st.sampled_from(names)), draw(st.sampled_from(OPERATORS))
        value = draw(st.sampled_from(patterns if "~" in op else values))
        out.append(f'{name}{op}"{value}"')
    return out
