"""Grafana-managed alerting's webhook contact point: an Alertmanager-shaped webhook with Grafana's own fields.

Grafana (8 and later) posts ``{"receiver", "status", "orgId", "alerts": [...], "groupLabels", "commonLabels",
"commonAnnotations", "externalURL", "version": "1", "groupKey", "truncatedAlerts", "title", "state", "message"}``;
each alert is Alertmanager's (``status``, ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``,
``fingerprint``) plus ``silenceURL``, ``dashboardURL``, ``panelURL``, ``imageURL`` and the query results as
``values`` (Grafana 9.1+, an object) or ``valueString`` (older, text). See docs/formats.md, "Grafana".

Alerts are validated as the Alertmanager webhook's are (camelCase keys, RFC 3339 string times, fingerprints
recomputed from the labels). Grafana's extra fields are kept as annotations under their own names, non-empty values
only, and never over an annotation the alert itself carries: the alert's ``silenceURL``, ``dashboardURL``,
``panelURL``, ``imageURL``, ``valueString`` and ``values`` (as JSON text), and the notification's ``orgId``,
``state``, ``title`` and ``message`` (the message at most ``MESSAGE_MAX`` characters, since every alert of the group
gets a copy).
"""

from __future__ import annotations

from rules.alert import Alert

from . import Rejection, ShapeError, dumps, json_type, new_alert
from .generic import Fingerprints, Style, build_all

STYLE = Style("grafana", status=True, snake=False, numeric=False)
ALERT_FIELDS = ("silenceURL", "dashboardURL", "panelURL", "imageURL", "valueString", "values")
BODY_FIELDS = ("orgId", "state", "title", "message")
MESSAGE_MAX = 4096  # characters of the notification's message copied into each alert


def looks_like_grafana(data: object) -> bool:
    """A webhook body from Grafana: an ``alerts`` array with Grafana's ``orgId``, or its ``state`` and ``title``."""
    return type(data) is dict and type(data.get("alerts")) is list and (
        "orgId" in data or ("state" in data and "title" in data))


def _text(value: object) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    return dumps(value).decode("utf-8", "replace")  # numbers (orgId), objects (values): as JSON


def _body_annotations(data: dict) -> dict[str, str]:
    out = {}
    for name in BODY_FIELDS:
        text = _text(data.get(name))
        if text:
            out[name] = text if len(text) <= MESSAGE_MAX else text[:MESSAGE_MAX - 1] + "…"
    return out


def _with_extras(alert: Alert, raw: dict, shared: dict[str, str]) -> Alert:
    extras = {name: text for name in ALERT_FIELDS if (text := _text(raw.get(name)))}
    extras.update(shared)
    if not extras:
        return alert
    annotations = {**extras, **alert.annotations}  # the alert's own annotations win
    return new_alert(alert.labels, alert.status, alert.starts_at, alert.received_at, alert.fingerprint, alert.source,
                     annotations, alert.ends_at, alert.generator_url)


def parse(data: object, now: float, fingerprints: Fingerprints) -> tuple[list[Alert], list[Rejection]]:
    if type(data) is not dict:
        raise ShapeError(f"body: expected an object, got {json_type(data)}")
    items = data.get("alerts")
    if type(items) is not list:
        raise ShapeError(f"alerts: expected an array, got {json_type(items)}")
    shared = _body_annotations(data)
    return build_all(items, "alerts", now, fingerprints, STYLE, lambda alert, raw: _with_extras(alert, raw, shared))
