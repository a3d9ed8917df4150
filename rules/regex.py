"""Matcher regexes on RE2 itself: linear time in the length of the text, whatever the pattern.

Alertmanager compiles matcher regexes with Go's ``regexp`` (RE2 syntax and semantics, anchored as
``^(?:pattern)$``). Here they run on Google's RE2 through the official ``google-re2`` bindings, so a pattern such
as ``(a+)+b`` over a 10,000-character label answers in microseconds where a backtracking engine would run for
years. The syntax check stays :func:`rules.re2.check_re2` (what Go refuses, and the same messages as before);
RE2 then compiles the pattern unchanged, anchored at both ends (``ANCHOR_BOTH``: a full match, ``$`` the end of
the text), without capture groups (only match / no match is needed).

Two bounds keep memory flat: the compiled-pattern cache holds at most :data:`CACHE_PATTERNS` patterns and
:data:`CACHE_CHARS` pattern characters (least recently used out first), and each pattern remembers the answer for
at most :data:`RESULTS_PER_PATTERN` label values of up to :data:`RESULT_VALUE_CHARS` characters (the pybind call
into RE2 costs ~1 us, a remembered answer a dict lookup; label values such as ``severity`` repeat). Each RE2
object is limited to RE2's default 8 MiB (``max_mem``; past that RE2 refuses to compile, and its DFA falls back
to the NFA, still linear). No I/O.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import re2
from re2 import _re2  # the bindings' C++ layer: one call per match (the `re`-style wrapper costs ~5x more)

from rules.re2 import RE2Error, check_re2

__all__ = ["CACHE_CHARS", "CACHE_PATTERNS", "RE2Pattern", "compile_re2"]

CACHE_PATTERNS = 256  # compiled patterns kept for reuse (rules, silences, recent previews)
CACHE_CHARS = 1 << 20  # ... and at most this many pattern characters in all
RESULTS_PER_PATTERN = 256  # remembered answers per pattern, in two generations (see rules.memo)
RESULT_VALUE_CHARS = 64  # only label values up to this length are remembered

_BOTH = _re2.RE2.Anchor.ANCHOR_BOTH
_NO_MATCH = (-1, -1)


def _options() -> re2.Options:
    options = re2.Options()
    options.never_capture = True  # match or not: no submatch bookkeeping
    options.log_errors = False  # errors come back as RE2Error, not on stderr
    return options


class RE2Pattern:
    """One compiled pattern; :meth:`fullmatch` tells whether it matches the *whole* text."""

    __slots__ = ("pattern", "_re", "_young", "_old")

    def __init__(self, pattern: str, compiled: _re2.RE2) -> None:
        self.pattern = pattern
        self._re = compiled
        self._young: dict[str, bool] = {}
        self._old: dict[str, bool] = {}

    def fullmatch(self, text: str) -> bool:
        found = self._young.get(text)
        if found is not None:
            return found
        found = self._old.get(text)
        if found is None:
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: Go would hold U+FFFD there
                data = _replace_surrogates(text).encode("utf-8")
            span: tuple[int, int] = self._re.Match(_BOTH, data, 0, len(data))[0]
            found = span != _NO_MATCH
            if len(text) > RESULT_VALUE_CHARS:
                return found
        if len(self._young) >= RESULTS_PER_PATTERN // 2:
            self._old, self._young = self._young, {}
        self._young[text] = found
        return found

    def __repr__(self) -> str:
        return f"RE2Pattern({self.pattern!r})"


def _replace_surrogates(text: str) -> str:
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


class _PatternCache:
    """Least recently used compiled patterns, bounded by count and by pattern characters; thread-safe (rule
    files are validated off the event loop)."""

    def __init__(self, patterns: int, chars: int) -> None:
        self._entries: OrderedDict[str, RE2Pattern] = OrderedDict()
        self._chars = 0
        self._max_patterns, self._max_chars = patterns, chars
        self._lock = threading.Lock()

    def get(self, pattern: str) -> RE2Pattern | None:
        with self._lock:
            found = self._entries.get(pattern)
            if found is not None:
                self._entries.move_to_end(pattern)
            return found

    def put(self, compiled: RE2Pattern) -> None:
        size = len(compiled.pattern)
        if size > self._max_chars:
            return
        with self._lock:
            if compiled.pattern in self._entries:
                return
            self._entries[compiled.pattern] = compiled
            self._chars += size
            while len(self._entries) > self._max_patterns or self._chars > self._max_chars:
                old, _ = self._entries.popitem(last=False)
                self._chars -= len(old)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def chars(self) -> int:
        return self._chars


# process-wide like `re`'s own cache: matchers are plain values built anywhere, and a pattern means one thing
_CACHE = _PatternCache(CACHE_PATTERNS, CACHE_CHARS)


def compile_re2(pattern: str) -> RE2Pattern:
    """Check ``pattern`` as Go RE2 syntax and compile it on RE2 for full matching; :class:`RE2Error` says why not.

    Identical patterns share one compiled object (bounded cache)."""
    cached = _CACHE.get(pattern)
    if cached is not None:
        return cached
    check_re2(pattern)
    compiled = _re2.RE2(pattern.encode("utf-8", "surrogatepass"), _options())
    if not compiled.ok():
        raise RE2Error(_reason(compiled.error()))
    result = RE2Pattern(pattern, compiled)
    _CACHE.put(result)
    return result


def _reason(error: bytes | str) -> str:
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else error
    if text.startswith("pattern too large"):
        return "the expression is too large for RE2 (its compiled program is above 8 MiB)"
    if text.startswith("invalid repetition size"):
        return f"{text} (RE2 allows at most 1000 repetitions, nested ones multiplied)"
    return text
