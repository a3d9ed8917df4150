"""Templates rendered from the incident (or problem) and its alerts, in Jinja2's sandbox; secrets resolved and masked.

Label and annotation values are data: Jinja2 renders a variable's value as text and never evaluates it again, so
a label ``{{ ''.__class__ }}`` or ``$(rm -rf /)`` reaches an argv item or a body as that literal string. The
sandbox bounds what the *template* (written by rule authors) may touch: no attribute starting with ``_``, no
unsafe callables. An undefined variable is an error (StrictUndefined): a command never runs with a hole in it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from rules.action_schema import SecretRef

from actions.escaping import FINALIZE, Markup, UrlValues
from actions.scrub import MASK, Scrubber

__all__ = ["MASK", "Renderer", "SecretMissing", "Secrets", "TemplateFailed", "common", "context", "value"]



class TemplateFailed(Exception):
    """A template could not be rendered (undefined variable, sandbox violation); the run fails, never retried."""


class SecretMissing(Exception):
    """A ``{secret_env: NAME}`` names a variable the worker's environment does not have."""


class Renderer:
    """Renders templates as text, or with the values they insert escaped for a markup (``slack``, ``html``) or for
    the URL component they land in (:meth:`render_url`); see ``escaping.py``."""

    def __init__(self) -> None:
        self._compile = {markup: _compiler(finalize) for markup, finalize in FINALIZE.items()}
        self._compile_url = _compiler(UrlValues.finalize)

    def render(self, template: str, context: Mapping[str, Any], markup: Markup = "text") -> str:
        if "{" not in template:
            return template
        return _render(self._compile[markup], template, context)

    def render_url(self, template: str, context: Mapping[str, Any]) -> str:
        """A URL with every inserted value percent-encoded: a path value stays one segment, a query value one
        value. TemplateFailed if a value would reach the scheme or host, or the path gets a dot segment."""
        if "{" not in template:
            return template
        values = UrlValues()
        with values.collecting():
            rendered = _render(self._compile_url, template, context)
        try:
            return values.encode(rendered)
        except ValueError as exc:
            raise TemplateFailed(f"template {template!r}: {exc}") from None


def _compiler(finalize: Callable[..., str] | None) -> Callable[[str], Template]:  # (value) or (context, value)
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                               finalize=finalize)
    return lru_cache(maxsize=1024)(env.from_string)


def _render(compile: Callable[[str], Template], template: str, context: Mapping[str, Any]) -> str:
    try:
        return compile(template).render(context)
    except TemplateError as exc:
        raise TemplateFailed(f"template {template!r}: {exc}") from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        # the template is fine for most values but not for this one (``{{ 60 // labels.n|int }}`` with n=0,
        # ``{{ "%d" % labels.n }}`` with a word): this run fails on its inputs, like an undefined variable
        raise TemplateFailed(f"template {template!r}: {type(exc).__name__}: {exc}") from None


def common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The items every mapping has (Alertmanager's CommonLabels)."""
    if not maps:
        return {}
    out = dict(maps[0])
    for m in maps[1:]:
        out = {k: v for k, v in out.items() if m.get(k) == v}
    return out


def context(event: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]], action: str) -> dict[str, Any]:
    """What templates see: ``incident``, ``alerts``, ``labels`` (the labels every alert shares, plus the group
    labels), ``annotations`` (shared annotations), ``changes`` (the changes linked to the incident as probable causes,
    best first: docs/changes.md), ``event`` (type, reason, at; an escalation step's also ``escalation``: policy, step,
    run, ...) and ``action`` (its name).

    For a problem event also ``problem`` (``None`` for incident events); ``incident`` and ``alerts`` are then
    the incident that opened the problem, and ``labels`` include the problem's signature labels."""
    incident = dict(event.get("incident") or {})
    problem = event.get("problem")
    labels = common([a.get("labels") or {} for a in alerts])
    labels.update(incident.get("group_labels") or {})
    if problem:
        labels.update(problem.get("signature") or {})
    return {
        "problem": dict(problem) if problem else None,
        "incident": incident,
        "alerts": list(alerts),
        "labels": labels,
        "annotations": common([a.get("annotations") or {} for a in alerts]),
        "changes": list(incident.get("changes") or []),
        "event": {k: event.get(k) for k in ("event_id", "type", "reason", "at", "escalation") if k in event
                  or k != "escalation"},
        "action": {"name": action},
    }


class Secrets:
    """Resolves secret references from an environment mapping and remembers every value it handed out, so that
    anything recorded about the run (inputs, outputs, errors) can be scrubbed of them, in every encoded form
    (``scrub.py``): :meth:`scrub` for text, :meth:`scrub_data` for data before it is encoded."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.values: set[str] = set()
        self._scrubber = Scrubber()

    def resolve(self, ref: SecretRef) -> str:
        value = self.environ.get(ref.secret_env)
        if value is None:
            raise SecretMissing(f"secret {ref.secret_env} is not set in the worker's environment")
        if value and value not in self.values:
            self.values.add(value)
            self._scrubber.add(value)
        return value

    def scrub(self, text: str) -> str:
        return self._scrubber.text(text)

    def scrub_data(self, data: Any) -> Any:
        return self._scrubber.data(data)


def value(item: str | SecretRef, renderer: Renderer, ctx: Mapping[str, Any], secrets: Secrets) -> tuple[str, str]:
    """(the real value, what may be recorded): a secret shows as ``<secret:NAME>``."""
    if isinstance(item, SecretRef):
        return secrets.resolve(item), f"<secret:{item.secret_env}>"
    rendered = renderer.render(item, ctx)
    return rendered, rendered
