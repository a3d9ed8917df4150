"""HTTP receivers, framework-free: a request body in, what to answer and what to publish out.

Each receiver validates with the same normaliser the consumer uses (``ingest.normalise``) and answers the way
the sender expects (Alertmanager's API, PagerDuty's Events API v2). What it publishes is the sender's own
bytes with an explicit ``format`` header, so the consumer normalises once more with the same code and the
fingerprints cannot differ. When some items are invalid only the valid ones are published (re-serialised
from the parsed body), so the dead-letter queue never holds what the sender was already told about.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from ingest.formats import loads
from ingest.formats.pagerduty import INTEGRATION, REDACTED
from ingest.integrations import Integration
from ingest.normalise import BodyRejected, LabelGuard, Normalised, Rejection, normalise

#: endpoint kind -> the format named on the published message
FORMAT_OF = {
    "alertmanager_v2": "alertmanager_v2",
    "alertmanager_webhook": "alertmanager_webhook",
    "pagerduty": "pagerduty",
    "generic": "generic",
}


@dataclass(slots=True)
class Receipt:
    """What one request becomes."""

    status: int  #: HTTP status to answer (200, 202, 400, 413)
    document: dict[str, Any]  #: the JSON answer
    publish: bytes | None = None  #: the body to publish (None: nothing to publish)
    format: str = ""
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    dedup_key: str | None = None  #: PagerDuty: the event's dedup key


def field_of(rejection: Rejection) -> str:
    """The field path a rejection names (its detail starts with it)."""
    return rejection.detail.split(": ", 1)[0]


def _problem(r: Rejection) -> dict[str, Any]:
    return {"index": r.index, "field": field_of(r), "reason": r.reason, "detail": r.detail}


def receive(kind: str, body: bytes, *, now: float, max_bytes: int, limits: LabelGuard | None = None) -> Receipt:
    """Validate one request body of the given endpoint kind (a key of FORMAT_OF); ``limits``: the process's label
    limits and fingerprint memo (None: the defaults)."""
    fmt = FORMAT_OF[kind]
    try:
        result = normalise(body, now=now, format=fmt, max_bytes=max_bytes, limits=limits)
    except BodyRejected as exc:
        r = exc.rejection
        status = 413 if r.reason == "too_large" else 400
        return Receipt(status, _refused(kind, [r]), None, fmt, 0, [r])
    if kind == "pagerduty":
        return _pagerduty(body, result)
    publish = body if not result.rejections else _only_valid(kind, body, result)
    accepted = len(result.alerts)
    if result.rejections:
        doc = _refused(kind, result.rejections) | {"accepted": accepted}
        return Receipt(400, doc, publish if accepted else None, result.format, accepted, result.rejections)
    return Receipt(200, {"status": "success", "accepted": accepted}, publish if accepted else None, result.format,
                   accepted)


def routing_key_of(body: bytes) -> object:
    """The ``routing_key`` of a PagerDuty event body (None when the body is no JSON object)."""
    try:
        data, _ = loads(body)
    except Exception:  # noqa: BLE001 - not JSON at all: no key; the normaliser says what is wrong
        return None
    return data.get("routing_key") if type(data) is dict else None


def with_integration(body: bytes, integration: Integration) -> bytes:
    """The event as Stormwatch publishes it when its routing key was the credential: the key (a secret) replaced,
    what the integration maps to (source, team, service) added in ``stormwatch_integration``."""
    data, lenient = loads(body)
    event = {**data, "routing_key": REDACTED, INTEGRATION: integration.as_dict()}  # type: ignore[dict-item]
    if lenient:  # a string that is not UTF-8: keep it escaped, so that the normaliser refuses it as before
        return json.dumps(event, ensure_ascii=True, separators=(",", ":")).encode()
    return orjson.dumps(event)


def invalid_routing_key() -> Receipt:
    """The answer to an event whose routing key is no configured integration key (PagerDuty's shape)."""
    return Receipt(400, {"status": "invalid event", "message": "Event object is invalid",
                         "errors": ["routing_key: not a known integration key"]}, None, "pagerduty")


def _refused(kind: str, rejections: list[Rejection]) -> dict[str, Any]:
    if kind == "pagerduty":
        return {"status": "invalid event", "message": "Event object is invalid",
                "errors": [r.detail for r in rejections]}
    first = rejections[0]
    more = f" (and {len(rejections) - 1} more)" if len(rejections) > 1 else ""
    return {"status": "error", "error": f"{first.detail}{more}", "rejected": [_problem(r) for r in rejections]}


def _pagerduty(body: bytes, result: Normalised) -> Receipt:
    if result.rejections or not result.alerts:
        return Receipt(400, _refused("pagerduty", result.rejections), None, "pagerduty", 0, result.rejections)
    key = result.alerts[0].fingerprint
    doc = {"status": "success", "message": "Event processed", "dedup_key": key}
    return Receipt(202, doc, body, "pagerduty", 1, [], key)


def _only_valid(kind: str, body: bytes, result: Normalised) -> bytes:
    """The body without its rejected items (rare path: parsed again, re-serialised)."""
    data, _ = loads(body)  # leniently when a string is not UTF-8: the valid items hold none (ingest.normalise)
    bad = {r.index for r in result.rejections}
    if type(data) is list:
        return orjson.dumps([item for i, item in enumerate(data) if i not in bad])
    if type(data) is dict and type(data.get("alerts")) is list:
        return orjson.dumps({**data, "alerts": [item for i, item in enumerate(data["alerts"]) if i not in bad]})
    return body  # a single item cannot be partly valid
