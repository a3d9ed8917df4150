"""PagerDuty Events API v2: one event per body.

``routing_key`` is checked but never copied: it is a secret (a rejected event's ``item`` carries it as
"<redacted>"). The fingerprint is the ``dedup_key`` when there is one, else (trigger only) the
Alertmanager fingerprint of the mapped labels. Field mapping: ``docs/formats.md``.

An event that came in through a configured integration key (``ingest.integrations``) carries
``stormwatch_integration: {source, team?, service?}`` in place of its key: the alert's ``source`` is that source, and
``team`` / ``service`` become labels (before the fingerprint is taken).
"""

from __future__ import annotations

from rules.alert import Alert

from . import ItemError, Rejection, ShapeError, dumps, json_type, new_alert, optional_str, parse_time, run_one, show
from .generic import Fingerprints

SEVERITIES = frozenset({"critical", "error", "warning", "info"})
ACTIONS = ("trigger", "resolve", "acknowledge")
REDACTED = "<redacted>"
INTEGRATION = "stormwatch_integration"  #: what an integration key maps to, set by the HTTP receiver


DEDUP_KEY_MAX = 255  # PagerDuty Events API v2: "The maximum permitted length of this property is 255 characters"


def parse(data: object, now: float, fingerprints: Fingerprints) -> tuple[list[Alert], list[Rejection]]:
    if type(data) is not dict:
        raise ShapeError(f"body: expected an object (one PagerDuty event), got {json_type(data)}")
    alerts, rejections = run_one(build, data, now, fingerprints)
    if rejections and "routing_key" in data:  # the secret must not reach dead-letter queues or logs either
        shown = dumps(redacted(data))
        rejections = [Rejection(r.index, r.reason, r.detail, shown) for r in rejections]
    return alerts, rejections


def redacted(event: object) -> object:
    """The event with its routing key (a secret) replaced, for rejections, logs and dead-letter queues."""
    if type(event) is dict and "routing_key" in event:
        return {**event, "routing_key": REDACTED}
    return event


def _required_str(raw: dict, key: str, path: str) -> str:
    value = raw.get(key)
    if type(value) is not str or not value:
        got = "an empty string" if value == "" else json_type(value)
        raise ItemError("schema", path, f"a non-empty string is required, got {got}")
    return value


def _detail_value(value: object) -> str | None:
    if type(value) is str:
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int or type(value) is float:
        return str(value)
    if value is None:
        return None
    return dumps(value).decode("utf-8", "replace")


def _from_payload(payload: object, now: float) -> tuple[dict[str, str], dict[str, str], float]:
    """Labels, annotations and start time from a trigger payload."""
    if type(payload) is not dict:
        raise ItemError("schema", "payload", f"expected an object, got {json_type(payload)}")
    summary = _required_str(payload, "summary", "payload.summary")
    source = _required_str(payload, "source", "payload.source")
    severity = payload.get("severity")
    if type(severity) is not str or severity not in SEVERITIES:
        raise ItemError(
            "schema", "payload.severity", f"must be one of critical, error, warning, info; got {show(severity)}"
        )
    component = optional_str(payload.get("component"), "payload.component")
    group = optional_str(payload.get("group"), "payload.group")
    klass = optional_str(payload.get("class"), "payload.class")
    starts = parse_time(payload.get("timestamp"), "payload.timestamp")

    labels = {
        "alertname": klass or summary,
        "service": component or source,
        "instance": source,
        "severity": severity,
    }
    if group:
        labels["group"] = group

    annotations: dict[str, str] = {}
    details = payload.get("custom_details")
    if type(details) is dict:
        for name, value in details.items():
            text = _detail_value(value)
            if text is not None:
                annotations[name] = text
    elif details is not None:
        annotations["custom_details"] = _detail_value(details) or ""  # details is not None: never None
    annotations["summary"] = summary
    return labels, annotations, now if starts is None else starts


def build(event: dict, now: float, fingerprints: Fingerprints) -> Alert:
    action = event.get("event_action")
    if action not in ACTIONS:
        raise ItemError("schema", "event_action", f"must be one of trigger, resolve, acknowledge; got {show(action)}")
    _required_str(event, "routing_key", "routing_key")
    dedup_key = optional_str(event.get("dedup_key"), "dedup_key") or None
    if dedup_key is not None and len(dedup_key) > DEDUP_KEY_MAX:  # it becomes the fingerprint: keep it small
        raise ItemError("dedup_key", "dedup_key", f"at most {DEDUP_KEY_MAX} characters (PagerDuty's limit), "
                                                  f"got {len(dedup_key)}")

    generator_url = optional_str(event.get("client_url"), "client_url")
    if not generator_url:
        links = event.get("links")
        if type(links) is list and links and type(links[0]) is dict and type(links[0].get("href")) is str:
            generator_url = links[0]["href"]

    source, mapped = _integration(event.get(INTEGRATION))
    payload = event.get("payload")
    if action == "trigger":
        labels, annotations, starts = _from_payload(payload, now)
        labels.update(mapped)
        fingerprint = dedup_key or fingerprints(labels)
        return new_alert(labels, "firing", starts, now, fingerprint, source, annotations, None, generator_url)

    if dedup_key is None:
        raise ItemError("dedup_key", "dedup_key", f"required for event_action {action!r}")
    try:  # PagerDuty ignores the payload of resolve/acknowledge: use it when it is valid, never reject on it
        labels, annotations, starts = _from_payload(payload, now)
    except ItemError:
        labels, annotations, starts = {"alertname": "pagerduty", "dedup_key": dedup_key}, {}, now
    labels.update(mapped)
    if action == "acknowledge":
        annotations["event_action"] = "acknowledge"
        status, ends = "firing", None
    else:
        status, ends = "resolved", (now if now > starts else starts)
    return new_alert(labels, status, starts, now, dedup_key, source, annotations, ends, generator_url)


def _integration(raw: object) -> tuple[str, dict[str, str]]:
    """The alert's source and the labels an integration adds (``stormwatch_integration``); none: "pagerduty"."""
    if raw is None:
        return "pagerduty", {}
    if type(raw) is not dict:
        raise ItemError("schema", INTEGRATION, f"expected an object, got {json_type(raw)}")
    source = optional_str(raw.get("source"), f"{INTEGRATION}.source") or "pagerduty"
    labels = {}
    for name in ("team", "service"):
        value = optional_str(raw.get(name), f"{INTEGRATION}.{name}")
        if value:
            labels[name] = value
    return source, labels
