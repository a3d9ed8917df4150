"""Size limits on an alert's labels, so what a sender posts cannot make the workers hold unbounded memory.

Labels are an alert's identity: they are kept in the memos, hashed into fingerprints, copied into every event
and stored in Redis. The body limit (``STORMWATCH_MAX_BODY_BYTES``) bounds one request, not what many requests
make the process keep, so each alert's labels are bounded too:

    label_value_max_bytes  one label value            (STORMWATCH_LABEL_VALUE_MAX_BYTES, default 16 KiB)
    labels_max_count       labels on one alert         (STORMWATCH_LABELS_MAX_COUNT, default 128)
    labels_max_bytes       names + values of one alert (STORMWATCH_LABELS_MAX_BYTES, default 64 KiB)

An alert over a limit is rejected like any other invalid item (a :class:`Rejection` naming the field, reason
``label_value_too_long``, ``too_many_labels`` or ``labels_too_large``); the valid alerts beside it go on. The check
runs where the normaliser fingerprints the labels (:class:`LabelGuard`, on a memo miss), so an oversized label
set never reaches the fingerprint memo or anything after it, and a label set already seen costs nothing more.
Sizes are UTF-8 bytes. The check is a couple of ``len`` calls per label: a string of n characters is at most
4n bytes, so it is encoded only when its character count alone could be over the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Mapping

from rules.alert import Alert
from rules.fingerprint import FingerprintCache
from rules.memo import MEMO_MAX_BYTES

from .formats import ItemError, Rejection, dumps, key_path

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


def problem(labels: Mapping[str, str], limits: LabelLimits) -> tuple[str, str, str] | None:
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


def _refuse_over(limits: LabelLimits) -> Callable[[Mapping[str, str]], None]:
    def admit(labels: Mapping[str, str]) -> None:
        found = problem(labels, limits)
        if found is not None:
            raise ItemError(*found)

    return admit


class LabelGuard:
    """The limits and the fingerprint memo they guard: labels are checked on a memo miss, before anything is
    computed or kept (a hit was checked when it was stored, so the hot path pays nothing). Build one per process
    (``STORMWATCH_MEMO_MAX_BYTES`` bounds its memo) and pass it to every ``normalise`` call."""

    __slots__ = ("limits", "fingerprints")

    def __init__(self, limits: LabelLimits = LabelLimits(), *, max_bytes: int = MEMO_MAX_BYTES) -> None:
        self.limits = limits
        self.fingerprints = FingerprintCache(max_bytes=max_bytes, admit=_refuse_over(limits))


Fingerprints = Callable[[Mapping[str, str]], str]


def checked(fingerprints: Fingerprints, limits: LabelLimits) -> Fingerprints:
    """Any other ``fingerprints`` callable behind the limits, checked on every call."""
    admit = _refuse_over(limits)

    def fingerprint(labels: Mapping[str, str]) -> str:
        admit(labels)
        return fingerprints(labels)

    return fingerprint


def enforce(data: object, alerts: list[Alert], rejections: list[Rejection],
            limits: LabelLimits) -> tuple[list[Alert], list[Rejection]]:
    """For a single-item body whose alert did not go through :func:`checked` (a PagerDuty event that names its
    own ``dedup_key``): reject the alert when it passes the limits."""
    if len(alerts) != 1:
        return alerts, rejections
    found = problem(alerts[0].labels, limits)
    if found is None:
        return alerts, rejections
    reason, field, message = found
    return [], [*rejections, Rejection(0, reason, f"{field}: {message}", dumps(data))]
