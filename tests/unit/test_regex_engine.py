"""Matcher regexes on RE2 (rules.regex): the same answers as the old translation to Python's ``re`` on safe
patterns, linear time on pathological ones, bounded caches, and the few places where the old translation was not
RE2 (there RE2, which is what Alertmanager runs, wins)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rules import regex
from rules.matchers import Matcher, MatcherError, MatchType
from rules.re2 import RE2Error, _compile_python
from rules.regex import RE2Pattern, _PatternCache, compile_re2

# --- the old engine as the reference -----------------------------------------------------------------------

_LITERALS = ["a", "b", "x", "0", "9", "é", "É", "🙂", "K", "k", "\\.", "\\-", "_", " ", "\\n", "\\t"]
_CLASSES = ["[abc]", "[^a]", "[a-z]", "[0-9x]", "[[:alpha:]]", "[[:digit:]_]", "[[:space:]]", "[]a]", "[a-]",
            "\\d", "\\D", "\\w", "\\W", "\\s", "\\S", ".", "\\x{e9}", "\\x41", "\\Qa.b\\E", "[\\d.]"]
_ASSERTIONS = ["^", "$", "\\b", "\\B", "\\A", "\\z"]
_QUANTIFIERS = ["*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{0,}", "{,2}"]

_atoms = st.sampled_from(_LITERALS + _CLASSES)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(inner, min_size=1, max_size=3).map("".join),  # concatenation
        st.tuples(inner, inner).map("|".join),  # alternation
        st.tuples(inner, st.sampled_from(["(", "(?:", "(?i:", "(?s:", "(?P<n>"])).map(lambda t: f"{t[1]}{t[0]})"),
        st.tuples(inner, st.sampled_from(_QUANTIFIERS)).map(lambda t: f"(?:{t[0]}){t[1]}"),
        st.tuples(st.sampled_from(_ASSERTIONS), inner).map("".join),
        st.tuples(inner, st.sampled_from(_ASSERTIONS)).map("".join),
    )


safe_patterns = st.tuples(st.sampled_from(["", "(?i)", "(?s)", "(?m)", "(?is)"]),
                          st.recursive(_atoms, _extend, max_leaves=6)).map("".join)
label_values = st.one_of(
    st.lists(st.sampled_from(["a", "b", "x", "0", "9", "é", "É", "🙂", "K", "k", ".", "-", "_", " ", "\n", "\t",
                              "ab", "a.b", "A", "]", "{,2}", "\u212a"]), max_size=8).map("".join),
    st.text(max_size=12),
)


def _old_answer(pattern: str, value: str) -> bool:
    return _compile_python(pattern).fullmatch(value) is not None


def _known_divergence(pattern: str, value: str) -> bool:
    """Where the translation to ``re`` was not RE2 (tested one by one below): ``\\s`` is ``[\\t\\n\\f\\r ]`` in
    RE2, Python's ASCII ``\\s`` also takes ``\\v``; with ``\\d \\w \\s \\b`` the translation
    compiled with ``re.ASCII``, which also turned ``(?i)`` into ASCII-only case folding; Python's ``\\B`` never
    matches the empty text."""
    if ("\\s" in pattern or "\\S" in pattern) and "\v" in value:
        return True
    if "\\B" in pattern and value == "":  # Python before 3.14: \B never matches the empty text; RE2's does
        return True
    uses_ascii = any(e in pattern for e in ("\\d", "\\D", "\\w", "\\W", "\\s", "\\S", "\\b", "\\B"))
    return uses_ascii and "(?i" in pattern and not value.isascii()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(pattern=safe_patterns, values=st.lists(label_values, min_size=1, max_size=6), data=st.data())
def test_re2_answers_as_the_old_translation(pattern: str, values: list[str], data: st.DataObject) -> None:
    try:
        old = _compile_python(pattern)
    except RE2Error:
        assume(False)
    new = compile_re2(pattern)
    # plus values the old engine matches, so both answers are exercised
    values += data.draw(st.lists(st.from_regex(old, fullmatch=True).filter(lambda v: len(v) <= 40), max_size=2))
    for value in values:
        if _known_divergence(pattern, value):
            continue
        assert new.fullmatch(value) is _old_answer(pattern, value), (pattern, value)
        assert Matcher("x", MatchType.NRE, pattern).matches({"x": value}) is not _old_answer(pattern, value)


# --- where the old translation was not RE2: RE2's answer is Alertmanager's ----------------------------------

DIVERGENCES = [
    # (pattern, value, RE2 = Go regexp answer, old translation's answer)
    ("\\s", "\v", False, True),  # RE2 \s is [\t\n\f\r ]: no vertical tab
    ("[[:space:]]", "\v", True, True),  # ... while the POSIX class has it, in both
    ("(?i)é\\d", "É1", True, False),  # \d made the translation compile with re.ASCII: no Unicode case folding
    ("(?i)k\\w", "\u212ax", True, False),  # KELVIN SIGN folds to k in RE2
    ("\\B", "", True, False),  # the empty text has no word boundary; Python's \B refused it (until 3.14)
    ("a*\\B", "", True, False),
]


@pytest.mark.parametrize(("pattern", "value", "re2_answer", "old_answer"), DIVERGENCES,
                         ids=[f"{c[0]} ~ {c[1]!r}" for c in DIVERGENCES])
def test_known_divergences_follow_re2(pattern: str, value: str, re2_answer: bool, old_answer: bool) -> None:
    assert compile_re2(pattern).fullmatch(value) is re2_answer
    assert _old_answer(pattern, value) is old_answer


def test_anchoring_and_end_of_text_as_alertmanager() -> None:
    assert not compile_re2("a$").fullmatch("a\n")  # '$' is the end of the text
    assert compile_re2("(?m)a$\\n").fullmatch("a\n")
    assert not compile_re2("b").fullmatch("abc")  # ^(?:b)$
    assert not compile_re2("a|b").fullmatch("ab")
    assert compile_re2("").fullmatch("") and not compile_re2("").fullmatch("x")
    assert not compile_re2("\\d+").fullmatch("١٢٣")  # ASCII digits only


# --- linear time -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", ["(a+)+b", "(a|a)*b", "(a*)*b", "(?:a|aa)+b", "(.*a){20}b"])
def test_pathological_patterns_answer_on_long_text(pattern: str) -> None:
    # backtracking needs ~2^n steps here; RE2 is linear (this test would not finish on `re`)
    text = "a" * 10_000
    assert compile_re2(pattern).fullmatch(text) is False
    assert Matcher("alertname", MatchType.NRE, pattern).matches({"alertname": text})


def test_a_pattern_re2_cannot_run_is_refused_with_a_reason() -> None:
    with pytest.raises(MatcherError, match="repetition"):
        Matcher("x", MatchType.RE, "(a{1000}){1000}")  # Python's re took it; RE2 (and Go) refuse it


def test_refused_patterns_keep_the_checks_message() -> None:
    with pytest.raises(RE2Error, match="backreference"):
        compile_re2("(a)\\1")
    with pytest.raises(RE2Error, match="bad escape"):
        compile_re2("\\C")  # C++ RE2 has \C (any byte), Go does not


def test_lone_surrogates_read_as_the_replacement_character() -> None:
    assert compile_re2("a.b").fullmatch("a\ud800b")
    assert compile_re2("a\\x{fffd}b").fullmatch("a\ud800b")


# --- bounds ------------------------------------------------------------------------------------------------

def test_remembered_answers_are_bounded() -> None:
    pattern = compile_re2("v[0-9]+")
    for i in range(5 * regex.RESULTS_PER_PATTERN):
        assert pattern.fullmatch(f"v{i}")
    assert len(pattern._young) + len(pattern._old) <= regex.RESULTS_PER_PATTERN
    long_value = "v" + "1" * (regex.RESULT_VALUE_CHARS + 1)
    assert pattern.fullmatch(long_value) and long_value not in pattern._young
    assert pattern.fullmatch("v7") and not pattern.fullmatch("w7") and not pattern.fullmatch("w7")


def test_pattern_cache_is_bounded_by_count_and_characters() -> None:
    cache = _PatternCache(patterns=4, chars=30)
    for i in range(10):
        cache.put(RE2Pattern(f"p{i}", object()))  # type: ignore[arg-type]
        assert len(cache) <= 4 and cache.chars <= 30
    assert cache.get("p9") is not None and cache.get("p0") is None
    cache.put(RE2Pattern("x" * 20, object()))  # type: ignore[arg-type]
    cache.put(RE2Pattern("z" * 20, object()))  # type: ignore[arg-type]
    assert cache.get("x" * 20) is None and cache.get("z" * 20) is not None and cache.chars <= 30
    cache.put(RE2Pattern("y" * 31, object()))  # larger than the whole budget: not kept
    assert cache.get("y" * 31) is None


def test_identical_patterns_share_one_compiled_object() -> None:
    assert compile_re2("shared-[0-9]+") is compile_re2("shared-[0-9]+")
    assert isinstance(compile_re2("shared-[0-9]+"), RE2Pattern)


def test_reference_is_the_backtracking_engine() -> None:
    # the reference really is Python's re (so the property test compares two different engines)
    assert isinstance(_compile_python("a+"), re.Pattern)
