"""Alert messages straight from aiormq, without aio-pika's per-message wrapper.

aio-pika turns every delivery into an ``IncomingMessage`` (about thirty attribute writes through a guarded
``__setattr__``) and runs the callback in a second task. For single-alert messages that was about a sixth of the
worker's CPU. The alerts queue is consumed with the raw aiormq delivery instead, wrapped in :class:`AlertMessage`,
which reads only what the consumer uses.

The queue stays an aio-pika ``RobustQueue`` (:class:`AlertQueue`), so everything robust about it is kept: after a
reconnect aio-pika re-declares it, re-binds it and calls :meth:`AlertQueue.consume` again with the same callback, which
takes the raw path again. When the broker cancels the consumer on a live channel (queue deleted, leader moved),
aio-pika's recovery re-subscribes through the base ``Queue.consume`` and so delivers ``IncomingMessage`` objects:
:meth:`AlertMessage.of` accepts both.
"""

from __future__ import annotations

from typing import Any, cast
from collections.abc import Awaitable, Callable

import aiormq
from aio_pika import RobustQueue
from aio_pika.abc import AbstractIncomingMessage
from aiormq import spec
from aiormq.abc import DeliveredMessage

RawCallback = Callable[[Any], Awaitable[None]]


class AlertMessage:
    """One delivery off the alerts queue: what the consumer reads, and its ack and reject."""

    __slots__ = ("body", "headers", "message_id", "routing_key", "redelivered", "delivery_tag", "_channel")

    def __init__(self, body: bytes, headers: dict[str, Any], message_id: str | None, routing_key: str,
                 redelivered: bool, delivery_tag: int, channel: aiormq.abc.AbstractChannel) -> None:
        self.body = body
        self.headers = headers
        self.message_id = message_id
        self.routing_key = routing_key
        self.redelivered = redelivered
        self.delivery_tag = delivery_tag
        self._channel = channel

    @classmethod
    def of(cls, message: DeliveredMessage | AbstractIncomingMessage) -> AlertMessage:
        if isinstance(message, DeliveredMessage):
            props = message.header.properties
            deliver = cast(spec.Basic.Deliver, message.delivery)  # a consumer's delivery: basic.deliver
            return cls(message.body, props.headers or {}, props.message_id, deliver.routing_key or "",
                       bool(deliver.redelivered), deliver.delivery_tag or 0, message.channel)
        return cls(message.body, message.headers or {}, message.message_id, message.routing_key or "",
                   bool(message.redelivered), message.delivery_tag or 0, message.channel)

    @property
    def channel(self) -> aiormq.abc.AbstractChannel:
        """The channel it arrived on (the identity a multiple-ack covers)."""
        return self._channel

    @property
    def channel_closed(self) -> bool:
        return self._channel.is_closed

    def ack(self, *, multiple: bool = False) -> Awaitable[None]:
        return self._channel.basic_ack(self.delivery_tag, multiple=multiple)

    def reject(self, *, requeue: bool = True) -> Awaitable[None]:
        return self._channel.basic_reject(self.delivery_tag, requeue=requeue)


class AlertQueue(RobustQueue):
    """A ``RobustQueue`` whose consumers registered with :meth:`consume_raw` get aiormq's delivery as it is."""

    __slots__ = ("_raw",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._raw: set[Any] = set()

    async def consume_raw(self, callback: RawCallback, *, timeout: float | None = None) -> str:
        self._raw.add(callback)
        return await self.consume(callback, no_ack=False, timeout=timeout)

    async def consume(self, callback: Any, no_ack: bool = False, exclusive: bool = False, arguments: Any = None,
                      consumer_tag: Any = None, timeout: Any = None, robust: bool = True) -> Any:
        if callback not in self._raw:
            return await super().consume(callback, no_ack=no_ack, exclusive=exclusive, arguments=arguments,
                                         consumer_tag=consumer_tag, timeout=timeout, robust=robust)
        channel = await self.channel.get_underlay_channel()
        ok = await channel.basic_consume(queue=self.name, consumer_callback=callback, exclusive=exclusive,
                                         no_ack=no_ack, arguments=arguments, consumer_tag=consumer_tag,
                                         timeout=timeout)
        if ok.consumer_tag is None:
            raise RuntimeError("the broker returned no consumer tag")
        if robust:  # what RobustQueue keeps for restore(): the same keys, so aio-pika's recovery can use them too
            self._consumers[ok.consumer_tag] = dict(callback=callback, no_ack=no_ack, exclusive=exclusive,
                                                    arguments=arguments)
        return ok.consumer_tag
