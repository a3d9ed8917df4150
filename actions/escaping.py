"""Escaping of the values templates insert, for the markup or URL part they land in.

A template is written by the rule's author and trusted: its literal text (Slack links, mentions, HTML tags) is
kept as written. What a ``{{ ... }}`` expression inserts comes from alerts (labels, annotations, titles) and is
data: it is escaped for where it lands.

- Slack mrkdwn (https://api.slack.com/reference/surfaces/formatting#escaping): ``&``, ``<`` and ``>`` become
  ``&amp;``, ``&lt;`` and ``&gt;``, and nothing else (Slack shows any other entity literally). A label
  ``<!channel>`` then shows as text instead of paging a channel, ``<https://evil|Click>`` is not a link.
- HTML (an ``http`` action whose ``content_type`` is ``text/html``): ``html.escape`` with quotes.
- URLs: a value in the path is percent-encoded as one segment (``/`` too, so ``../`` cannot walk the path), a value
  in the query or fragment is percent-encoded whole (``&``, ``=``, ``#`` cannot add parameters). A path segment that
  is ``.`` or ``..`` once decoded is refused: servers and proxies resolve dot segments even percent-encoded.
"""

from __future__ import annotations

import html
import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal
from collections.abc import Callable, Iterator
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from jinja2 import pass_context

Markup = Literal["text", "slack", "html"]

_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def slack_escape(value: Any) -> str:
    return str(value).translate(_SLACK)


def html_escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


FINALIZE: dict[Markup, Callable[[Any], str] | None] = {"text": None, "slack": slack_escape, "html": html_escape}


class UrlValues:
    """Collects the values a URL template inserts, leaving an unguessable placeholder for each in the rendered
    text; :meth:`encode` then puts each value back, encoded for the URL component its placeholder landed in."""

    _current: ContextVar[UrlValues | None] = ContextVar("stormwatch_url_values", default=None)

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.values: dict[str, str] = {}

    @staticmethod
    @pass_context
    def finalize(_context: Any, value: Any) -> str:
        """Jinja2 ``finalize`` of the URL environment: every ``{{ ... }}`` output passes here, at render time
        (``pass_context`` keeps Jinja2 from folding constants at compile time, so a cached template holds no
        placeholder)."""
        collector = UrlValues._current.get()
        if collector is None:
            raise ValueError("URL templates are rendered through Renderer.render_url")
        key = f"sw{collector.nonce}x{len(collector.values)}z"
        collector.values[key] = str(value)
        return key

    @contextmanager
    def collecting(self) -> Iterator[UrlValues]:
        token = UrlValues._current.set(self)
        try:
            yield self
        finally:
            UrlValues._current.reset(token)

    def encode(self, rendered: str) -> str:
        parts = urlsplit(rendered)
        if any(key in parts.scheme + parts.netloc for key in self.values):
            raise ValueError("a template value landed in the URL's scheme or host")
        path = self._fill(parts.path)
        for segment in path.split("/"):
            if unquote(segment) in (".", ".."):
                raise ValueError(f"the URL path has a {unquote(segment)!r} segment, which would change the target")
        return urlunsplit((parts.scheme, parts.netloc, path, self._fill(parts.query), self._fill(parts.fragment)))

    def _fill(self, text: str) -> str:
        for key, value in self.values.items():
            if key in text:
                text = text.replace(key, quote(value, safe=""))
        return text

