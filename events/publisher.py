"""The seam between producers of events and the broker: ``EventPublisher`` (``events.amqp.AmqpEventPublisher`` is
the one that publishes to RabbitMQ with confirms) and the error it raises when the broker did not take an event.
No I/O library here, so any layer may name the seam."""

from __future__ import annotations

from typing import Any, Protocol
from collections.abc import Sequence


class EventPublisher(Protocol):
    """Where producers hand events (built by ``events.builders``)."""

    async def publish_events(self, events: Sequence[dict[str, Any]]) -> None:
        """Publish the events durably (confirmed by the broker) before returning; EventPublishFailed if not."""


class EventPublishFailed(Exception):
    """The broker did not take an event (channel or connection closed under the publish, a nack, no confirm in
    time): an AMQP failure that passes when the connection is restored, not a bug in the batch. ``cause`` is the
    client library's error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"event not published: {cause!r}")
        self.cause = cause
