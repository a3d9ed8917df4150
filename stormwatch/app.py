"""Wiring: one Stormwatch worker built from Settings (consumer -> correlation -> events, plus /metrics)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any
from collections.abc import Callable

import structlog
from aio_pika.abc import AbstractRobustConnection
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from correlation.store.alert_queries import AlertQueries
from correlation.core.routing import IncidentDefaults, Router, priority_matrix
from actions.tickets.adapters import Settings as TicketSettings
from actions.tickets.executor import settings_of
from correlation.store.declared_incidents import DeclaredIncidents
from rules.action_schema import TicketConfig
from stormwatch.ticket_refs import RedisTicketRefs
from correlation.core.catalog import Catalog
from correlation.store.silences import SilenceStore
from correlation.store.keyspace import Keyspace
from correlation.store.change_windows import ChangeWindowStore
from correlation.store.changes import ChangeRetention, ChangeStore
from correlation.store.pipeline import CorrelationPipeline, Delivery, TimerFiring
from correlation.store.store import IncidentStore
from events.amqp import AmqpEventPublisher
from actions.triggers import CurrentActionIndex
from actions.state import ActionState
from ingest.consumer import AlertConsumer, ConsumerConfig
from ingest.limits import LabelGuard, LabelLimits
from ingest.topology import Names, Topology
from rules.schema import RuleSet
from correlation.store.incident_commands import IncidentCommands
from correlation.store.incident_queries import IncidentQueries
from correlation.store.links import Links
from stormwatch.actions_app import ActionsService
from stormwatch.history.database import open_engine
from stormwatch.history.queries import HistoryQueries
from stormwatch.history.service import HistoryService
from stormwatch.reports.source import HistoryReports
from stormwatch.reports.window import parse_business_hours
from stormwatch.api.app import build_app
from stormwatch.api.common import ApiServices
from stormwatch.api.stream import EventStream
from stormwatch.api.publishing import AlertPublisher
from stormwatch.auth import Authenticator, parse_tokens
from stormwatch.config import Settings, redact_url
from stormwatch.due_loop import DueLoop, correlation_timers
from stormwatch.sla_timers import SlaScheduling, SlaTimers, current_levels
from stormwatch.escalation_timers import EscalationScheduling, EscalationTimers, current_policies
from correlation.store.escalation_steps import EscalationStore
from correlation.store.sla import SlaStore
from stormwatch.errors import AMQP_START_HINT, REDIS_START_HINT, RulesInvalid, ServiceUnavailable
from stormwatch.fault_hooks import with_due_hooks, with_fault_hooks
from stormwatch.auth_limiter import AuthFailureLimiter, ClientAddress
from ingest.integrations import parse_integrations
from stormwatch.http import HttpBindError, HttpServer, HttpTls, bind_socket
from stormwatch.http_protocol import HttpLimits
from stormwatch.metrics import Metrics, SourceLabel
from stormwatch.recording import Recorder, RecordingSink
from stormwatch.team_directory import TeamDirectory
from stormwatch.rules_holder import RuleHolder
from stormwatch.rules_source import load_rules, rules_directory
from stormwatch.rules_source import rules_signature as _rules_signature
from stormwatch.runtime import tune_gc
from stormwatch.changes_service import ChangesService
from stormwatch.services import close_connections, connect_services
from stormwatch.worker_observer import BatchHook, WorkerObserver, is_retryable

# these moved to stormwatch.errors and stormwatch.rules_source; importers (tests, deploy scripts) still find them here
__all__ = ["AMQP_START_HINT", "REDIS_START_HINT", "RulesInvalid", "ServiceUnavailable", "Worker", "_rules_signature",
           "load_rules", "rules_directory", "serve"]

log = structlog.get_logger("stormwatch")


class Worker:
    """One worker process's service: start-up, health, the due-time loop of correlation's timers and the HTTP
    server; owns its connections
    (``stormwatch.services``) and its rules holder (``self.rules``, also the API's RulesControl); start() then
    stop()."""

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        on_batch: BatchHook | None = None,
    ) -> None:
        self.settings = settings
        self.on_batch = on_batch
        self.metrics = metrics or Metrics.create()
        self.clock = clock
        self.names = Names(settings.namespace)
        self.incident_defaults = IncidentDefaults(settings.incident_priorities, settings.default_team)
        # label limits and one fingerprint memo for this process's ingest and consumer, under the memo byte budget
        self.label_guard = LabelGuard(
            LabelLimits(settings.label_value_max_bytes, settings.labels_max_count, settings.labels_max_bytes),
            max_bytes=settings.memo_max_bytes)
        self.keyspace = Keyspace(settings.namespace)
        self.redis: Redis | None = None
        self.connection: AbstractRobustConnection | None = None
        self.topology: Topology | None = None
        self.store: IncidentStore | None = None
        self.consumer: AlertConsumer | None = None
        self.ops: HttpServer | None = None  # the one HTTP server: ingest, API, /metrics, /healthz, /readyz
        self._http_socket: socket.socket | None = None  # bound first: a busy port stops the start before any queue
        self.publisher: AlertPublisher | None = None
        self.stream: EventStream | None = None  # live events for the console (GET /api/v1/stream)
        # the running rule set: loaded, reloaded and watched by the holder, which the API sees as its RulesControl
        self.rules = RuleHolder(settings, self.metrics, runs_actions=settings.actions_enabled)
        self.rules.subscribe(self._router_for)
        self.policies = current_policies(self.rules.current)  # escalation policies of the running rule set
        self.pipeline: CorrelationPipeline | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._stalled_logged = False
        self.timers: DueLoop | None = None  # correlation's timers (stormwatch/due_loop.py)
        self.recorder: Recorder | None = None
        self.actions: ActionsService | None = None  # when STORMWATCH_ACTIONS_ENABLED
        self.history: HistoryService | None = None  # when STORMWATCH_HISTORY_ENABLED
        self._history_engine: AsyncEngine | None = None  # the API's reads of the history
        self.reports: HistoryReports | None = None  # the API's reports, when the worker has a history database
        self.changes: ChangesService | None = None  # change events: intake, consumer, store
        self.change_windows: ChangeWindowStore | None = None

    async def connect(self) -> None:
        s = self.settings
        self.rules.load()
        if s.metrics_enabled and self._http_socket is None:  # before Redis and RabbitMQ: nothing is left behind
            try:
                self._http_socket = bind_socket(*s.http_address, reuse_port=s.http_reuse_port)
            except HttpBindError as exc:
                raise ServiceUnavailable(str(exc)) from None
        try:
            await self._connect_services()
        except BaseException:
            if self._http_socket is not None:
                self._http_socket.close()
                self._http_socket = None
            raise

    async def _connect_services(self) -> None:
        services = await connect_services(self.settings, self.metrics)
        self.redis, self.connection = services.redis, services.connection
        self.topology, self.store = services.topology, services.store

    @property
    def rule_set(self) -> RuleSet | None:
        return self.rules.current()

    async def start(self) -> None:
        if self.store is None:
            await self.connect()
        assert self.topology is not None and self.store is not None and self.redis is not None
        s = self.settings
        self.change_windows = ChangeWindowStore(self.redis, self.keyspace)
        change_store = ChangeStore(self.redis, self.keyspace,
                                   ChangeRetention(s.change_retention_seconds, s.changes_per_service),
                                   timeline_max=s.timeline_max_entries)
        publisher = AmqpEventPublisher(self.topology.events, CurrentActionIndex(self.rules.current))
        # incident events schedule SLA timers, and escalation timers for rules that name a policy
        event_publisher = SlaScheduling(EscalationScheduling(publisher, self.store.due, self.clock, self.policies),
                                        self.store.due, self.clock)
        self.pipeline = pipeline = CorrelationPipeline(
            self.store, Router(self.rules.current(), s.group_by, self.incident_defaults,
                               memo_max_bytes=s.memo_max_bytes),
            event_publisher, self.clock, SilenceStore(self.redis, self.keyspace), change_store, self.change_windows,
        )
        assert self.connection is not None
        if s.record:  # alerts and change events, for stormwatch backtest
            self.recorder = Recorder(s.record)
        self.changes = ChangesService(self.connection, self.names, change_store, event_publisher, self.catalog,
                                      self.clock, self.metrics, delivery_limit=s.delivery_limit,
                                      max_bytes=s.max_body_bytes, windows=self.change_windows,
                                      recurring=self._recurring_change_windows,
                                      on_stored=self.recorder.record_change if self.recorder is not None else None)
        await self.changes.start(consume=s.consume)
        self.rules.report_rules("rules_loaded")
        firing = TimerFiring(pipeline, on_fired=self._timers_fired)
        lease = s.timer_lease_seconds
        sla_store = SlaStore(self.redis, self.keyspace, timeline_max=s.timeline_max_entries, outbox_grace=lease)
        levels = current_levels(self.rules.current)
        sla = with_due_hooks(SlaTimers(sla_store, self.store.due, AmqpEventPublisher(self.topology.events), levels,
                                       self.metrics), sla_store, levels, os.environ)  # test-only unless set
        escalate = EscalationTimers(
            EscalationStore(self.redis, self.keyspace, timeline_max=s.timeline_max_entries, outbox_grace=lease),
            self.store.due, AmqpEventPublisher(self.topology.events), self.policies, self.metrics)
        self.timers = DueLoop("correlation", correlation_timers(self.store.due, firing, self.keyspace, sla, escalate,
                                                                lease=lease),
                              self.clock, s.timer_poll_seconds, self.metrics)
        if s.consume:  # an HTTP-only process correlates nothing
            self.timers.start()
        self.rules.start_watching()
        sink: Any = pipeline
        if self.recorder is not None:
            sink = RecordingSink(pipeline, self.recorder)
            log.info("recording_alerts", path=str(self.recorder.path))
        sink = with_fault_hooks(sink, os.environ)  # test-only, off unless STORMWATCH_TEST_* is set
        self.consumer = AlertConsumer(
            self.topology,
            sink,
            Delivery,
            WorkerObserver(self.metrics, self.on_batch, SourceLabel(
                (*s.metrics_sources, *parse_integrations(s.pagerduty_routing_keys).sources))),
            ConsumerConfig(
                batch_size=s.batch_size,
                batch_wait=s.batch_wait_ms / 1000,
                max_body_bytes=s.max_body_bytes,
                retry_max_seconds=s.redis_retry_max_seconds,
                label_guard=self.label_guard,
            ),
            self.clock,
            is_retryable,
        )
        if s.metrics_enabled:
            await self._start_http()
        if s.actions_enabled:  # before the alerts flow: its queue is bound when the first events go out
            assert self.redis is not None and self.connection is not None
            self.actions = ActionsService(s, self.metrics, self.redis, self.connection, self.store,
                                          self.rules.current, self.clock)
            await self.actions.start()
        if s.history_enabled:  # its queue declared before the alerts flow: it sees every event from here on
            assert self.redis is not None and self.connection is not None
            self.history = HistoryService(s, self.metrics.registry, self.redis, self.connection, self.clock)
            await self.history.start()
        if s.consume:
            await self.consumer.start()
            if s.stalled_batch_seconds > 0:
                self._watchdog = asyncio.create_task(self._watch_batches(), name="stormwatch-watchdog")
        self.metrics.ready.set(1)
        host = s.http_address[0]
        log.info(
            "worker_started",
            namespace=s.namespace,
            amqp=redact_url(s.amqp_url),
            redis=redact_url(s.redis_url),
            consuming=s.consume,
            metrics=f"http://{host}:{self.ops.bound_port}/metrics" if self.ops else None,
        )

    async def _start_http(self) -> None:
        s = self.settings
        assert self.redis is not None and self.connection is not None and self.topology is not None
        assert self.store is not None
        auth = Authenticator(parse_tokens(s.api_tokens), s.ingest_hmac_secret, disabled=s.auth_disabled,
                             clock=self.clock)
        if s.auth_disabled:
            log.warning("auth_disabled", detail="STORMWATCH_AUTH_DISABLED=true: anyone who reaches the HTTP port "
                                                "may ingest, change incidents and reload rules")
        elif not auth.configured:
            log.info("api_refusing", detail="no STORMWATCH_API_TOKENS or STORMWATCH_INGEST_HMAC_SECRET: the API "
                                               "and ingest endpoints answer 401; /metrics, /healthz, /readyz serve")
        self.publisher = AlertPublisher(s.amqp_url, self.names, delivery_limit=s.delivery_limit,
                                        connection=self.connection, max_bytes=s.max_body_bytes,
                                        on_published=self.metrics.ingest_messages.inc)
        self.stream = EventStream(self.connection, self.names.events_exchange,
                                  max_client_bytes=s.stream_client_max_bytes,
                                  on_drop=lambda reason: self.metrics.stream_clients_dropped.labels(reason).inc())
        await self.stream.start()
        services = ApiServices(
            metrics=self.metrics, readiness=self.readiness, liveness=self.liveness, clock=self.clock, auth=auth,
            publisher=self.publisher,
            queries=IncidentQueries(self.redis, self.keyspace),
            commands=IncidentCommands(self.redis, self.keyspace, timeline_max=s.timeline_max_entries),
            declared=DeclaredIncidents(self.redis, self.keyspace, timeline_max=s.timeline_max_entries,
                                       matrix=lambda: priority_matrix(self.rules.current()),
                                       default_team=s.default_team),
            events=self.people_events(),
            silences=SilenceStore(self.redis, self.keyspace),
            rules=self.rules, max_body_bytes=s.max_body_bytes, label_guard=self.label_guard,
            integrations=parse_integrations(s.pagerduty_routing_keys), metrics_token=s.metrics_token,
            status_page_secret=s.status_page_secret, ticket_webhook_secret=s.ticket_webhook_secret,
            ticket_refs=RedisTicketRefs(self.redis, self.keyspace), ticket_settings=self._ticket_settings,
            auth_limiter=AuthFailureLimiter(s.auth_failures_per_minute, s.auth_failures_burst, clock=self.clock),
            client_address=ClientAddress(s.http_trusted_proxies),
            links=Links(self.redis, self.keyspace, timeline_max=s.timeline_max_entries),
            actions=ActionState(self.redis, self.keyspace, timeline_max=s.timeline_max_entries),
            stream=self.stream, console=True, history=self._history_queries(), reports=self._reports(),
            alerts=AlertQueries(self.redis, self.keyspace),
            teams=TeamDirectory(lambda: self.pipeline.router if self.pipeline is not None else None,
                                s.default_team),
            catalog=self.catalog, changes=self.changes, change_windows=self.change_windows,
        )
        host, port = s.http_address
        limits = HttpLimits(header_timeout=s.http_header_timeout_seconds, body_timeout=s.http_body_timeout_seconds,
                            idle_timeout=s.http_idle_timeout_seconds, send_timeout=s.http_send_timeout_seconds,
                            max_connections=s.http_max_connections)
        tls = HttpTls(s.http_tls_cert_file, s.http_tls_key_file) if s.http_tls else None
        self.ops = HttpServer(build_app(services), host, port, metrics=self.metrics, limits=limits,
                              reuse_port=s.http_reuse_port, sock=self._http_socket, tls=tls)
        self._http_socket = None  # the server owns it now
        try:
            await self.ops.start()
        except HttpBindError as exc:
            raise ServiceUnavailable(str(exc)) from None

    def people_events(self) -> SlaScheduling:
        """The publisher of people's commands (the API's, the demo's): every event schedules its incident's SLA
        timer, and an acknowledgement, resolution or reopen brings a pending escalation step forward."""
        assert self.topology is not None and self.store is not None  # started
        return SlaScheduling(EscalationScheduling(AmqpEventPublisher(self.topology.events), self.store.due,
                                                  self.clock, self.policies), self.store.due, self.clock)

    def _history_queries(self) -> HistoryQueries | None:
        """Search over the history when this worker writes it or names its database (a separate writer)."""
        engine = self._history_reads()
        return HistoryQueries(engine) if engine is not None else None

    def _history_reads(self) -> AsyncEngine | None:
        """The one engine of the API's reads of the history (search and reports), opened when this worker writes
        the history or names its database (a separate writer); none without one."""
        s = self.settings
        if not (s.history_enabled or s.history_url):
            return None
        if self._history_engine is None:
            self._history_engine = open_engine(s.history_database)
        return self._history_engine

    def _ticket_settings(self, system: str) -> TicketSettings:
        """The first ticket action of ``system`` in the running rules (its ``user``: whose changes are echoes)."""
        rule_set = self.rules.current()
        for action in rule_set.actions if rule_set is not None else ():
            if isinstance(action.config, TicketConfig) and action.config.system == system:
                return settings_of(action.config)
        return TicketSettings()

    # -- rules: held by self.rules (stormwatch.rules_holder); these stay for callers of the worker ----------------

    def _router_for(self, rule_set: RuleSet | None) -> Callable[[], None]:
        """The new set's router, built where the set is (off the loop for the API and the watcher); swapped in
        with the set."""
        router = Router(rule_set, self.settings.group_by, self.incident_defaults,
                        memo_max_bytes=self.settings.memo_max_bytes)

        def swap() -> None:
            if self.pipeline is not None:
                self.pipeline.router = router
        return swap

    def _recurring_change_windows(self) -> tuple[Any, ...]:
        return self.pipeline.router.change_windows if self.pipeline is not None else ()

    def catalog(self) -> Catalog:
        """The running rule set's service catalog (the pipeline's router carries it)."""
        if self.pipeline is not None:
            return self.pipeline.router.catalog
        rule_set = self.rules.current()
        return Catalog.from_rule_set(rule_set)

    def rules_summary(self) -> dict[str, Any]:
        return self.rules.rules_summary()

    def reload_rules(self, errors: list[str] | None = None) -> bool:
        """Validate the whole new set, then swap it in (see RuleHolder.reload_rules)."""
        return self.rules.reload_rules(errors)

    async def reload_rules_checked(self) -> list[str]:
        return await self.rules.reload_rules_checked()

    def validate_rule_file(self, name: str, text: str) -> list[str]:
        return self.rules.validate_rule_file(name, text)

    def _timers_fired(self, resolved: int, merged: int) -> None:
        self.metrics.incidents_resolved.inc(resolved)
        self.metrics.incidents_merged.inc(merged)
        log.info("timers_fired", resolved=resolved, merged=merged)

    async def _watch_batches(self) -> None:
        """Check liveness now and then, so a stalled batch is logged and measured even if nobody probes /healthz."""
        interval = min(5.0, self.settings.stalled_batch_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            self.liveness()

    def liveness(self) -> dict[str, bool]:
        """/healthz: false when the batch in hand has made no progress for ``STORMWATCH_STALLED_BATCH_SECONDS``.

        Nothing of a stalled batch is acked, so restarting the process hands its messages to another worker and
        idempotency makes the redelivery safe. The first time, the stacks of every task are logged: what it waits on.
        """
        limit = self.settings.stalled_batch_seconds
        stalled = self.consumer.stalled_for(self.clock()) if self.consumer is not None else 0.0
        self.metrics.batch_stalled_seconds.set(stalled)
        live = not (limit > 0 and stalled > limit)
        if not live and not self._stalled_logged:
            self._stalled_logged = True
            log.error("batch_stalled", seconds=round(stalled, 1), limit=limit, tasks=_task_stacks())
        elif live:
            self._stalled_logged = False
        return {"consumer": live}

    def _reports(self) -> HistoryReports | None:
        """Reports read the history database the writer fills (this worker's, or another process's given
        STORMWATCH_HISTORY_URL); none without one."""
        engine = self._history_reads()
        if engine is None:
            return None
        self.reports = HistoryReports(engine, parse_business_hours(self.settings.business_hours))
        return self.reports

    async def readiness(self) -> dict[str, bool]:
        return {
            "redis": bool(self.store and await self.store.ping()),
            "rabbitmq": bool(self.connection and not self.connection.is_closed),
            "consumer": bool(self.consumer and self.consumer.ready.is_set()) if self.settings.consume else True,
        }

    async def stop(self) -> None:
        """SIGTERM path: stop consuming, finish and ack what is in flight, close connections."""
        self.rules.stop_watching()
        if self.timers is not None:
            await self.timers.stop()
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.consumer is not None:
            await self.consumer.stop()
        if self.changes is not None:
            await self.changes.stop()
        if self.actions is not None:
            await self.actions.stop()
        if self.history is not None:
            await self.history.stop()
        if self._history_engine is not None:  # the reports' too
            await self._history_engine.dispose()
            self._history_engine = None
        if self.stream is not None:
            await self.stream.close()  # ends open event streams, so the HTTP server stops at once
        if self.ops is not None:
            await self.ops.stop()
        if self._http_socket is not None:  # connected, never started
            self._http_socket.close()
            self._http_socket = None
        if self.recorder is not None:
            self.recorder.close()
        if self.publisher is not None:
            await self.publisher.close()
        await close_connections(self.connection, self.redis)
        log.info("worker_stopped", namespace=self.settings.namespace)


async def serve(settings: Settings) -> None:
    """Run a worker until SIGTERM or SIGINT."""
    worker = Worker(settings)
    loop = asyncio.get_running_loop()
    # before the start: a SIGHUP while starting (`serve --processes` forwards one to a process it just restarted)
    # must not end the process, which SIGHUP's default action would; the start loads the rules afresh anyway
    loop.add_signal_handler(signal.SIGHUP, worker.rules.reload_rules)
    await worker.start()
    tune_gc(settings)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("worker_stopping")
    await worker.stop()


def _task_stacks() -> str:
    """Every task of this loop and the chain of awaits it is suspended in (for the stalled-batch log line).

    ``Task.print_stack`` shows only a suspended task's outermost coroutine; this follows ``cr_await`` down to where
    it actually waits."""
    lines = []
    for task in asyncio.all_tasks():
        chain = []
        coro: Any = task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is None:
                break
            chain.append(f"{frame.f_code.co_qualname} ({Path(frame.f_code.co_filename).name}:{frame.f_lineno})")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        lines.append(f"{task.get_name()}: " + " > ".join(chain))
    return "\n".join(sorted(lines))
