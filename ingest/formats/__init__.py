"""Pieces shared by the per-format normalisers (see ``docs/formats.md``).

The format modules validate a parsed JSON value and build :class:`rules.alert.Alert` objects. They report
problems by raising :class:`ItemError` (one bad alert: the caller records a :class:`Rejection` and carries
on) or :class:`ShapeError` (the body's top level is wrong: the caller raises :class:`BodyRejected`).
``ingest.normalise`` is the public entry point; import the names from there.

Everything here runs on the hot path, so it is plain ``type(x) is ...`` checks and dict access.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from collections.abc import Callable

import orjson

from rules import label_names
from rules.scalars import EPOCH_LATEST
from rules.alert import Alert

#: Alertmanager's classic label name rule (``model.LabelNameRE``); which rule applies: ``rules.label_names``
LABEL_NAME_PATTERN = label_names.CLASSIC_PATTERN
LABEL_NAME_RE = re.compile(LABEL_NAME_PATTERN)

ZERO_TIME = -62135596800.0  # Go's zero time.Time, 0001-01-01T00:00:00Z, in epoch seconds
MAX_TIME = EPOCH_LATEST  # 10000-01-01T00:00:00Z: later times cannot be rendered as RFC 3339

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?"
)
_MAX_TIME_LEN = 40  # longest valid form: 35 characters
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_CACHE: dict[str, float | None] = {}
_TIME_CACHE_LIMIT = 4096
_GOOD_NAMES: set[str] = set()  # label names already seen to be valid: one hash lookup on the fast path
_GOOD_NAMES_LIMIT = 10_000
_GOOD_NAME_MAX = 128  # characters: longer names are valid but not remembered (bounds the set by bytes)
label_names.on_change(lambda _scheme: _GOOD_NAMES.clear())  # names valid under one scheme may not be under another

#: the argument order of :func:`new_alert`
ALERT_ARGS = (
    "labels", "status", "starts_at", "received_at", "fingerprint", "source", "annotations", "ends_at", "generator_url"
)  # fmt: skip


def _alert_factory() -> Callable[..., Alert]:
    # A frozen dataclass's __init__ sets each field through ``object.__setattr__`` (a global look-up and a call per
    # field, ~1.2 us for Alert's nine). Filling the slots through their descriptors builds the same object in about
    # half that. Only while Alert is what this assumes: slotted, exactly these fields in this order, no
    # __post_init__; otherwise positional construction, or keywords should someone reorder the fields.
    names = tuple(f.name for f in dataclasses.fields(Alert))
    if names == ALERT_ARGS and getattr(Alert, "__slots__", None) == ALERT_ARGS and not hasattr(Alert, "__post_init__"):
        return _slot_filler()
    if names[: len(ALERT_ARGS)] == ALERT_ARGS:
        return Alert
    return lambda *args: Alert(**dict(zip(ALERT_ARGS, args, strict=True)))


def _slot_filler() -> Callable[..., Alert]:
    make = object.__new__
    labels, status, starts_at, received_at, fingerprint, source, annotations, ends_at, generator_url = (
        Alert.__dict__[name].__set__ for name in ALERT_ARGS
    )

    def new(l, s, st, r, f, so, a, e, g):  # noqa: E741 - positional, in ALERT_ARGS order
        alert = make(Alert)
        labels(alert, l)
        status(alert, s)
        starts_at(alert, st)
        received_at(alert, r)
        fingerprint(alert, f)
        source(alert, so)
        annotations(alert, a)
        ends_at(alert, e)
        generator_url(alert, g)
        return alert

    return new


new_alert = _alert_factory()


@dataclass(frozen=True, slots=True)
class Rejection:
    """One thing that could not be turned into an alert."""

    index: int | None  #: position in the body's alert list; None for a body-level rejection
    reason: str  #: short stable code ("schema", "label_name", "time", ...)
    detail: str  #: human sentence starting with the field path
    item: bytes  #: the rejected item's JSON, or the whole body for a body-level rejection


class BodyRejected(Exception):
    """Nothing in the body is usable; ``str(exc) == exc.rejection.detail``."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection)  # args stay picklable
        self.rejection = rejection

    def __str__(self) -> str:
        return self.rejection.detail


class ItemError(Exception):
    """One item is invalid. ``path`` is relative to the item ("" for the item itself)."""

    def __init__(self, reason: str, path: str, message: str) -> None:
        super().__init__(reason, path, message)
        self.reason = reason
        self.path = path
        self.message = message


class ShapeError(Exception):
    """The top level of the body has the wrong shape for its format; the argument is the detail."""


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if type(value) is str:
        return "string"
    if type(value) is dict:
        return "object"
    if type(value) is list:
        return "array"
    if type(value) is int or type(value) is float:
        return "number"
    return type(value).__name__


def show(value: object, limit: int = 64) -> str:
    """A short quoted rendering of a value for a message."""
    text = repr(value[: limit + 1]) if type(value) is str else dumps(value).decode("utf-8", "replace")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dumps(value: object) -> bytes:
    """JSON for a parsed value. orjson refuses nesting deeper than 254, which ``orjson.loads`` accepts."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: nesting deeper than 254, or an integer beyond 64 bits
        pass
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - RecursionError from very deep nesting; a rendering must never raise
        return b'"<nested too deeply to serialise>"'


def rejection(index: int | None, base: str, err: ItemError, raw: object) -> Rejection:
    """The Rejection for ``err`` raised while building the item at ``base`` (its path in the body)."""
    if base and err.path:
        path = f"{base}.{err.path}" if err.path[0] != "[" else base + err.path
    else:
        path = base or err.path or "body"
    return Rejection(index, err.reason, f"{path}: {err.message}", dumps(raw))


def internal_error(exc: Exception, raw: object = None) -> ItemError:
    """An unexpected exception while building an item, as an ItemError (reason ``internal``); a string that is not
    valid UTF-8 (hashing or encoding it failed) is reason ``utf8``, naming the field."""
    if isinstance(exc, UnicodeError):
        found = not_utf8(raw)
        if found is not None:
            return found
    return ItemError("internal", "", f"unexpected {type(exc).__name__}: {exc}")


def not_utf8(raw: object) -> ItemError | None:
    """The first string (key or value) in a parsed item that is not valid UTF-8, as an ItemError naming its field
    (reason ``label_name`` for a label's name, else ``utf8``); None when every string is valid. An item nested too
    deeply to walk is named as a whole."""
    try:
        return _not_utf8(raw, "")
    except RecursionError:
        return ItemError("utf8", "", "a string is not valid UTF-8")


def _not_utf8(raw: object, path: str) -> ItemError | None:
    if type(raw) is str:
        return None if label_names.is_utf8(raw) else ItemError("utf8", path, "not valid UTF-8")
    if type(raw) is list:
        for index, value in enumerate(raw):
            found = _not_utf8(value, f"{path}[{index}]")
            if found is not None:
                return found
    elif type(raw) is dict:
        for name, value in raw.items():
            if not label_names.is_utf8(name):
                reason = "label_name" if path == "labels" else "utf8"
                return ItemError(reason, path, f"name {show(name)} is not valid UTF-8")
            found = _not_utf8(value, key_path(path, name) if path else name)
            if found is not None:
                return found
    return None


_LENIENT_ERRORS = ("utf-8", "surrogate")  # orjson's words when a string is not valid UTF-8


def loads(body: bytes) -> tuple[object, bool]:
    """Parse JSON; returns (value, lenient). orjson refuses the whole body when one string in it is not valid UTF-8
    (an invalid byte, or a lone surrogate escape such as ``\\ud800``); such a body is parsed once more, leniently
    (invalid bytes become lone surrogates), so that only the items holding those strings are refused (``lenient`` is
    then True and the caller checks what it built). Raises ``ValueError`` when the body is not JSON either way."""
    try:
        return orjson.loads(body), False
    except orjson.JSONDecodeError as exc:
        if not any(word in str(exc).lower() for word in _LENIENT_ERRORS) or not isinstance(body, (bytes, bytearray)):
            raise
        first = exc
    try:
        return json.loads(bytes(body).decode("utf-8", "surrogateescape"), parse_constant=_no_constant), True
    except (ValueError, RecursionError):
        raise first from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")  # json accepts NaN and Infinity; orjson (and JSON) do not


def run_one(build, raw: object, *args) -> tuple[list, list[Rejection]]:
    """Build a body that is a single item (index 0, paths relative to the body)."""
    try:
        return [build(raw, *args)], []
    except ItemError as err:
        return [], [rejection(0, "", err, raw)]
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - see generic.build_all
        return [], [rejection(0, "", internal_error(exc, raw), raw)]


def key_path(parent: str, name: str) -> str:
    """``labels.job``, or ``labels['odd name']`` when the name is not identifier-like."""
    if name.isascii() and name.isidentifier():
        return f"{parent}.{name}"
    return f"{parent}[{show(name)}]"


def check_labels(raw: object, path: str) -> dict[str, str]:
    """Alertmanager's label rules: string values, empty values dropped, valid names (``rules.label_names``: UTF-8 or
    classic), at least one label.

    Returns ``raw`` itself when nothing is dropped (it is a freshly parsed dict that nobody else holds).
    """
    if type(raw) is dict and raw:
        good = _GOOD_NAMES
        for name, value in raw.items():
            if type(value) is not str or not value or name not in good:
                break
        else:
            return raw
    return _check_labels(raw, path)


def _check_labels(raw: object, path: str) -> dict[str, str]:
    if type(raw) is not dict:
        if raw is None:
            raise ItemError("no_labels", path, "at least one label is required")
        raise ItemError("schema", path, f"expected an object, got {json_type(raw)}")
    dropped = False
    for name, value in raw.items():
        if type(value) is not str:
            raise ItemError("schema", key_path(path, name), f"label value must be a string, got {json_type(value)}")
        if not value:
            dropped = True
        elif name not in _GOOD_NAMES:
            why = label_names.problem(name)
            if why is not None:
                raise ItemError("label_name", path, f"label name {show(name)} {why}")
            if len(name) <= _GOOD_NAME_MAX:  # a sender's long name is checked each time, never kept
                if len(_GOOD_NAMES) >= _GOOD_NAMES_LIMIT:
                    _GOOD_NAMES.clear()
                _GOOD_NAMES.add(name)
    if dropped:
        raw = {name: value for name, value in raw.items() if value}
    if not raw:
        raise ItemError("no_labels", path, "at least one label with a non-empty value is required")
    return raw


def check_annotations(raw: object, path: str) -> dict[str, str]:
    """An object of string values; missing or null is empty."""
    if type(raw) is not dict:
        if raw is None:
            return {}
        raise ItemError("schema", path, f"expected an object, got {json_type(raw)}")
    for name, value in raw.items():
        if type(value) is not str:
            raise ItemError(
                "schema", key_path(path, name), f"annotation value must be a string, got {json_type(value)}"
            )
    return raw


def optional_str(raw: object, path: str) -> str:
    """A string field that may be absent or null (then "")."""
    if type(raw) is str:
        return raw
    if raw is None:
        return ""
    raise ItemError("schema", path, f"expected a string, got {json_type(raw)}")


def parse_time(value: object, path: str, numeric: bool = False) -> float | None:
    """Epoch seconds from an RFC 3339 string (or a number when ``numeric``); None when missing.

    Missing means absent, null, "" or Go's zero time (and the number 0 when ``numeric``).
    """
    if type(value) is str:
        ts = _TIME_CACHE.get(value, False)
        if ts is False:
            ts = _parse_rfc3339(value, path)
            if len(_TIME_CACHE) >= _TIME_CACHE_LIMIT:
                _TIME_CACHE.clear()
            _TIME_CACHE[value] = ts
        return ts
    if value is None:
        return None
    if numeric and (type(value) is int or type(value) is float):
        if value == 0:
            return None
        ts = float(value)
        if not ZERO_TIME <= ts < MAX_TIME:  # also false for NaN
            raise ItemError("time", path, f"{show(value)} is out of range for epoch seconds")
        return ts
    expected = "an RFC 3339 string or epoch seconds" if numeric else "an RFC 3339 string"
    raise ItemError("time", path, f"expected {expected}, got {json_type(value)}")


def _parse_rfc3339(text: str, path: str) -> float | None:
    if not text:
        return None
    m = _RFC3339.fullmatch(text) if len(text) <= _MAX_TIME_LEN else None
    if m is None:
        raise ItemError("time", path, f"{show(text)} is not an RFC 3339 time")
    year, month, day, hour, minute, second, frac, _z, sign, off_h, off_m = m.groups()
    micro = int(frac[:6].ljust(6, "0")) if frac else 0  # nanoseconds are truncated to microseconds
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=UTC
        )
    except ValueError as exc:
        raise ItemError("time", path, f"{show(text)} is not a valid time ({exc})") from None
    ts = (moment - _EPOCH).total_seconds()
    if sign:  # no offset at all: a naive time, taken as UTC
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            raise ItemError("time", path, f"{show(text)} has an invalid UTC offset")
        ts += -(oh * 3600 + om * 60) if sign == "+" else oh * 3600 + om * 60
    if ts == ZERO_TIME:
        return None
    if not ZERO_TIME <= ts < MAX_TIME:
        raise ItemError("time", path, f"{show(text)} is out of range")
    return ts
