"""Alertmanager-compatible alert fingerprints.

Prometheus and Alertmanager identify an alert by ``LabelSet.Fingerprint()``: FNV-1a 64 over the label
names in sorted order, each name and value followed by the separator byte 0xFF (prometheus/common
``model.LabelsToSignature``), printed as 16 lower-case hex digits. Using the same definition means an
alert has the same fingerprint here as in the Alertmanager UI and API.

Pure Python hashes a byte at a time, so results are memoised per label set: in an alert storm the same
label sets repeat (that is what deduplication is for), and a hit costs one dict lookup.
"""

from __future__ import annotations

from rules.memo import MEMO_LIMIT, BoundedMemo

from typing import Mapping

FNV_OFFSET_64 = 14695981039346656037
FNV_PRIME_64 = 1099511628211
SEPARATOR_BYTE = 0xFF
_MASK = 0xFFFFFFFFFFFFFFFF


def labels_to_signature(labels: Mapping[str, str]) -> int:
    """The 64-bit signature of a label set, as prometheus/common computes it."""
    # one buffer, one loop: name 0xFF value 0xFF ... (half the Python-level work of hashing part by part)
    data = b"".join(b"%s\xff%s\xff" % (name.encode("utf-8"), labels[name].encode("utf-8")) for name in sorted(labels))
    h = FNV_OFFSET_64
    prime, mask = FNV_PRIME_64, _MASK
    for byte in data:
        h = ((h ^ byte) * prime) & mask
    return h


class FingerprintCache:
    """Memoises fingerprints by label set; bounded (``rules.memo.BoundedMemo``), and storms repeat."""

    __slots__ = ("_cache",)

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        self._cache: BoundedMemo[frozenset, str] = BoundedMemo(limit)

    def __call__(self, labels: Mapping[str, str]) -> str:
        key = frozenset(labels.items())
        fp = self._cache.get(key)
        if fp is None:
            fp = format(labels_to_signature(labels), "016x")
            self._cache.put(key, fp)
        return fp


def fingerprint(labels: Mapping[str, str]) -> str:
    """16 hex digits, identical to Alertmanager's ``Fingerprint().String()``."""
    return format(labels_to_signature(labels), "016x")
