"""Size limits on an alert's labels, so what a sender posts cannot make the workers hold unbounded memory.

Labels are an alert's identity: they are kept in the memos, hashed into fingerprints, copied into every event
and stored in Redis. The body limit (``STORMWATCH_MAX_BODY_BYTES``) bounds one request, not what many requests
make the process keep, so each alert's labels are bounded too:

    label_value_max_bytes  one label value            (STORMWATCH_LABEL_VALUE_MAX_BYTES, default 16 KiB)
    labels_max_count       labels on one alert         (STORMWATCH_LABELS_MAX_COUNT, default 128)
    labels_max_bytes       names + values of one alert (STORMWATCH_LABELS_MAX_BYTES, default 64 KiB)

An alert over a limit is rejected like any other invalid item (a :class:`Rejection` naming the field, reason
``label_value_too_long``, ``too_many_labels`` or ``labels_too_large``); the valid alerts beside it go on.
Sizes are UTF-8 bytes. The check is a couple of ``len`` calls per label: a string of n characters is at most
4n bytes, so it is encoded only when its character count alone could be over the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.alert import Alert

from .formats import Rejection, dumps, key_path

REASONS = ("label_value_too_long", "too_many_labels", "labels_too_large")


@dataclass(frozen=True, slots=True)
class LabelLimits:
    label_value_max_bytes: int = 16_384
    labels_max_count: int = 128
    labels_max_bytes: int = 65_536


def _utf8(text: str, limit: int) -> int:
    """The UTF-8 size of ``text``, or its length when that alone proves it within ``limit``."""
    n = len(text)
    return n if n * 4 <= limit else len(text.encode("utf-8", "surrogatepass"))


def problem(labels: dict[str, str], limits: LabelLimits) -> tuple[str, str, str] | None:
    """(reason, field relative to the item, message) for the first limit the labels pass, or None."""
    if len(labels) > limits.labels_max_count:
        return ("too_many_labels", "labels",
                f"{len(labels)} labels, more than the limit of {limits.labels_max_count} (STORMWATCH_LABELS_MAX_COUNT)")
    value_max = limits.label_value_max_bytes
    total = 0
    for name, value in labels.items():
        size = _utf8(value, value_max)
        if size > value_max:
            return ("label_value_too_long", key_path("labels", name),
                    f"value is {size} bytes, more than the limit of {value_max} (STORMWATCH_LABEL_VALUE_MAX_BYTES)")
        total += size + len(name)
    if total > limits.labels_max_bytes:
        return ("labels_too_large", "labels",
                f"names and values are {total} bytes, more than the limit of {limits.labels_max_bytes} "
                "(STORMWATCH_LABELS_MAX_BYTES)")
    return None


def _items(data: object) -> tuple[list | None, str]:
    """The body's item list and its path prefix; (None, "") when the body is a single item."""
    if type(data) is list:
        return data, ""
    if type(data) is dict and "labels" not in data and type(data.get("alerts")) is list:
        return data["alerts"], "alerts"
    return None, ""


def enforce(
    data: object, alerts: list[Alert], rejections: list[Rejection], limits: LabelLimits
) -> tuple[list[Alert], list[Rejection]]:
    """Move the alerts over a limit from ``alerts`` to ``rejections`` (indices and paths as the body has them)."""
    bad: list[tuple[int, tuple[str, str, str]]] = []
    for position, alert in enumerate(alerts):
        found = problem(alert.labels, limits)  # type: ignore[arg-type]
        if found is not None:
            bad.append((position, found))
    if not bad:
        return alerts, rejections
    items, prefix = _items(data)
    rejected = {r.index for r in rejections}
    # alert k is the k-th item that was not already rejected
    indices = [i for i in range(len(items))] if items is not None else [0]
    indices = [i for i in indices if i not in rejected]
    gone = {position for position, _ in bad}
    out = list(rejections)
    for position, (reason, field, message) in bad:
        index = indices[position] if position < len(indices) else position
        base = f"{prefix}[{index}]" if items is not None else ""
        raw = items[index] if items is not None and index < len(items) else data
        out.append(Rejection(index, reason, f"{base + '.' if base else ''}{field}: {message}", dumps(raw)))
    out.sort(key=lambda r: -1 if r.index is None else r.index)
    return [a for position, a in enumerate(alerts) if position not in gone], out
