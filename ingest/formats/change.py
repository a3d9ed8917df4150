"""Change events (``docs/changes.md``): Stormwatch's own JSON (``POST /api/v1/changes``) and PagerDuty's Change
Events API v2 (``POST /v2/change/enqueue``), validated by hand into one :class:`events.changes.Change`.

A bad change raises :class:`ItemError` naming the field (``service``, ``payload.summary``, ...); the HTTP receivers
answer 400 with it and the change consumer dead-letters the message with it as its reason header. Unknown services
are accepted and kept (a deploy of something the catalog does not list yet is still a change people look for).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson

from events.changes import KINDS, Change
from ingest.formats import ItemError, json_type, parse_time, show

SUMMARY_MAX = 1024  # characters, as PagerDuty's payload.summary
TEXT_MAX = 256  # characters: id, service, environment, source, a link's text
DETAILS_MAX_BYTES = 16 << 10  # custom_details, as JSON
LINKS_MAX = 20
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HREF = re.compile(r"https?://[^\s]{1,2000}")

FORMATS = ("change", "pagerduty_change")


def parse(data: object, fmt: str, now: float) -> Change:
    """One change from a parsed JSON body in ``fmt`` (``change`` or ``pagerduty_change``)."""
    if type(data) is not dict:
        raise ItemError("schema", "", f"expected a JSON object, got {json_type(data)}")
    return _pagerduty(data, now) if fmt == "pagerduty_change" else _own(data, now)


def _own(data: dict[str, Any], now: float) -> Change:
    _unknown(data, {"id", "summary", "service", "environment", "kind", "source", "at", "links", "custom_details"}, "")
    return _change(
        now, kind=(data.get("kind", "deploy"), "kind"), change_id=(data.get("id"), "id"),
        service=(data.get("service"), "service"), summary=(data.get("summary"), "summary"), at=(data.get("at"), "at"),
        environment=(data.get("environment"), "environment"), source=(data.get("source"), "source"),
        links=(data.get("links"), "links"), details=(data.get("custom_details"), "custom_details"))


def _pagerduty(data: dict[str, Any], now: float) -> Change:
    """PagerDuty's change event: ``routing_key``, ``payload`` {summary, timestamp, source, custom_details}, ``links``.
    The service is ``payload.custom_details.service`` (PagerDuty takes it from the routing key's integration);
    ``custom_details.kind`` and ``custom_details.environment`` are read when present, and ``dedup_key`` is the id."""
    _unknown(data, {"routing_key", "payload", "links", "images", "dedup_key"}, "")
    if type(data.get("routing_key")) is not str or not data["routing_key"]:
        raise ItemError("schema", "routing_key", "required: the integration key (a string)")
    payload = data.get("payload")
    if type(payload) is not dict:
        raise ItemError("schema", "payload", f"required: an object, got {json_type(payload)}")
    _unknown(payload, {"summary", "timestamp", "source", "custom_details"}, "payload.")
    where = "payload.custom_details"
    # read first: it holds the service, kind and environment (and _change checks it again: one dump of <= 16 KiB)
    details = _details(payload.get("custom_details"), where)
    return _change(
        now, kind=(details.get("kind", "deploy"), f"{where}.kind"), change_id=(data.get("dedup_key"), "dedup_key"),
        service=(details.get("service"), f"{where}.service"), summary=(payload.get("summary"), "payload.summary"),
        at=(payload.get("timestamp"), "payload.timestamp"),
        environment=(details.get("environment"), f"{where}.environment"),
        source=(payload.get("source"), "payload.source"), links=(data.get("links"), "links"), details=(details, where))


_Field = tuple[object, str]  # a value as received, and where it was (the path a refusal names)


def _change(now: float, *, kind: _Field, change_id: _Field, service: _Field, summary: _Field, at: _Field,
            environment: _Field, source: _Field, links: _Field, details: _Field) -> Change:
    """One change of either format, its fields checked in this order (the first bad one is the refusal)."""
    if kind[0] not in KINDS:
        raise ItemError("schema", kind[1], f"{show(kind[0])} is not a kind of change: use {', '.join(KINDS)}")
    return Change(
        id=_text(*change_id, required=False) or uuid.uuid4().hex,
        service=_service(*service),
        summary=_summary(*summary),
        at=_at(*at, now),
        kind=str(kind[0]),
        environment=_text(*environment, required=False),
        source=_text(*source, required=False),
        links=_links(*links),
        custom_details=_details(*details),
        received_at=now,
    )


def _unknown(data: dict[str, Any], allowed: set[str], prefix: str) -> None:
    for key in data:
        if key not in allowed:
            raise ItemError("schema", f"{prefix}{key}", f"unknown field; allowed: {', '.join(sorted(allowed))}")


def _text(value: object, path: str, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise ItemError("schema", path, "required")
        return ""
    if type(value) is not str:
        raise ItemError("schema", path, f"expected a string, got {json_type(value)}")
    if len(value) > TEXT_MAX:
        raise ItemError("too_long", path, f"{len(value)} characters, more than {TEXT_MAX}")
    if any(ord(c) < 32 for c in value):
        raise ItemError("schema", path, "control characters are not allowed")
    return value


def _service(value: object, path: str) -> str:
    text = _text(value, path)
    if not _SERVICE.fullmatch(text):
        raise ItemError("schema", path, f"{show(text)} is not a service name: letters, digits, '-', '_' and '.'")
    return text


def _summary(value: object, path: str) -> str:
    if type(value) is not str or not value.strip():
        raise ItemError("schema", path, "required: a non-empty string")
    if len(value) > SUMMARY_MAX:
        raise ItemError("too_long", path, f"{len(value)} characters, more than {SUMMARY_MAX}")
    return value


def _at(value: object, path: str, now: float) -> float:
    at = parse_time(value, path, numeric=True)
    return now if at is None else at


def _links(value: object, path: str) -> tuple[dict[str, str], ...]:
    if value is None:
        return ()
    if type(value) is not list:
        raise ItemError("schema", path, f"expected a list of {{href, text}}, got {json_type(value)}")
    if len(value) > LINKS_MAX:
        raise ItemError("too_long", path, f"{len(value)} links, more than {LINKS_MAX}")
    links = []
    for i, link in enumerate(value):
        where = f"{path}[{i}]"
        if type(link) is not dict:
            raise ItemError("schema", where, f"expected an object {{href, text}}, got {json_type(link)}")
        _unknown(link, {"href", "text"}, f"{where}.")
        href = link.get("href")
        if type(href) is not str or not _HREF.fullmatch(href):
            raise ItemError("schema", f"{where}.href", "required: an http:// or https:// URL")
        links.append({"href": href, "text": _text(link.get("text"), f"{where}.text", required=False)})
    return tuple(links)


def _details(value: object, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise ItemError("schema", path, f"expected an object, got {json_type(value)}")
    size = len(orjson.dumps(value))
    if size > DETAILS_MAX_BYTES:
        raise ItemError("too_long", path, f"{size} bytes as JSON, more than {DETAILS_MAX_BYTES}")
    return value
