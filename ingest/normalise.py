"""Turn a raw alert body (bytes off the queue) into canonical :class:`rules.alert.Alert` objects.

One entry point, :func:`normalise`. It detects the format (or takes it from the message's ``format``
header), validates every item with Alertmanager's rules and returns the good alerts together with one
:class:`Rejection` per bad item, so one bad alert never costs the rest of its batch. A body that is
unusable as a whole raises :class:`BodyRejected`; nothing else is ever raised, whatever the bytes.

The per-format code lives in ``ingest.formats``; the formats, detection rules and field mappings are
described in ``docs/formats.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Mapping

import orjson

from rules.alert import Alert

from .formats import BodyRejected, ItemError, Rejection, ShapeError, json_type, loads, not_utf8, rejection
from .formats import alertmanager, generic, grafana, pagerduty
from .limits import LabelGuard, LabelLimits, checked, enforce

__all__ = ["FORMATS", "BodyRejected", "LabelGuard", "LabelLimits", "Normalised", "Rejection", "normalise",
           "canonical_format"]

FORMATS = ("generic", "alertmanager_webhook", "alertmanager_v2", "pagerduty", "grafana")

#: accepted spellings of a format name (after lower-casing and turning "-" into "_")
_ALIASES = {
    "generic": "generic",
    "alertmanager_webhook": "alertmanager_webhook",
    "alertmanager": "alertmanager_webhook",
    "alertmanager_v2": "alertmanager_v2",
    "prometheus": "alertmanager_v2",
    "pagerduty": "pagerduty",
    "pagerduty_v2": "pagerduty",
    "events_v2": "pagerduty",
    "grafana": "grafana",
    "grafana_webhook": "grafana",
}

_PARSERS = {
    "generic": generic.parse,
    "alertmanager_webhook": alertmanager.parse_webhook,
    "alertmanager_v2": alertmanager.parse_v2,
    "pagerduty": pagerduty.parse,
    "grafana": grafana.parse,
}

_DEFAULT_GUARD = LabelGuard()  # the default limits and a pure, bounded fingerprint memo: sharing it is safe


@dataclass(slots=True)
class Normalised:
    format: str
    alerts: list[Alert]
    rejections: list[Rejection]


def canonical_format(name: object) -> str | None:
    """The canonical name for a format header value (str or bytes), or None if it names no format."""
    if isinstance(name, (bytes, bytearray)):
        name = bytes(name).decode("utf-8", "replace")
    if not isinstance(name, str):
        return None
    return _ALIASES.get(name.strip().lower().replace("-", "_"))


def normalise(
    body: bytes,
    *,
    now: float,
    format: str | None = None,
    max_bytes: int = 1 << 20,
    fingerprints: Callable[[Mapping[str, str]], str] | None = None,
    limits: LabelGuard | None = None,
) -> Normalised:
    """Validate and convert one body; see the module docstring and ``docs/formats.md``.

    ``format`` None or "" means detect it from the body. ``now`` becomes every alert's ``received_at``
    and the start time of alerts that have none. Alerts whose labels pass ``limits`` (None: the defaults) are
    rejected (``ingest.limits``); ``fingerprints`` (tests, tools) replaces the guard's memo and is then checked
    on every call.
    """
    size = body.nbytes if isinstance(body, memoryview) else _len(body)
    if size > max_bytes:
        raise _rejected(body, "too_large", f"body is {size} bytes, more than the limit of {max_bytes}")

    fmt = None
    if format:  # None or an empty header: detect
        fmt = canonical_format(format)
        if fmt is None:
            shown = format if isinstance(format, str) else repr(format)
            raise _rejected(
                body, "unknown_format", f"format: unknown format {shown[:64]!r}; expected one of {', '.join(FORMATS)}"
            )

    try:
        data, lenient = loads(body)
    except Exception as exc:  # noqa: BLE001 - JSONDecodeError, or TypeError for a body of an unexpected type
        raise _rejected(body, "invalid_json", f"body: not valid JSON: {exc}") from None

    if fmt is None:
        fmt = _detect(data)
        if fmt is None:
            raise _rejected(
                body,
                "unknown_format",
                f"body: cannot detect the format of a JSON {json_type(data)}: expected a PagerDuty event "
                "(event_action), an object with an 'alerts' array, an object with 'labels', or an array of alerts",
            )

    if (fmt == "alertmanager_webhook" or fmt == "generic") and grafana.looks_like_grafana(data):
        fmt = "grafana"  # Grafana posts its webhook wherever it is pointed: keep its own fields
    guard = _DEFAULT_GUARD if limits is None else limits
    guarded = guard.fingerprints if fingerprints is None else checked(fingerprints, guard.limits)
    try:
        alerts, rejections = _PARSERS[fmt](data, now, guarded)
    except ShapeError as exc:
        raise _rejected(body, "schema", str(exc)) from None
    if fmt == "pagerduty":  # an event with its own dedup_key is not fingerprinted: check it here
        alerts, rejections = enforce(data, alerts, rejections, guard.limits)
    if lenient:  # some string in the body is not valid UTF-8: no alert may carry one on
        alerts, rejections = _only_utf8(body, fmt, data, alerts, rejections)
    return Normalised(fmt, alerts, rejections)


def _items(fmt: str, data: object) -> tuple[list, str | None]:
    """The body's items and the path prefix of their list (None: the body is one item)."""
    if type(data) is list:
        return data, ""
    if type(data) is dict:
        items = data.get("alerts")
        if fmt != "pagerduty" and type(items) is list and (fmt != "generic" or "labels" not in data):
            return items, "alerts"
    return [data], None


def _clean(alert: Alert) -> bool:
    text = orjson.dumps  # refuses lone surrogates: exactly what the store and the events could not write
    try:
        text((alert.labels, alert.annotations, alert.generator_url, alert.fingerprint, alert.source))
    except TypeError:
        return False
    return True


def _only_utf8(body: bytes, fmt: str, data: object, alerts: list[Alert],
               rejections: list[Rejection]) -> tuple[list[Alert], list[Rejection]]:
    """Refuse (reason ``utf8``, or ``label_name`` for a label's name) each alert built from an item holding a string
    that is not valid UTF-8; the alerts beside it are kept."""
    if all(_clean(a) for a in alerts):
        return alerts, rejections
    items, prefix = _items(fmt, data)
    refused = {r.index for r in rejections}
    indexes = [i for i in range(len(items)) if i not in refused]
    if len(indexes) != len(alerts):  # cannot tell which alert came from which item: keep none of them
        raise _rejected(body, "utf8", "body: a string is not valid UTF-8")
    kept: list[Alert] = []
    out = list(rejections)
    for index, alert in zip(indexes, alerts, strict=True):
        if _clean(alert):
            kept.append(alert)
            continue
        raw = items[index]
        err = not_utf8(raw) or ItemError("utf8", "", "a string is not valid UTF-8")
        shown = pagerduty.redacted(raw) if fmt == "pagerduty" else raw  # the routing key is a secret
        out.append(rejection(index, "" if prefix is None else f"{prefix}[{index}]", err, shown))
    out.sort(key=lambda r: -1 if r.index is None else r.index)
    return kept, out


def _detect(data: object) -> str | None:
    if type(data) is dict:
        if "event_action" in data:
            return "pagerduty"
        if "alerts" in data:  # version "4", groupKey, receiver, or just an alerts array: all webhook-shaped
            return "grafana" if grafana.looks_like_grafana(data) else "alertmanager_webhook"
        if "labels" in data:
            return "generic"
        return None
    if type(data) is list:
        return "alertmanager_v2" if alertmanager.looks_like_v2(data) else "generic"
    return None


def _len(body: object) -> int:
    try:
        return len(body)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - any object: its __len__ may raise anything
        return 0  # not bytes at all: orjson.loads will refuse it as invalid_json


def _rejected(body: object, reason: str, detail: str) -> BodyRejected:
    if isinstance(body, bytes):
        raw = body
    elif isinstance(body, (bytearray, memoryview)):
        raw = bytes(body)
    elif isinstance(body, str):
        raw = body.encode("utf-8", "surrogatepass")
    else:
        raw = b""
    return BodyRejected(Rejection(None, reason, detail, raw))
