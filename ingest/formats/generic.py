"""The generic format, and the per-item builder the Alertmanager formats share.

Generic items are Alertmanager-shaped objects whose keys may be snake_case or camelCase, whose times may
be RFC 3339 strings or epoch-second numbers, and which may name their ``source``. The Alertmanager
formats use the same builder in a stricter style (camelCase only, string times, fixed source).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rules.alert import Alert

from . import (
    _GOOD_NAMES,
    _TIME_CACHE,
    ItemError,
    Rejection,
    ShapeError,
    check_annotations,
    check_labels,
    internal_error,
    json_type,
    new_alert,
    optional_str,
    parse_time,
    rejection,
    run_one,
    show,
)

Fingerprints = Callable[[Mapping[str, str]], str]


class Style:
    """How one format spells its items."""

    __slots__ = ("source", "status", "snake", "numeric")

    def __init__(self, source: str | None, *, status: bool, snake: bool, numeric: bool) -> None:
        self.source = source  #: fixed Alert.source; None reads the item's optional ``source`` key
        self.status = status  #: whether the item's ``status`` key is read (v2 ignores it)
        self.snake = snake  #: whether snake_case keys are accepted besides camelCase
        self.numeric = numeric  #: whether times may be epoch-second numbers


GENERIC = Style(None, status=True, snake=True, numeric=True)


def _either(raw: dict, snake: str, camel: str) -> tuple[object, str]:
    value = raw.get(snake)
    if value is not None:
        return value, snake
    return raw.get(camel), camel


def build(raw: object, now: float, fingerprints: Fingerprints, style: Style) -> Alert:
    """One item to an Alert; raises ItemError with a path relative to the item."""
    if type(raw) is not dict:
        raise ItemError("schema", "", f"expected an object, got {json_type(raw)}")
    labels = check_labels(raw.get("labels"), "labels")
    annotations = check_annotations(raw.get("annotations"), "annotations")

    status = None
    if style.status:
        status = raw.get("status")
        if status is not None and status != "firing" and status != "resolved":
            raise ItemError("schema", "status", f"must be 'firing' or 'resolved', got {show(status)}")

    if style.snake:
        starts_raw, starts_key = _either(raw, "starts_at", "startsAt")
        ends_raw, ends_key = _either(raw, "ends_at", "endsAt")
        url_raw, url_key = _either(raw, "generator_url", "generatorURL")
    else:
        starts_raw, ends_raw, url_raw = raw.get("startsAt"), raw.get("endsAt"), raw.get("generatorURL")
        starts_key, ends_key, url_key = "startsAt", "endsAt", "generatorURL"
    starts = parse_time(starts_raw, starts_key, style.numeric)
    ends = parse_time(ends_raw, ends_key, style.numeric)
    if starts is None:
        # Alertmanager takes a missing startsAt from endsAt; we take now, or endsAt when that is earlier
        # (so a resolved alert without startsAt is not rejected for ending before it started).
        starts = ends if ends is not None and ends < now else now
    elif ends is not None and ends < starts:
        raise ItemError("ends_before_start", ends_key, f"{show(ends_raw)} is before {starts_key} {show(starts_raw)}")

    if status is None:
        status = "resolved" if ends is not None and ends <= now else "firing"
    elif status == "resolved" and ends is None:
        ends = now if now > starts else starts

    generator_url = url_raw if type(url_raw) is str else optional_str(url_raw, url_key)
    source = style.source
    if source is None:
        source = optional_str(raw.get("source"), "source") or "generic"

    # positional, in ALERT_ARGS order
    return new_alert(labels, status, starts, now, fingerprints(labels), source, annotations, ends, generator_url)


def strict(raw: object, now: float, fingerprints: Fingerprints, style: Style) -> Alert | None:
    """The fast path of :func:`build` for a strict style (camelCase keys, string times, a fixed source): the Alert
    ``build`` would return for a well-formed item whose label names and times were seen before, or None whenever
    anything is unusual (an error, a first-seen label name or time, a dropped empty label) so that the caller
    runs ``build``, which refuses the item with its field-path error or builds it. Plain dict and type checks, no
    function call per field: every check here is one ``build`` also makes, and passing them all means ``build``
    would take the same branches (``tests/unit/test_normalise_fast.py`` compares the two)."""
    if type(raw) is not dict:
        return None
    labels = raw.get("labels")
    if type(labels) is not dict or not labels:
        return None
    good = _GOOD_NAMES
    for name, value in labels.items():
        if type(value) is not str or not value or name not in good:
            return None
    annotations = raw.get("annotations")
    if annotations is None:
        annotations = {}
    elif type(annotations) is dict:
        for value in annotations.values():
            if type(value) is not str:
                return None
    else:
        return None
    status = None
    if style.status:
        status = raw.get("status")
        if status is not None and status != "firing" and status != "resolved":
            return None
    times = _TIME_CACHE  # only times parsed before, and valid: a miss goes to ``build``, which parses and caches it
    starts = raw.get("startsAt")
    if starts is not None:
        if type(starts) is not str:
            return None
        starts = times.get(starts, False)
        if starts is False:
            return None
    ends = raw.get("endsAt")
    if ends is not None:
        if type(ends) is not str:
            return None
        ends = times.get(ends, False)
        if ends is False:
            return None
    if starts is None:
        starts = ends if ends is not None and ends < now else now
    elif ends is not None and ends < starts:
        return None
    if status is None:
        status = "resolved" if ends is not None and ends <= now else "firing"
    elif status == "resolved" and ends is None:
        ends = now if now > starts else starts
    url = raw.get("generatorURL")
    if url is None:
        url = ""
    elif type(url) is not str:
        return None
    # the fingerprint last, as in ``build``: a refusal from it (the label limits) is the same ItemError either way
    return new_alert(labels, status, starts, now, fingerprints(labels), style.source, annotations, ends, url)


def build_all(
    items: list, prefix: str, now: float, fingerprints: Fingerprints, style: Style,
    finish: Callable[[Alert, dict], Alert] | None = None, *, fast: bool = True,
) -> tuple[list[Alert], list[Rejection]]:
    """Every item of a list; bad ones become Rejections at ``prefix[i]``. ``finish(alert, item)``: a format's own
    fields added to each built alert (Grafana's). A strict style tries :func:`strict` first (``fast=False``: never;
    the tests compare the two)."""
    alerts: list[Alert] = []
    rejections: list[Rejection] = []
    append = alerts.append
    quick = strict if fast and style.source is not None and not style.snake and not style.numeric else None
    for index, raw in enumerate(items):
        try:
            alert = None if quick is None else quick(raw, now, fingerprints, style)
            if alert is None:
                alert = build(raw, now, fingerprints, style)
            append(alert if finish is None else finish(alert, raw))
        except ItemError as err:
            rejections.append(rejection(index, f"{prefix}[{index}]", err, raw))
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug, or a failing fingerprints callable: lose the item, not the batch
            rejections.append(rejection(index, f"{prefix}[{index}]", internal_error(exc, raw), raw))
    return alerts, rejections


def parse(data: object, now: float, fingerprints: Fingerprints) -> tuple[list[Alert], list[Rejection]]:
    """A generic body: one item, a list of items, or ``{"alerts": [items]}``."""
    if type(data) is list:
        return build_all(data, "", now, fingerprints, GENERIC)
    if type(data) is dict:
        if "labels" not in data and "alerts" in data:
            items = data["alerts"]
            if type(items) is not list:
                raise ShapeError(f"alerts: expected an array, got {json_type(items)}")
            return build_all(items, "alerts", now, fingerprints, GENERIC)
        return run_one(build, data, now, fingerprints, GENERIC)
    raise ShapeError(f"body: expected an object or an array of objects, got {json_type(data)}")
