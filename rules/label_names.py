"""Which label names are valid: Alertmanager's two validation schemes, one process-wide choice.

* ``utf8`` (the default, as in Alertmanager 0.27+ and Prometheus 3): any non-empty, valid UTF-8 string, so
  OpenTelemetry-style names such as ``service.name`` or ``k8s.pod.name`` are labels like any other
  (Alertmanager ``matcher/compat.isValidUTF8LabelName``).
* ``classic``: ``[a-zA-Z_][a-zA-Z0-9_]*`` (``model.LegacyValidation``), for those who want the old rule.

Like Alertmanager's ``compat.InitFromFlags``, the scheme is chosen once when the process starts
(``STORMWATCH_LABEL_NAMES``, applied by ``stormwatch.config.load_settings``) and every reader of label names (the
ingest normalisers, the matcher parser, the rule schema, silences) asks :func:`valid`. Python strings are code
points, so "valid UTF-8" means: no lone surrogate (what a JSON ``\\ud800`` escape, or an invalid byte read with
``surrogateescape``, becomes).

No I/O, no imports from the rest of Stormwatch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

__all__ = ["CLASSIC_PATTERN", "SCHEMES", "Scheme", "is_utf8", "on_change", "problem", "scheme", "set_scheme", "valid"]

Scheme = Literal["utf8", "classic"]
SCHEMES: tuple[Scheme, ...] = ("utf8", "classic")

#: Alertmanager's classic label name rule (``model.LabelNameRE``)
CLASSIC_PATTERN = "[a-zA-Z_][a-zA-Z0-9_]*"
_CLASSIC = re.compile(CLASSIC_PATTERN)

_scheme: Scheme = "utf8"
#: called with the new scheme when it changes (caches of names known to be valid clear themselves)
_listeners: list[Callable[[Scheme], None]] = []


def is_utf8(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (no lone surrogates)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _classic(name: str) -> bool:
    return _CLASSIC.fullmatch(name) is not None


def _utf8(name: str) -> bool:
    return bool(name) and is_utf8(name)


_check: Callable[[str], bool] = _utf8


def scheme() -> Scheme:
    """The scheme in force."""
    return _scheme


def set_scheme(value: str) -> None:
    """Choose the scheme for this process (``utf8`` or ``classic``); ValueError for anything else."""
    global _scheme, _check
    if value not in SCHEMES:
        raise ValueError(f"label name scheme must be one of {', '.join(SCHEMES)}, got {value!r}")
    if value == _scheme:
        return
    _scheme = value  # checked against SCHEMES just above
    _check = _classic if value == "classic" else _utf8
    for listener in _listeners:
        listener(_scheme)


def on_change(listener: Callable[[Scheme], None]) -> None:
    """Call ``listener(scheme)`` whenever :func:`set_scheme` changes the scheme."""
    _listeners.append(listener)


def valid(name: str) -> bool:
    """Whether ``name`` is a valid label name under the scheme in force."""
    return _check(name)


def problem(name: str) -> str | None:
    """Why ``name`` is not a valid label name (a sentence without the name), or None when it is valid."""
    if _check(name):
        return None
    if not name:
        return "must not be empty"
    if not is_utf8(name):
        return "is not valid UTF-8"
    return f"does not match {CLASSIC_PATTERN} (STORMWATCH_LABEL_NAMES=classic)"  # only classic refuses the rest
