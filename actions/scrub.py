"""Secret values removed from anything recorded about a run, in every form a secret can take on the way back.

Scrubbing runs on the data *before* it is encoded (dicts and lists walked, every string and key scrubbed), so the
runner's own JSON encoding never hides a secret from the scrubber. A string can still hold a secret in a form
someone else encoded: a target that echoes a token JSON-escaped in its answer, percent-encoded in a URL,
HTML-escaped in an error page, a Python ``repr`` in an exception message. Each of these forms, and each form of
another (a JSON answer quoting a URL), is replaced too:

- JSON string escaping (as written by orjson, and ASCII-only ``\\uXXXX`` in lower- and upper-case hex, with and
  without ``\\/``);
- percent-encoding (everything, ``+`` for spaces, a path's reserved characters kept; upper- and lower-case hex);
- HTML escaping (with and without quotes, ``&#x27;`` or ``&#39;``);
- Python ``repr`` of the text and of its UTF-8 bytes (either quote);
- UTF-8 read as Latin-1 (a server that decodes headers as Latin-1);
- without surrounding whitespace (HTTP strips it from a header value).

A secret that a truncated output cuts in two leaves no prefix behind: text just before a truncation marker
(``... [N more characters]``) that begins a form is masked as well.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

import orjson

MASK = "***"
#: how executors mark a cut output (executor.truncate, the command executor's _cut)
TRUNCATED = re.compile(r"\.\.\. \[[0-9]+ more (?:characters|bytes)\]")

_HEX_ESCAPE = re.compile(r"%[0-9A-F]{2}")
_UNICODE_ESCAPE = re.compile(r"\\u[0-9a-f]{4}")


def _json(s: str) -> str:
    return orjson.dumps(s).decode()[1:-1]


def _json_ascii(s: str) -> str:
    return json.dumps(s)[1:-1]


def _json_ascii_upper(s: str) -> str:
    return _UNICODE_ESCAPE.sub(lambda m: "\\u" + m.group(0)[2:].upper(), _json_ascii(s))


def _json_slash(s: str) -> str:
    return _json(s).replace("/", "\\/")


def _url(s: str) -> str:
    return quote(s, safe="")


def _url_lower(s: str) -> str:
    return _HEX_ESCAPE.sub(lambda m: m.group(0).lower(), _url(s))


def _url_plus(s: str) -> str:
    return quote_plus(s, safe="")


def _url_path(s: str) -> str:
    return quote(s, safe="/:@!$&'()*+,;=~")


def _html(s: str) -> str:
    return html.escape(s, quote=True)


def _html_39(s: str) -> str:
    return _html(s).replace("&#x27;", "&#39;")


def _html_bare(s: str) -> str:
    return html.escape(s, quote=False)


def _repr(s: str) -> str:
    return repr(s)[1:-1]


def _repr_single(s: str) -> str:
    return repr(s + "'\"")[1:-4]  # with both quotes inside, repr quotes with ' and escapes it: that variant too


def _bytes_repr(s: str) -> str:
    return repr(s.encode("utf-8", "surrogatepass"))[2:-1]


def _bytes_repr_single(s: str) -> str:
    return repr(s.encode("utf-8", "surrogatepass") + b"'\"")[2:-4]


def _latin1(s: str) -> str:
    return s.encode("utf-8", "surrogatepass").decode("latin-1")


def _stripped(s: str) -> str:
    return s.strip() or s  # HTTP strips a header value's surrounding whitespace before a server echoes it


ENCODERS: tuple[Callable[[str], str], ...] = (
    _json, _json_ascii, _json_ascii_upper, _json_slash, _url, _url_lower, _url_plus, _url_path, _html, _html_39,
    _html_bare, _repr, _repr_single, _bytes_repr, _bytes_repr_single, _latin1, _stripped)


def forms(secret: str) -> set[str]:
    """The secret, each encoding of it, and each encoding of those (two layers: a JSON answer quoting a URL)."""
    once = {secret} | {encode(secret) for encode in ENCODERS}
    return once | {encode(form) for form in once for encode in ENCODERS}


class Scrubber:
    """Replaces every form of the given secrets with :data:`MASK`, in text or in data about to be encoded."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if not secret:
            return
        known = set(self._forms) | forms(secret)
        self._forms = sorted(known, key=len, reverse=True)  # longest first: a form that holds another goes whole

    def text(self, text: str) -> str:
        if not self._forms:
            return text
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        if "... [" in text:
            text = self._cut_prefixes(text)
        return text

    def data(self, value: Any) -> Any:
        """A copy of dicts, lists and tuples with every string (keys too) scrubbed; other values unchanged."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {(self.text(k) if isinstance(k, str) else k): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value

    def _cut_prefixes(self, text: str) -> str:
        out: list[str] = []
        start = 0
        for index in [m.start() for m in TRUNCATED.finditer(text)]:
            before = text[start:index]
            cut = max((_cut_prefix(before, form) for form in self._forms), default=0)
            out.append(before[:len(before) - cut] + (MASK if cut else ""))
            start = index
        out.append(text[start:])
        return "".join(out)


def _cut_prefix(before: str, form: str) -> int:
    """The length of the longest proper prefix of ``form`` that ``before`` ends with (0: none)."""
    for k in range(min(len(form) - 1, len(before)), 0, -1):
        if before.endswith(form[:k]):
            return k
    return 0
