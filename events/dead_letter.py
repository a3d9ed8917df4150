"""Dead letters: the headers every Stormwatch dead-letter queue's messages carry, and the message that carries them.

Three consumers dead-letter what they cannot use, each to its own queue (``events/names.py``): the alert worker and
the change consumer to ``<ns>.alerts.dead``, the action runner to ``<ns>.actions.dead``, the history writer to
``<ns>.history.dead``. Built here, once, so whoever reads any of them (a person with ``rabbitmqadmin``, a re-drive
script, the tests) finds the same fields with the same limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

log = structlog.get_logger("stormwatch.events")

REASON_HEADER = "x-stormwatch-reason"  # a short code: "json", "schema", "label_value_too_long", ...
DETAIL_HEADER = "x-stormwatch-detail"  # what was wrong, for a person, at most DETAIL_MAX characters
INDEX_HEADER = "x-stormwatch-item"  # the refused item's index in a body of several (alerts)
FIELD_HEADER = "x-stormwatch-field"  # the refused field's path (change events)
ROUTING_KEY_HEADER = "x-stormwatch-routing-key"  # the routing key it arrived under
MESSAGE_ID_HEADER = "x-stormwatch-message-id"  # its AMQP message id, when it had one
DETAIL_MAX = 1000
PUBLISH_TIMEOUT = 30.0  # seconds to wait for the broker's confirm


def dead_letter(body: bytes, *, reason: str, detail: str, routing_key: str, message_id: str | None,
                headers: Mapping[str, Any] | None = None) -> aio_pika.Message:
    """The persistent message that dead-letters ``body``: its reason, detail, routing key and message id as
    headers, and any ``headers`` of the caller's own (``INDEX_HEADER``, ``FIELD_HEADER``)."""
    out: dict[str, Any] = {REASON_HEADER: reason, DETAIL_HEADER: detail[:DETAIL_MAX], ROUTING_KEY_HEADER: routing_key,
                           **(headers or {})}
    if message_id:
        out[MESSAGE_ID_HEADER] = message_id
    return aio_pika.Message(body, headers=out, content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT)


async def forward(exchange: AbstractExchange, message: AbstractIncomingMessage, *, reason: str, detail: str,
                  failed_event: str) -> bool:
    """Publish an incoming message, as it arrived, to a dead-letter exchange under its own routing key; True once
    the broker confirmed it. Not confirmed: logged as ``failed_event`` and False, for the caller to requeue the
    message (it comes back and is dead-lettered then)."""
    routing_key = message.routing_key or ""
    try:
        await exchange.publish(dead_letter(message.body, reason=reason, detail=detail, routing_key=routing_key,
                                           message_id=message.message_id),
                               routing_key=routing_key, timeout=PUBLISH_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - not confirmed: the caller requeues
        log.warning(failed_event, error=repr(exc))
        return False
    return True
