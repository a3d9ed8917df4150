"""Wiring of the action runner inside a worker: its queues, executors, state, due-time loop and metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any
from collections.abc import Callable

import structlog
from aio_pika.abc import AbstractExchange, AbstractRobustConnection
from redis.asyncio import Redis

from actions.command_executor import CommandExecutor
from actions.consumer import ActionConsumer
from actions.due import DueWork
from events.amqp import AmqpEventPublisher
from events.builders import incident_escalated
from actions.email_executor import EmailExecutor, NotifyExecutor
from actions.http_executor import HttpExecutor
from actions.tickets.executor import TicketExecutor
from actions.runbook_executor import RunbookExecutor
from actions.runner import ActionRunner, RunnerConfig
from actions.state import ActionState
from actions.topology import ActionNames, declare_actions
from actions.urlguard import UrlPolicy
from correlation.store.escalation import Escalation
from correlation.store.keyspace import Keyspace
from correlation.store.store import IncidentStore
from rules.schema import RuleSet
from stormwatch.config import Settings
from stormwatch.due_loop import DueLoop, action_timers
from stormwatch.fault_hooks import with_ticket_hooks
from stormwatch.metrics import Metrics
from stormwatch.rules_holder import RuleHolder
from stormwatch.ticket_refs import RedisTicketRefs
from stormwatch.runtime import tune_gc
from stormwatch.services import close_connections, connect_services

log = structlog.get_logger("stormwatch.actions")


def url_policy(settings: Settings) -> UrlPolicy:
    s = settings
    return UrlPolicy.build(s.actions_allowed_schemes, s.actions_allowed_hosts, s.actions_allowed_ports,
                           s.actions_allowed_networks)


class MetricsObserver:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def started(self, action_type: str) -> None:
        self.metrics.actions_started.labels(action_type).inc()

    def finished(self, action_type: str, ok: bool, seconds: float) -> None:
        (self.metrics.actions_succeeded if ok else self.metrics.actions_failed).labels(action_type).inc()
        self.metrics.action_duration.labels(action_type).observe(seconds)

    def skipped(self, action_type: str, reason: str) -> None:
        self.metrics.actions_skipped.labels(reason).inc()

    def retrying(self, action: str) -> None:
        self.metrics.action_retries.labels(action).inc()


class StoreIncidents:
    """The runner's view of incidents: alerts for templates, status for verification, escalation."""

    def __init__(self, store: IncidentStore, escalation: Escalation, events: AbstractExchange) -> None:
        self.store = store
        self.escalation = escalation
        self.publisher = AmqpEventPublisher(events)

    async def alerts(self, incident_id: str) -> list[dict[str, Any]]:
        return [{"fingerprint": a.fingerprint, "labels": a.labels, "annotations": a.annotations, "status": a.status,
                 "starts_at": a.starts_at, "source": a.source, "generator_url": a.generator_url}
                for a in await self.store.incident_alerts(incident_id)]

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        incident = await self.store.incident(incident_id)
        return incident.public() if incident else None

    async def escalate(self, incident_id: str, because: str, now: float) -> None:
        done = await self.escalation.escalate(incident_id, because, now)
        if done is None:
            return
        incident, event_id = done
        await self.publisher.publish_events([incident_escalated(event_id, because, now, incident.public())])
        log.info("incident_escalated", incident_id=incident_id, priority=incident.priority)


class ActionsService:
    """The action runner of one worker process: start() then stop()."""

    def __init__(self, settings: Settings, metrics: Metrics, redis: Redis, connection: AbstractRobustConnection,
                 store: IncidentStore, rules: Callable[[], RuleSet | None], clock: Callable[[], float]) -> None:
        self.settings = settings
        self.metrics = metrics
        self.redis = redis
        self.connection = connection
        self.store = store
        self.rules = rules
        self.clock = clock
        self.keyspace = Keyspace(settings.namespace)
        self.names = ActionNames(settings.namespace)
        self.state = ActionState(redis, self.keyspace, timeline_max=settings.timeline_max_entries)
        self.runner: ActionRunner | None = None
        self.consumer: ActionConsumer | None = None
        self.due: DueLoop | None = None  # the runner's timers (stormwatch/due_loop.py)
        self.due_work: DueWork | None = None
        self.http: HttpExecutor | None = None

    async def start(self) -> None:
        s = self.settings
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=s.actions_concurrency)
        topology = await declare_actions(channel, self.names, delivery_limit=s.delivery_limit)
        self.http = HttpExecutor(url_policy(s))
        ticket_refs = with_ticket_hooks(RedisTicketRefs(self.redis, self.keyspace), os.environ)  # test-only hook
        executors: dict[str, Any] = {
            "http": self.http, "notify": NotifyExecutor(self.http, EmailExecutor(url_policy(s))),
            "command": CommandExecutor(),
            "ticket": TicketExecutor(self.http, ticket_refs, claim_lease=s.ticket_claim_lease_seconds),
            "runbook": RunbookExecutor(channel, self.names.runbooks, self.names.results, self.state, self.clock),
        }
        escalation = Escalation(self.redis, self.keyspace, timeline_max=s.timeline_max_entries,
                                marker_ttl=s.idempotency_ttl_seconds)
        self.runner = ActionRunner(
            self.state, self.rules, executors, StoreIncidents(self.store, escalation, topology.events),
            MetricsObserver(self.metrics), self.clock,
            RunnerConfig(shadow=s.actions_shadow, fleet_max=s.actions_fleet_max,
                         fleet_window=s.actions_fleet_window_seconds,
                         claim_margin=s.actions_claim_margin_seconds))
        self.due_work = DueWork(self.runner, fired=lambda kind: self.metrics.due_fired.labels(kind).inc())
        self.due = DueLoop("actions", action_timers(self.state.due, self.due_work, self.keyspace), self.clock,
                           s.actions_poll_seconds, self.metrics)
        self.consumer = ActionConsumer(topology, self.runner, self.state,
                                       on_error=lambda exc: self.metrics.crashes.inc())
        await self.consumer.start()
        self.due.start()
        log.info("actions_started", shadow=s.actions_shadow, queue=self.names.queue)

    async def stop(self) -> None:
        if self.due is not None:
            await self.due.stop()
        if self.due_work is not None:  # attempts of retries under way: drained like the events in flight
            await self.due_work.stop()
        if self.consumer is not None:
            await self.consumer.stop()
        if self.http is not None:
            await self.http.close()


async def serve_actions(settings: Settings, ready: Callable[[], None] | None = None) -> None:
    """``stormwatch serve --role actions``: only the action runner (no alert consumer, no HTTP), until
    SIGTERM/SIGINT; SIGHUP and file changes reload the rules as in a full worker."""
    metrics = Metrics.create()
    rules = RuleHolder(settings, metrics, runs_actions=True)
    rules.load()
    services = await connect_services(settings, metrics)
    rules.report_rules("rules_loaded")
    service = ActionsService(settings, metrics, services.redis, services.connection, services.store,
                             rules.current, time.time)
    await service.start()
    tune_gc(settings)
    rules.start_watching()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, rules.reload_rules)
    if ready is not None:
        ready()
    await stop.wait()
    rules.stop_watching()
    await service.stop()
    await close_connections(services.connection, services.redis)
    structlog.get_logger("stormwatch").info("worker_stopped", namespace=settings.namespace)
