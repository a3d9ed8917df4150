"""Label matchers with Alertmanager semantics: ``name=value``, ``!=``, ``=~``, ``!~``.

A matcher tests one label of an alert. A missing label matches as the empty string, so ``team=""`` matches
alerts without a ``team`` label and ``team!=""`` only alerts that have a non-empty one. Regexes are fully
anchored, as Alertmanager compiles them (``^(?:value)$``): ``severity=~"crit"`` does not match ``critical``.

Two forms, one meaning:

* the string form, ``severity=~"critical|page"`` or a list ``{alertname="DiskFull", team!="db"}``;
* the structured form, ``{"name": "severity", "op": "=~", "value": "critical|page"}`` (``op`` defaults to
  ``=``) or the one-key shorthand ``{"severity": "critical"}``.

The string syntax follows Alertmanager's classic parser (``pkg/labels/parse.go``) where it and the newer UTF-8
parser (``matcher/parse``) agree. Where they disagree on what an input *means*, the classic reading wins, as it
does in Alertmanager's default fallback mode (``matcher/compat``): inside quoted values only ``\\"``, ``\\\\`` and
``\\n`` are escapes and any other backslash is literal, so ``instance=~"web\\d+"`` is the regex ``web\\d+``. Label
names follow the UTF-8 parser: a double-quoted name (``"service.name"="api"``) is read as Go's ``strconv.Unquote``
reads it and may be any non-empty valid UTF-8 string; with UTF-8 label names (``rules.label_names``, the default) an
unquoted name is, as in the UTF-8 parser, any run of characters other than spaces, backquotes and ``{}!=~,\\"'`` (so
``service.name=api`` parses, as it does in Alertmanager 0.27+), and with ``STORMWATCH_LABEL_NAMES=classic`` it is
``[a-zA-Z_:][a-zA-Z0-9_:]*``. Input both parsers would only accept with a warning (unbalanced braces, empty matchers
between commas) is rejected. See ``docs/rules/matchers.md``.

Regexes use Go's RE2 syntax and run on RE2 itself (``rules.regex``): linear time in the label's length, so no
pattern can stall a worker (``rules.re2`` refuses what Go's RE2 refuses, with a reason).

No I/O, no imports from the rest of Stormwatch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from rules import label_names
from rules.re2 import RE2Error
from rules.regex import RE2Pattern, compile_re2

__all__ = [
    "MatchType",
    "Matcher",
    "MatcherError",
    "equality_index_key",
    "matcher_from_obj",
    "matches_all",
    "names_read",
    "parse_matcher",
    "parse_matchers",
]


class MatcherError(ValueError):
    """A matcher that cannot be parsed or built. ``column`` (1-based) points into ``text`` when known."""

    def __init__(self, message: str, *, column: int | None = None, text: str | None = None) -> None:
        super().__init__(message)
        self.column = column
        self.text = text


class MatchType(str, Enum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


#: label names that need no quotes; others (UTF-8 names) are written in double quotes.
_BARE_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_BARE_NAME_DESC = "[a-zA-Z_:][a-zA-Z0-9_:]*"
#: what ends an unquoted name or value in Alertmanager's UTF-8 parser (``matcher/parse/lexer.go``, ``isReserved``)
_RESERVED = frozenset('{}!=~,\\"\'`')


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label test. Build it directly, or with :func:`parse_matcher` / :func:`matcher_from_obj`."""

    name: str
    type: MatchType
    value: str
    _regex: RE2Pattern | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise MatcherError(f"label name must be a non-empty string, got {self.name!r}")
        if not label_names.is_utf8(self.name):
            raise MatcherError(f"label name {self.name!r} is not valid UTF-8")
        if not isinstance(self.value, str):
            raise MatcherError(f"matcher value for {self.name!r} must be a string, got {self.value!r}")
        if not isinstance(self.type, MatchType):
            try:
                object.__setattr__(self, "type", MatchType(self.type))
            except ValueError:
                raise MatcherError(
                    f"unknown match operator {self.type!r} for {self.name!r}: use '=', '!=', '=~' or '!~'"
                ) from None
        if self.type is MatchType.RE or self.type is MatchType.NRE:
            object.__setattr__(self, "_regex", _compile(self.value))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher; a missing label is the empty string."""
        value = labels.get(self.name, "")
        kind = self.type
        if kind is MatchType.EQ:
            return value == self.value
        if kind is MatchType.NE:
            return value != self.value
        if kind is MatchType.RE:
            return self._regex.fullmatch(value)  # type: ignore[union-attr]
        return not self._regex.fullmatch(value)  # type: ignore[union-attr]

    def __str__(self) -> str:
        name = self.name if _BARE_NAME.fullmatch(self.name) else f'"{_escape(self.name)}"'
        return f'{name}{self.type.value}"{_escape(self.value)}"'


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher matches (true for no matchers)."""
    for matcher in matchers:
        if not matcher.matches(labels):
            return False
    return True


def names_read(*matcher_lists: Sequence[Matcher]) -> tuple[str, ...]:
    """Every label name these matchers read, sorted: whatever they decide depends on those labels alone."""
    return tuple(sorted({m.name for matchers in matcher_lists for m in matchers}))


def equality_index_key(matchers: Sequence[Matcher]) -> tuple[str, str] | None:
    """One ``(name, value)`` every matching label set must carry, for indexing rules by equality.

    Prefers ``alertname=...``, then the first equality with a non-empty value (an empty one also matches
    alerts *without* the label, so it makes a poor index), then any equality. Look alerts up with
    ``labels.get(name, "")`` so that an empty-valued key still finds alerts missing the label.
    """
    first: Matcher | None = None
    first_non_empty: Matcher | None = None
    for m in matchers:
        if m.type is not MatchType.EQ:
            continue
        if m.name == "alertname":
            return (m.name, m.value)
        if first is None:
            first = m
        if first_non_empty is None and m.value:
            first_non_empty = m
    chosen = first_non_empty or first
    return None if chosen is None else (chosen.name, chosen.value)


# --- string form ------------------------------------------------------------------------------------------

_OPERATORS = ("=~", "!=", "!~", "=")  # '=~' before '=' so the longer operator wins


def _escape(s: str) -> str:
    """OpenMetrics escaping, as Alertmanager prints matcher values: backslash, line feed, double quote."""
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _unescape_unquoted(raw: str) -> str:
    """Classic parser escapes in an unquoted value: ``\\n``, ``\\"``, ``\\\\``; any other backslash is literal."""
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\" and i + 1 < n:
            d = raw[i + 1]
            out.append("\n" if d == "n" else d if d in '"\\' else "\\" + d)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise MatcherError(f"matchers must be given as a string, got {type(text).__name__}")
        self.text = text
        self.pos = 0
        self.n = len(text)

    def error(self, message: str, pos: int) -> MatcherError:
        return MatcherError(f"{message} at column {pos + 1} in {self.text!r}", column=pos + 1, text=self.text)

    def found(self, pos: int) -> str:
        return "end of input" if pos >= self.n else repr(self.text[pos])

    def skip_ws(self) -> None:
        text, n, pos = self.text, self.n, self.pos
        while pos < n and text[pos].isspace():
            pos += 1
        self.pos = pos

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= self.n

    # one matcher: name, operator, value
    def matcher(self) -> Matcher:
        self.skip_ws()
        name = self.name()
        self.skip_ws()
        kind = self.operator()
        self.skip_ws()
        value_pos = self.pos
        value = self.value()
        try:
            return Matcher(name, kind, value)
        except MatcherError as exc:
            raise self.error(str(exc), value_pos) from None

    def name(self) -> str:
        pos = self.pos
        if pos < self.n and self.text[pos] == '"':
            name = self.quoted_name()
            if not name:
                raise self.error("label name must not be empty", pos)
            return name
        if label_names.scheme() == "utf8":  # the UTF-8 parser: any run of unreserved characters
            text, n, end = self.text, self.n, pos
            while end < n and not text[end].isspace() and text[end] not in _RESERVED:
                end += 1
            if end == pos:
                raise self.error(f"expected a label name, found {self.found(pos)}", pos)
            self.pos = end
            return text[pos:end]
        m = _BARE_NAME.match(self.text, pos)
        end = m.end() if m else pos
        stop = end
        while stop < self.n and not self.text[stop].isspace() and self.text[stop] not in '=!~,{}"':
            stop += 1
        if stop > end or not m:
            if stop == pos:
                raise self.error(f"expected a label name, found {self.found(pos)}", pos)
            bad = self.text[pos:stop]
            raise self.error(
                f"invalid label name {bad!r}: unquoted names are {_BARE_NAME_DESC}, write other names in "
                f"double quotes ({_quote(bad)})",
                pos,
            )
        self.pos = end
        return m.group()

    def quoted_name(self) -> str:
        """A double-quoted label name at ``self.pos``, read as Go's ``strconv.Unquote`` reads it (Alertmanager's
        UTF-8 parser): ``\\a \\b \\f \\n \\r \\t \\v \\\\ \\"``, ``\\xHH``, ``\\ooo``, ``\\uHHHH``,
        ``\\UHHHHHHHH``; the result must be valid UTF-8."""
        text, n, start = self.text, self.n, self.pos
        out = bytearray()
        pos = start + 1
        while pos < n:
            c = text[pos]
            if c == '"':
                self.pos = pos + 1
                try:
                    return out.decode("utf-8")
                except UnicodeDecodeError:
                    raise self.error("quoted label name is not valid UTF-8", start) from None
            if c == "\n":
                raise self.error("line feed in a quoted label name (write \\n)", pos)
            if c != "\\":
                try:
                    out += c.encode("utf-8")
                except UnicodeEncodeError:
                    raise self.error("quoted label name is not valid UTF-8", pos) from None
                pos += 1
                continue
            pos = self._escape_in_name(pos, out)
        raise self.error("unterminated quoted string: missing closing '\"' for the quote", start)

    def _escape_in_name(self, pos: int, out: bytearray) -> int:
        """One escape sequence at ``pos`` (the backslash) appended to ``out``; returns the position after it."""
        text = self.text
        d = text[pos + 1] if pos + 1 < self.n else ""
        simple = _GO_ESCAPES.get(d)
        if simple is not None:
            out += simple
            return pos + 2
        width = {"x": 2, "u": 4, "U": 8}.get(d)
        if width is not None:
            digits = text[pos + 2:pos + 2 + width]
            if len(digits) == width and all(h in _HEX for h in digits):
                value = int(digits, 16)
                if d == "x":
                    out.append(value)
                    return pos + 2 + width
                if value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF:
                    out += chr(value).encode("utf-8")
                    return pos + 2 + width
        elif d in _OCTAL:
            digits = text[pos + 1:pos + 4]
            if len(digits) == 3 and all(o in _OCTAL for o in digits) and int(digits, 8) <= 0xFF:
                out.append(int(digits, 8))
                return pos + 4
        raise self.error(f"unsupported escape '\\{d}' in a quoted label name", pos)

    def operator(self) -> MatchType:
        for op in _OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return MatchType(op)
        raise self.error(f"expected an operator ('=', '!=', '=~' or '!~'), found {self.found(self.pos)}", self.pos)

    def value(self) -> str:
        if self.pos < self.n and self.text[self.pos] == '"':
            return self.quoted()
        # unquoted: up to the next comma, or a closing brace that closes no '{' of the value itself, trimmed
        text, n, start = self.text, self.n, self.pos
        pos, depth = start, 0
        while pos < n:
            c = text[pos]
            if c == ",":
                break
            if c == "}":
                if depth == 0:
                    break
                depth -= 1
            elif c == "{":
                depth += 1
            elif c == '"':
                raise self.error("unescaped double quote in an unquoted value (quote the whole value)", pos)
            elif c == "\\" and pos + 1 < n and text[pos + 1] in '"\\':
                pos += 1
            pos += 1
        self.pos = pos
        return _unescape_unquoted(text[start:pos].strip())

    def quoted(self) -> str:
        """A double-quoted value at ``self.pos``; ``\\"``, ``\\\\``, ``\\n`` are escapes and any other backslash
        is literal (classic Alertmanager)."""
        text, n, start = self.text, self.n, self.pos
        out: list[str] = []
        pos = start + 1
        while pos < n:
            c = text[pos]
            if c == '"':
                self.pos = pos + 1
                return "".join(out)
            if c == "\\" and pos + 1 < n:
                d = text[pos + 1]
                if d == "n":
                    out.append("\n")
                elif d in '"\\':
                    out.append(d)
                else:
                    out.append("\\" + d)
                pos += 2
                continue
            out.append(c)
            pos += 1
        raise self.error("unterminated quoted string: missing closing '\"' for the quote", start)


_GO_ESCAPES = {"a": b"\a", "b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t", "v": b"\v",
               "\\": b"\\", '"': b'"'}
_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")


def _quote(s: str) -> str:
    return f'"{_escape(s)}"'


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher: ``foo="bar"``, ``foo!=bar``, ``foo=~"a|b"``, ``foo !~ "x"``, ``"service.name"="api"``."""
    p = _Parser(text)
    if p.at_end():
        raise p.error("expected a matcher, found end of input", p.pos)
    if p.text[p.pos] in "{}":
        raise p.error("unexpected brace in a single matcher (use parse_matchers for '{...}' lists)", p.pos)
    m = p.matcher()
    if not p.at_end():
        if p.text[p.pos] == ",":
            raise p.error("expected exactly one matcher, found ',' (use parse_matchers for a list)", p.pos)
        raise p.error(f"unexpected {p.found(p.pos)} after the matcher", p.pos)
    return m


def parse_matchers(text: str) -> list[Matcher]:
    """Parse a comma-separated list, optionally in braces: ``{a="b", c=~"d"}``, ``a=b, c!="d,e"``, ``{}``.

    A trailing comma is allowed; an empty input or ``{}`` gives ``[]``.
    """
    p = _Parser(text)
    out: list[Matcher] = []
    p.skip_ws()
    brace_pos = p.pos if p.pos < p.n and p.text[p.pos] == "{" else -1
    if brace_pos >= 0:
        p.pos += 1
    while not p.at_end() and p.text[p.pos] != "}":
        if p.text[p.pos] == ",":
            raise p.error("expected a matcher, found ','", p.pos)
        out.append(p.matcher())
        if p.at_end() or p.text[p.pos] != ",":
            break
        p.pos += 1  # the comma; a trailing one is fine
    p.skip_ws()
    if brace_pos >= 0:
        if p.pos >= p.n or p.text[p.pos] != "}":
            expected = "expected ',' or '}'" if out else "expected a matcher or '}'"
            raise p.error(f"{expected} (for the '{{' at column {brace_pos + 1}), found {p.found(p.pos)}", p.pos)
        p.pos += 1
    elif p.pos < p.n and p.text[p.pos] == "}":
        raise p.error("unexpected '}' without an opening '{'", p.pos)
    if not p.at_end():
        raise p.error(f"expected ',' between matchers, found {p.found(p.pos)}", p.pos)
    return out


# --- structured form --------------------------------------------------------------------------------------

_STRUCTURED_KEYS = frozenset({"name", "op", "value"})


def matcher_from_obj(obj: object) -> Matcher:
    """A matcher from a rule file's value: a string (:func:`parse_matcher`), ``{"name", "op", "value"}``
    (``op`` defaults to ``=``), or a one-key mapping ``{"severity": "critical"}`` meaning equality."""
    if isinstance(obj, Matcher):
        return obj
    if isinstance(obj, str):
        return parse_matcher(obj)
    if not isinstance(obj, Mapping):
        raise MatcherError(
            f"a matcher must be a string like 'severity=\"critical\"' or a mapping, got {type(obj).__name__}: {obj!r}"
        )
    keys = set(obj)
    if "name" in keys and "value" in keys:
        unknown = keys - _STRUCTURED_KEYS
        if unknown:
            raise MatcherError(
                f"unknown key(s) {sorted(map(str, unknown))} in matcher {dict(obj)!r}: allowed are name, op, value"
            )
        op = obj.get("op", "=")
        if not isinstance(op, str) or op not in _OPERATORS:
            raise MatcherError(f"op must be one of '=', '!=', '=~', '!~' in matcher {dict(obj)!r}, got {op!r}")
        name, value = obj["name"], obj["value"]
        if not isinstance(name, str) or not name:
            raise MatcherError(f"name must be a non-empty string in matcher {dict(obj)!r}")
        if not isinstance(value, str):
            raise MatcherError(f"value must be a string in matcher {dict(obj)!r} (quote numbers and booleans)")
        try:
            return Matcher(name, MatchType(op), value)
        except MatcherError as exc:
            raise MatcherError(f"{exc} in matcher {dict(obj)!r}") from None
    if len(keys) == 1:
        ((name, value),) = obj.items()
        if not isinstance(name, str) or not name:
            raise MatcherError(f"label name must be a non-empty string in matcher {dict(obj)!r}")
        if not isinstance(value, str):
            raise MatcherError(
                f"value of {name!r} must be a string in matcher {dict(obj)!r} (quote numbers and booleans)"
            )
        return Matcher(name, MatchType.EQ, value)
    raise MatcherError(
        f"cannot read matcher {dict(obj)!r}: use {{name: ..., op: ..., value: ...}} (name and value required) "
        "or a single {label: value} pair"
    )


def _compile(pattern: str) -> RE2Pattern:
    """Compile an RE2 pattern for full (anchored) matching; identical patterns share one compiled regex
    (``rules.regex`` keeps a bounded cache)."""
    try:
        return compile_re2(pattern)
    except RE2Error as exc:
        raise MatcherError(f"invalid regular expression {pattern!r}: {exc}") from None
