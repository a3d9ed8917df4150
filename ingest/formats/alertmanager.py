"""Alertmanager webhook payloads (version 4) and the Prometheus ``/api/v2/alerts`` list.

Both are validated item by item with the generic builder in a strict style: camelCase keys, RFC 3339
string times. Fingerprints are always recomputed from the labels; a sender's ``fingerprint`` is ignored.
"""

from __future__ import annotations

from rules.alert import Alert

from . import Rejection, ShapeError, json_type
from .generic import Fingerprints, Style, build_all

WEBHOOK = Style("alertmanager", status=True, snake=False, numeric=False)
V2 = Style("prometheus", status=False, snake=False, numeric=False)  # status follows endsAt


def parse_webhook(data: object, now: float, fingerprints: Fingerprints) -> tuple[list[Alert], list[Rejection]]:
    if type(data) is not dict:
        raise ShapeError(f"body: expected an object, got {json_type(data)}")
    items = data.get("alerts")
    if type(items) is not list:
        raise ShapeError(f"alerts: expected an array, got {json_type(items)}")
    return build_all(items, "alerts", now, fingerprints, WEBHOOK)


def parse_v2(data: object, now: float, fingerprints: Fingerprints) -> tuple[list[Alert], list[Rejection]]:
    if type(data) is not list:
        raise ShapeError(f"body: expected an array, got {json_type(data)}")
    return build_all(data, "", now, fingerprints, V2)


def looks_like_v2(items: list) -> bool:
    """A list is Prometheus-shaped when its objects use camelCase time/URL keys and none has generic markers."""
    camel = False
    for item in items:
        if type(item) is dict:
            if ("status" in item or "starts_at" in item or "ends_at" in item or "generator_url" in item
                    or "source" in item):
                return False
            if not camel and ("startsAt" in item or "endsAt" in item or "generatorURL" in item):
                camel = True
    return camel
