"""Go RE2 regex syntax (Alertmanager's): the check that decides which patterns Stormwatch accepts.

Patterns *run* on RE2 itself (``rules.regex``, linear time). This module decides what is accepted, with messages
that say why not: it refuses what Go's RE2 refuses but Python's ``re`` would accept (backreferences, lookarounds,
atomic groups, possessive quantifiers, ``\\Z``, Python escapes), and, to keep the accepted set exactly what it was
when matchers ran on ``re``, what ``re`` could not run (``\\p{..}``, ``(?U)``, negated POSIX classes, flags after
the start). The check walks a translation to ``re`` syntax that keeps RE2's meaning (``\\d`` ASCII, ``$`` end of
text, ``\\z``, ``\\x{..}``, ``\\Q..\\E``, POSIX classes) and compiles it, never matching with it: compiling is
linear in the pattern. The translation is also the reference the property tests compare RE2 with
(``tests/unit/test_regex_engine.py``). No I/O.
"""

from __future__ import annotations

import re
import warnings

__all__ = ["RE2Error", "check_re2"]


class RE2Error(ValueError):
    """The pattern is not valid RE2, or uses what RE2 does not support; the message says what and why."""


# --- translation ---------------------------------------------------------------------------

_MAX_REPEAT = 1000  # RE2's limit on {n,m} counts
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")
_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z-]*)([:)])")
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")
_POSIX_CLASS = re.compile(r"\[:(\^?)([a-z]*):\]")
_POSIX = {  # ASCII, as in RE2
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_NOT_RE2 = "is not supported by RE2 (Alertmanager's regex syntax)"


class _RegexError(Exception):
    pass


def _translate(pattern: str) -> tuple[str, int]:
    """RE2 syntax -> an equivalent Python pattern and flags; refuses what RE2 refuses but ``re`` accepts.

    Translated: ``\\z`` -> ``\\Z``, ``\\x{...}``, ``\\Q...\\E``, ``(?<name>``, POSIX classes ``[[:alpha:]]``,
    a ``{`` that is not a repeat (literal in RE2), ``$`` outside multi-line mode (end of text in RE2).
    ``\\d \\w \\s \\b`` are ASCII in RE2, so a pattern using them is compiled with ``re.ASCII``.
    """
    out: list[str] = []
    flags = 0
    multiline = False
    in_class = False
    class_start = False  # just after '[' or '[^': a ']' here is literal
    prev_quantifier = False
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        quantifier = False
        if c == "\\":
            if i + 1 >= n:
                raise _RegexError("trailing backslash at the end of the expression")
            d = pattern[i + 1]
            if d in "123456789":
                raise _RegexError(f"backreference '\\{d}' {_NOT_RE2}")
            if d in "uUN":
                raise _RegexError(f"'\\{d}' is Python syntax and {_NOT_RE2}; write a code point as \\x{{263a}}")
            if d == "Z":
                raise _RegexError(f"'\\Z' {_NOT_RE2}; use '\\z' for the end of the text")
            if d in "pP":
                raise _RegexError(f"Unicode classes ('\\{d}{{...}}') are not supported by Stormwatch's regex engine")
            if d == "Q" and not in_class:
                end = pattern.find("\\E", i + 2)
                stop = n if end < 0 else end
                out.append(re.escape(pattern[i + 2 : stop]))
                i = n if end < 0 else end + 2
            elif d == "x" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                digits = pattern[i + 3 : end] if end > 0 else ""
                if not re.fullmatch(r"[0-9A-Fa-f]{1,8}", digits) or int(digits, 16) > 0x10FFFF:
                    raise _RegexError(f"invalid escape '\\x{{{digits}...' (expected \\x{{hex}} up to 10FFFF)")
                out.append(f"\\U{int(digits, 16):08x}")
                i = end + 1
            else:
                if d == "z" and not in_class:
                    out.append("\\Z")
                else:
                    if d in "dDwWsSbB":
                        flags |= re.ASCII
                    out.append(c + d)
                i += 2
            class_start = False
        elif in_class:
            if c == "]" and not class_start:
                in_class = False
                out.append(c)
                i += 1
            elif c == "[":
                m = _POSIX_CLASS.match(pattern, i)
                if m:
                    if m.group(1):
                        raise _RegexError(f"negated POSIX class '{m.group()}' is not supported; use [^[:...:]]")
                    if m.group(2) not in _POSIX:
                        raise _RegexError(f"unknown POSIX class '{m.group()}'")
                    out.append(_POSIX[m.group(2)])
                    i = m.end()
                else:
                    out.append("\\[")  # literal in RE2; Python would warn about a nested set
                    i += 1
            else:
                out.append("\\" + c if c in "&~|" else c)  # literal in both; escaped to keep Python quiet
                i += 1
            class_start = False
        elif c == "[":
            in_class, class_start = True, True
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
        elif c == "(" and pattern.startswith("(?", i):
            ext = pattern[i + 2 : i + 4]
            if ext[:1] in ("=", "!") or ext in ("<=", "<!"):
                raise _RegexError(f"lookaround '(?{ext[:2] if ext[:1] == '<' else ext[:1]}' {_NOT_RE2}")
            if ext == "P=":
                raise _RegexError(f"named backreference '(?P=' {_NOT_RE2}")
            if ext[:1] == "(":
                raise _RegexError(f"conditional group '(?(' {_NOT_RE2}")
            if ext[:1] == ">":
                raise _RegexError(f"atomic group '(?>' {_NOT_RE2}")
            if ext[:1] == "#":
                raise _RegexError(f"comment group '(?#' {_NOT_RE2}")
            named = _NAMED_GROUP.match(pattern, i)
            flag_group = _FLAG_GROUP.match(pattern, i)
            if named:
                out.append(f"(?P<{named.group(1)}>")
                i = named.end()
            elif flag_group:
                letters = flag_group.group(1)
                bad = sorted(set(letters) - set("ims-"))
                if bad:
                    raise _RegexError(f"regex flag(s) {''.join(bad)!r} not supported; use i, m and s")
                if "m" in letters.split("-")[0]:
                    multiline = True
                out.append(flag_group.group())
                i = flag_group.end()
            else:
                out.append("(?")
                i += 2
        elif c in "*+?":
            if prev_quantifier and c == "+":
                raise _RegexError(f"possessive quantifier '{pattern[i - 1 : i + 1]}' {_NOT_RE2}")
            out.append(c)
            i += 1
            quantifier = c != "?" or not prev_quantifier  # '*?' is lazy, not a second quantifier
        elif c == "{":
            m = _REPEAT.match(pattern, i)
            if m:
                if int(m.group(1)) > _MAX_REPEAT or (m.group(2) and int(m.group(2)) > _MAX_REPEAT):
                    raise _RegexError(f"repeat count in '{m.group()}' is above RE2's limit of {_MAX_REPEAT}")
                out.append(m.group())
                i = m.end()
                quantifier = True
            else:
                out.append("\\{")  # not a repeat: a literal brace in RE2 (Python reads '{,3}' as a repeat)
                i += 1
        elif c == "$" and not multiline:
            out.append("\\Z")  # RE2 '$' without (?m) is the end of the text; Python's also matches before a final \n
            i += 1
        else:
            out.append(c)
            i += 1
        prev_quantifier = quantifier
    return "".join(out), flags


def check_re2(pattern: str) -> None:
    """:class:`RE2Error` unless ``pattern`` is accepted RE2 syntax (RE2 may still refuse it: ``rules.regex``)."""
    _compile_python(pattern)


def _compile_python(pattern: str) -> re.Pattern[str]:
    """The pattern translated for Python's ``re`` (anchor it with ``fullmatch``): how matchers ran before RE2,
    kept as the syntax check and as the tests' reference. Never match untrusted text with it (backtracking)."""
    try:
        translated, flags = _translate(pattern)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(translated, flags)
    except _RegexError as exc:
        raise RE2Error(str(exc)) from None
    except re.error as exc:
        reason = exc.msg
        if "global flags not at the start" in reason:
            reason = "flags like (?i) must come first in the expression; elsewhere use the scoped form (?i:...)"
        raise RE2Error(reason) from None
