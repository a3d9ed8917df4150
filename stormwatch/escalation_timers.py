"""Escalation steps as one more kind (``escalate``) of the due-time service: one timer per incident following a
policy, keyed by its id.

- :class:`EscalationScheduling` wraps an event publisher: once an ``incident.created`` event whose group rule names
  a policy is published, the incident's ``escalate`` timer is scheduled at once (the handler opens the escalation
  and schedules its first step); an acknowledgement, resolution or reopen brings a *pending* timer forward to now
  (``ZADD XX``: it never creates one), so the stop is recorded at once rather than at the next step's time.
- :class:`EscalationTimers` is the kind's ``DueHandler``: per claimed timer it advances the incident's escalation
  under the group's compare-and-set (``correlation.store.escalation_steps``), publishes the outbox (the
  ``incident.escalation_step`` events the action runner starts the steps' actions from), clears it, counts
  ``stormwatch_escalations_total{policy,step}``, and schedules the next step. A timer it could not handle stays
  claimed and falls due again when its lease runs out (another worker, after a crash).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import structlog

from correlation.store.escalation_steps import EscalationStore, Policies
from events.publisher import EventPublisher
from kv.due import Due, DueIndex
from rules.schema import RuleSet
from stormwatch.incident_timers import IncidentTimers, Schedule, of_running_rules
from stormwatch.metrics import Metrics

log = structlog.get_logger("stormwatch")

ESCALATE_KIND = "escalate"
#: people's changes after which a pending escalation looks again at once
STOPPING_TYPES = ("incident.acknowledged", "incident.resolved", "incident.reopened")


def current_policies(rules: Callable[[], RuleSet | None]) -> Callable[[], Policies]:
    """The running rule set's escalation policies, rebuilt only when the rule set was swapped."""
    return of_running_rules(rules, lambda running: Policies(
        running.escalation_policies, {g.name: g.escalation for g in running.groups if g.escalation}), Policies())


class EscalationTimers(IncidentTimers[EscalationStore]):
    """The ``escalate`` kind's handler (``kv.due.DueHandler``)."""

    def __init__(self, store: EscalationStore, schedule: Schedule, publisher: EventPublisher,
                 policies: Callable[[], Policies], metrics: Metrics | None = None) -> None:
        super().__init__(store, schedule, publisher, metrics)
        self.policies = policies

    async def fire(self, due: Sequence[Due], now: float) -> Iterable[Due]:
        """Each claimed timer's key is an incident id."""
        return await self.fire_each(due, lambda incident_id: self._one(incident_id, now), "escalation_timer_failed")

    async def _one(self, incident_id: str, now: float) -> None:
        update = await self.store.update(incident_id, self.policies, now)
        if update is None or update.escalation is None:
            return  # gone, or following no policy
        await self.publish_outbox(incident_id, update.events, update.outbox)
        for fired in update.fired:
            if self.metrics is not None:
                self.metrics.escalations.labels(update.escalation.policy, str(fired.step)).inc()
            log.info("escalation_step", incident=incident_id, policy=update.escalation.policy, step=fired.step,
                     run=fired.run, action=fired.action)
        if update.next_check is not None:
            await self.schedule.schedule(ESCALATE_KIND, incident_id, update.next_check)


class EscalationScheduling:
    """An ``EventPublisher`` that, once the events are published, schedules the ``escalate`` timer of each incident
    created under a rule naming a policy, and brings a pending one forward on an acknowledgement, resolution or
    reopen of such an incident (one pipeline per batch of events, none when nothing concerns escalation)."""

    def __init__(self, inner: EventPublisher, index: DueIndex, clock: Callable[[], float],
                 policies: Callable[[], Policies]) -> None:
        self.inner = inner
        self.index = index
        self.clock = clock
        self.policies = policies

    async def publish_events(self, events: Sequence[dict[str, Any]]) -> None:
        await self.inner.publish_events(events)
        created: dict[str, None] = {}
        stopping: dict[str, None] = {}
        policies = self.policies()
        for e in events:
            incident = e.get("incident")
            if not isinstance(incident, dict) or policies.of_rule(str(incident.get("rule", ""))) is None:
                continue  # no policy for its rule: nothing to schedule (a storm's events cost nothing here)
            if e["type"] == "incident.created":
                created[incident["id"]] = None
            elif e["type"] in STOPPING_TYPES:
                stopping[incident["id"]] = None
        if not created and not stopping:
            return
        now = self.clock()
        pipe = self.index.redis.pipeline(transaction=False)
        for incident_id in created:
            self.index.schedule_in(pipe, ESCALATE_KIND, incident_id, now)
        for incident_id in stopping:
            pipe.zadd(self.index.key(ESCALATE_KIND, incident_id), {incident_id: now}, xx=True)
        await pipe.execute()
