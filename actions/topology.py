"""The RabbitMQ objects of the action runner, all named under the namespace.

    <ns>.actions               quorum queue     bound to <ns>.events with RUNNER_ROUTE only (events BCC'd to the runner:
                                                events/amqp.py); x-delivery-limit;
                                                dead-letters to <ns>.actions.dead
    <ns>.actions.dead          fanout exchange  and a quorum queue of the same name: malformed or poison events
    <ns>.runbooks              quorum queue     runbook requests for executors (docs/actions.md: the contract)
    <ns>.runbooks.results      quorum queue     executors' replies; any worker stores them in Redis

The names are the event contract's (``events/names.py``); this module declares them.
"""

from __future__ import annotations

from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from events.names import RUNNER_ROUTE, BrokerNames
from events.types import TRIGGER_INCIDENT_TYPES


@dataclass(frozen=True, slots=True)
class ActionNames(BrokerNames):
    """The contract's names, under the short names the runner's code uses."""

    @property
    def queue(self) -> str:
        return self.actions_queue

    @property
    def dead(self) -> str:
        return self.actions_dead

    @property
    def results(self) -> str:
        return self.runbooks_results


@dataclass(frozen=True, slots=True)
class ActionTopology:
    events: AbstractExchange
    queue: AbstractQueue
    dead: AbstractExchange
    runbooks: AbstractQueue
    results: AbstractQueue


async def declare_actions(channel: AbstractChannel, names: ActionNames, *, delivery_limit: int) -> ActionTopology:
    events = await channel.declare_exchange(names.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    dead = await channel.declare_exchange(names.dead, aio_pika.ExchangeType.FANOUT, durable=True)
    dead_queue = await channel.declare_queue(names.dead, durable=True, arguments={"x-queue-type": "quorum"})
    await dead_queue.bind(dead, routing_key="")
    queue = await channel.declare_queue(names.queue, durable=True, arguments={
        "x-queue-type": "quorum", "x-delivery-limit": delivery_limit, "x-dead-letter-exchange": names.dead})
    # Only events a publisher marked for the runner (a BCC header naming RUNNER_ROUTE: events/amqp.py) reach it;
    # the earlier per-type bindings are removed (unbinding what is absent is a no-op).
    await queue.bind(events, routing_key=RUNNER_ROUTE)
    for old in (*TRIGGER_INCIDENT_TYPES, "incident.*", "problem.*"):
        await queue.unbind(events, routing_key=old)
    runbooks = await declare_runbook_queue(channel, names)
    results = await channel.declare_queue(names.results, durable=True, arguments={"x-queue-type": "quorum"})
    return ActionTopology(events, queue, dead, runbooks, results)


async def declare_runbook_queue(channel: AbstractChannel, names: ActionNames) -> AbstractQueue:
    return await channel.declare_queue(names.runbooks, durable=True, arguments={"x-queue-type": "quorum"})


async def delete_actions(channel: AbstractChannel, names: ActionNames) -> None:
    """Remove the runner's objects (tests and demo clean-up); the events exchange belongs to the worker."""
    for queue in (names.queue, names.dead, names.runbooks, names.results):
        await channel.queue_delete(queue)
    await channel.exchange_delete(names.dead)
