"""Every Prometheus metric Stormwatch exports, declared in one place against an injected registry.

Label values are closed sets: route templates, status codes, reason and outcome codes, action types from the
rule files. The one label whose value comes from a sender is ``stormwatch_alerts_received_total{source}``; it
goes through :class:`SourceLabel` (the sources the built-in formats set, plus ``STORMWATCH_METRICS_SOURCES``;
anything else is ``other``), so a sender cannot add series (docs/security.md, "Ingest, metrics and memory").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

from rules.calendar_schema import SLA_KINDS
from rules.schema_types import PRIORITIES

#: ``Alert.source`` of the built-in formats (ingest/formats): always a label value of their own
BUILTIN_SOURCES = frozenset({"generic", "alertmanager", "prometheus", "pagerduty", "grafana"})
OTHER_SOURCE = "other"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


#: the AMQP operations ``stormwatch_amqp_errors_total`` counts: publish (incident events), ack, reject, process
#: (a batch cancelled by a dropped connection), cancel (the consumer at shutdown)
AMQP_OPERATIONS = ("publish", "ack", "reject", "process", "cancel")


def live_gauge(name: str, documentation: str, labelnames: Sequence[str] = (), *,
               registry: CollectorRegistry) -> Gauge:
    """A gauge; in multiprocess mode (``serve --processes``) one series per living process, labelled ``pid``."""
    return Gauge(name, documentation, labelnames, registry=registry, multiprocess_mode="liveall")


def exposition(registry: CollectorRegistry) -> CollectorRegistry:
    """What /metrics exports: ``registry``, or under ``serve --processes`` (prometheus-client's multiprocess mode,
    ``PROMETHEUS_MULTIPROC_DIR`` set by the supervisor) the samples of every process from that directory."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return registry
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=directory)
    return merged


class SourceLabel:
    """The ``source`` label for an alert's source: itself when known (built in or configured), else ``other``."""

    __slots__ = ("known",)

    def __init__(self, configured: Sequence[str] = ()) -> None:
        self.known = BUILTIN_SOURCES | frozenset(configured)

    def __call__(self, source: str) -> str:
        return source if source in self.known else OTHER_SOURCE


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    alerts_received: Counter
    alerts_duplicate: Counter
    alerts_repeat_fast: Counter
    alerts_rejected: Counter
    alerts_stale: Counter
    alerts_muted: Counter
    alerts_held: Counter
    incidents_opened: Counter
    incidents_resolved: Counter
    incidents_merged: Counter
    incidents_open: Gauge
    sla_crossings: Counter
    sla_breaches: Counter
    sla_at_risk: Gauge
    escalations: Counter
    incidents_by_priority: Counter
    batch_messages: Histogram
    batch_alerts: Histogram
    processing_latency: Histogram
    redeliveries: Counter
    replays: Counter
    write_conflicts: Counter
    redis_errors: Counter
    due_fired: Counter
    amqp_errors: Counter
    amqp_reconnects: Counter
    events_published: Counter
    crashes: Counter
    ready: Gauge
    batch_stalled_seconds: Gauge
    rules_reloads: Counter
    group_rules: Gauge
    rules_loaded: Gauge
    actions_mode: Gauge
    alerts_correlated: Counter
    problems_changed: Counter
    http_requests: Counter
    http_latency: Histogram
    ingest_alerts: Counter
    ingest_rejected: Counter
    ingest_messages: Counter
    changes: Counter
    auth_refused: Counter
    auth_rate_limited: Counter
    http_timeouts: Counter
    http_connections_open: Gauge
    http_connections_refused: Counter
    http_client_disconnects: Counter
    stream_clients_dropped: Counter
    incident_commands: Counter
    status_page_refused: Counter
    ticket_webhooks: Counter
    actions_started: Counter
    actions_succeeded: Counter
    actions_failed: Counter
    actions_skipped: Counter
    action_duration: Histogram
    action_retries: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        r = registry if registry is not None else CollectorRegistry(auto_describe=True)
        metrics = cls(
            registry=r,
            alerts_received=Counter(
                "stormwatch_alerts_received_total",
                "Valid alerts received, by source (built-in and STORMWATCH_METRICS_SOURCES, else 'other') and format.",
                ["source", "format"], registry=r),
            alerts_duplicate=Counter(
                "stormwatch_alerts_duplicate_total", "Alerts that repeated a known alert in the same status.",
                registry=r),
            alerts_repeat_fast=Counter(
                "stormwatch_alerts_repeat_fast_total",
                "Of the duplicates: those written by the repeat fast path (nothing but last-seen and count changed).",
                registry=r),
            alerts_rejected=Counter(
                "stormwatch_alerts_rejected_total", "Alerts or bodies rejected and dead-lettered, by reason.",
                ["reason"], registry=r),
            alerts_stale=Counter(
                "stormwatch_alerts_stale_total", "Out-of-order notifications ignored.", registry=r),
            alerts_muted=Counter(
                "stormwatch_alerts_muted_total",
                "Firing notifications kept out of incidents by a silence or maintenance window.", registry=r),
            alerts_held=Counter(
                "stormwatch_alerts_held_total",
                "Firing notifications held back until their group rule's threshold is met.", registry=r),
            incidents_opened=Counter(
                "stormwatch_incidents_opened_total", "Incidents opened.", registry=r),
            incidents_resolved=Counter(
                "stormwatch_incidents_resolved_total", "Incidents resolved.", registry=r),
            incidents_merged=Counter(
                "stormwatch_incidents_merged_total",
                "Incidents merged into a late cause's incident (also counted as resolved).", registry=r),
            sla_crossings=Counter(
                "stormwatch_sla_warnings_total", "SLA warnings fired, by record kind (respond, resolve) and priority.",
                ["kind", "priority"], registry=r),
            sla_breaches=Counter(
                "stormwatch_sla_breaches_total", "SLA breaches fired, by record kind, priority and team.",
                ["kind", "priority", "team"], registry=r),
            escalations=Counter(
                "stormwatch_escalations_total", "Escalation steps that started their action, by policy and step "
                "(1-based).", ["policy", "step"], registry=r),
            sla_at_risk=live_gauge(
                "stormwatch_sla_at_risk",
                "Incidents with an SLA record that warned and is neither met nor breached (all workers).", registry=r),
            incidents_open=live_gauge(
                "stormwatch_incidents_open", "Incidents currently open in this namespace (all workers).",
                registry=r),
            incidents_by_priority=Counter(
                "stormwatch_incidents_opened_by_priority_total",
                "Incidents opened, by ITIL priority (none: no priority set).", ["priority"], registry=r),
            batch_messages=Histogram(
                "stormwatch_batch_messages", "Messages per processed batch.", buckets=BATCH_BUCKETS,
                registry=r),
            batch_alerts=Histogram(
                "stormwatch_batch_alerts", "Valid alerts per processed batch.", buckets=BATCH_BUCKETS,
                registry=r),
            processing_latency=Histogram(
                "stormwatch_processing_latency_seconds",
                "From publish (or receipt, when the publisher sent no timestamp) to state written and acked.",
                buckets=LATENCY_BUCKETS, registry=r),
            redeliveries=Counter(
                "stormwatch_redeliveries_total", "Messages RabbitMQ delivered again.", registry=r),
            replays=Counter(
                "stormwatch_replays_total", "Group writes skipped because the message was already applied.",
                registry=r),
            write_conflicts=Counter(
                "stormwatch_write_conflicts_total", "Group writes retried because another worker wrote first.",
                registry=r),
            redis_errors=Counter(
                "stormwatch_redis_errors_total", "Redis operations that failed (retried).", registry=r),
            due_fired=Counter(
                "stormwatch_due_fired_total", "Timers fired by this process's due-time loops, by kind.", ["kind"],
                registry=r),
            amqp_errors=Counter(
                "stormwatch_amqp_errors_total", "AMQP operations that failed, by operation.", ["operation"],
                registry=r),
            amqp_reconnects=Counter(
                "stormwatch_amqp_reconnects_total", "Times the worker's RabbitMQ connection was restored after it was "
                "lost.", registry=r),
            events_published=Counter(
                "stormwatch_events_published_total", "Incident events published with a broker confirm.",
                registry=r),
            crashes=Counter(
                "stormwatch_processing_crashes_total", "Unexpected errors while processing (requeued).",
                registry=r),
            ready=live_gauge("stormwatch_ready", "1 when the worker can process alerts.", registry=r),
            batch_stalled_seconds=live_gauge(
                "stormwatch_batch_stalled_seconds",
                "Seconds the batch in hand has gone without progress (0 when none; a store outage's retries are "
                "progress). Past STORMWATCH_STALLED_BATCH_SECONDS, /healthz answers 503.", registry=r),
            rules_reloads=Counter(
                "stormwatch_rules_reloads_total", "Rule-set reloads, by outcome (applied, refused).", ["outcome"],
                registry=r),
            group_rules=live_gauge("stormwatch_group_rules", "Group rules in the running rule set.", registry=r),
            rules_loaded=live_gauge(
                "stormwatch_rules_loaded", "Rules in the running rule set, by kind (group; cause: inhibit rules and "
                "topology services; problem; action).", ["kind"], registry=r),
            actions_mode=live_gauge(
                "stormwatch_actions_mode", "1 for the running rule set's action mode (none, live, shadow, dry-run), "
                "0 for the others.", ["mode"], registry=r),
            alerts_correlated=Counter(
                "stormwatch_alerts_correlated_total",
                "Notifications correlated across groups, by outcome: symptom (attached to its cause's incident), "
                "waiting (held for a cause), flap (a flapping alert's resolution that resolved nothing).",
                ["outcome"], registry=r),
            problems_changed=Counter(
                "stormwatch_problems_changed_total", "Problems opened or extended with an incident.", registry=r),
            http_requests=Counter(
                "stormwatch_http_requests_total", "HTTP requests answered, by route and status code.",
                ["route", "code"], registry=r),
            http_latency=Histogram(
                "stormwatch_http_request_duration_seconds", "Time to answer an HTTP request, by route.",
                ["route"], buckets=LATENCY_BUCKETS, registry=r),
            ingest_alerts=Counter(
                "stormwatch_ingest_alerts_total",
                "Alerts posted to the ingest endpoints, by format and outcome (accepted: confirmed by RabbitMQ; "
                "rejected: invalid, answered 4xx; unavailable: RabbitMQ down, answered 503).",
                ["format", "outcome"], registry=r),
            ingest_rejected=Counter(
                "stormwatch_ingest_rejected_total", "Alerts or bodies refused by the ingest endpoints, by reason.",
                ["format", "reason"], registry=r),
            changes=Counter(
                "stormwatch_changes_total",
                "Change events taken off <ns>.changes, by outcome (stored, duplicate, too_old, rejected: "
                "dead-lettered).", ["outcome"], registry=r),
            ingest_messages=Counter(
                "stormwatch_ingest_messages_total",
                "Messages the ingest endpoints published with a broker confirm (alert lists posted together are "
                "coalesced into one message).", registry=r),
            auth_rate_limited=Counter(
                "stormwatch_auth_rate_limited_total",
                "Failed authentications answered 429 because their client address used up its failure budget.",
                registry=r),
            http_timeouts=Counter(
                "stormwatch_http_timeouts_total",
                "Connections cut because the request's headers or body did not arrive in time, by phase.",
                ["phase"], registry=r),
            http_connections_open=live_gauge(
                "stormwatch_http_connections_open", "HTTP connections open on this process.", registry=r),
            http_connections_refused=Counter(
                "stormwatch_http_connections_refused_total",
                "HTTP connections closed at once because STORMWATCH_HTTP_MAX_CONNECTIONS were open.", registry=r),
            http_client_disconnects=Counter(
                "stormwatch_http_client_disconnects_total",
                "Requests whose client went away before its body was read, by route.", ["route"], registry=r),
            auth_refused=Counter(
                "stormwatch_auth_refused_total", "Requests refused by authentication or authorisation, by reason.",
                ["reason"], registry=r),
            stream_clients_dropped=Counter(
                "stormwatch_stream_clients_dropped_total",
                "Event-stream clients cut off for falling behind, by reason (backlog: events; bytes: "
                "STORMWATCH_STREAM_CLIENT_MAX_BYTES).", ["reason"], registry=r),
            ticket_webhooks=Counter(
                "stormwatch_ticket_webhooks_total", "Ticketing systems' webhooks, by outcome (applied, unchanged, "
                "echo, ignored, or why it was refused).", ["outcome"], registry=r),
            status_page_refused=Counter(
                "stormwatch_status_page_refused_total", "Status page requests refused, by reason (off, "
                "missing_token, bad_token).", ["reason"], registry=r),
            incident_commands=Counter(
                "stormwatch_incident_commands_total", "Incident commands through the API, by command and outcome.",
                ["command", "outcome"], registry=r),
            actions_started=Counter(
                "stormwatch_actions_started_total", "Action runs started (executed), by action type.", ["type"],
                registry=r),
            actions_succeeded=Counter(
                "stormwatch_actions_succeeded_total", "Action runs that succeeded, by action type.", ["type"],
                registry=r),
            actions_failed=Counter(
                "stormwatch_actions_failed_total", "Action runs that failed (after retries), by action type.",
                ["type"], registry=r),
            actions_skipped=Counter(
                "stormwatch_actions_skipped_total",
                "Action runs not executed, by reason (rate_limit, breaker, dry_run, approval_pending, shadow).",
                ["reason"], registry=r),
            action_duration=Histogram(
                "stormwatch_action_duration_seconds", "Duration of executed action runs: their attempts' time, "
                "summed (the backoffs between them not counted).", ["type"], buckets=LATENCY_BUCKETS, registry=r),
            action_retries=Counter(
                "stormwatch_action_retries_total", "Retries scheduled: attempts that failed retryably with attempts "
                "left, the next one a retry timer on the due-time service, by action (its name in the rules).",
                ["action"], registry=r),
        )
        # A series from the start for every label value known in advance, so an alert on `increase(...)` sees the
        # first event as 0 -> 1 rather than a series that appears at 1 (which increase() and rate() cannot count)
        for operation in AMQP_OPERATIONS:
            metrics.amqp_errors.labels(operation)
        for priority in (*PRIORITIES, "none"):
            metrics.incidents_by_priority.labels(priority)
            for kind in SLA_KINDS:  # the breaches carry the team too, known only when one breaches
                metrics.sla_crossings.labels(kind, priority)
        return metrics

    def record_rules(self, kinds: dict[str, int], mode: str, modes: Sequence[str],
                     escalation_steps: Sequence[tuple[str, int]] = ()) -> None:
        """The running rule set, after a start or a reload; ``escalation_steps`` (policy, 1-based step) get their
        series at 0, so an alert on a step's ``increase()`` counts its first run (a removed policy's series stays)."""
        for policy, step in escalation_steps:
            self.escalations.labels(policy, str(step))
        for kind, count in kinds.items():
            self.rules_loaded.labels(kind).set(count)
        self.group_rules.set(kinds.get("group", 0))
        for name in modes:
            self.actions_mode.labels(name).set(1 if name == mode else 0)

    def record_batch(self, messages: int, alerts: int, report: Any, latencies: Sequence[float]) -> None:
        self.batch_messages.observe(messages)
        self.batch_alerts.observe(alerts)
        for value in latencies:
            self.processing_latency.observe(value)
        if report is None:
            return
        if isinstance(report, tuple):  # a batch split around a poison message: one report per part
            for part in report:
                self._record_report(part)
            return
        self._record_report(report)

    def _record_report(self, report: Any) -> None:
        self.alerts_duplicate.inc(report.duplicates)
        self.alerts_repeat_fast.inc(getattr(report, "fast_repeats", 0))
        self.alerts_stale.inc(report.stale)
        self.alerts_muted.inc(report.muted)
        self.alerts_held.inc(report.held)
        self.incidents_opened.inc(len(report.opened))
        self.incidents_resolved.inc(len(report.resolved))
        self.incidents_open.set(report.open_incidents)
        for priority, count in getattr(report, "opened_priorities", {}).items():
            self.incidents_by_priority.labels(priority).inc(count)
        self.replays.inc(report.replayed)
        self.write_conflicts.inc(report.conflicts)
        self.events_published.inc(report.events)
        self.alerts_correlated.labels("symptom").inc(getattr(report, "symptoms", 0))
        self.alerts_correlated.labels("waiting").inc(getattr(report, "waiting", 0))
        self.alerts_correlated.labels("flap").inc(getattr(report, "flaps", 0))
        self.problems_changed.inc(len(getattr(report, "problems", ())))
