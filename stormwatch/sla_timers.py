"""SLA checkpoints as one more kind (``sla``) of the due-time service: one timer per incident, keyed by its id.

- :class:`SlaScheduling` wraps the worker's event publisher: every incident event it publishes (created,
  acknowledged, resolved, reopened, priority changed, on hold, ...) schedules the incident's ``sla`` timer at once,
  after the event is confirmed. An event is published after the write it reports and again on a redelivery, so
  the schedule inherits the write's durability; scheduling the same timer again only moves it.
- :class:`SlaTimers` is the kind's ``DueHandler``: for each claimed timer it updates the incident's records
  (``correlation.store.sla.SlaStore``: open, reconcile, fire the due checkpoints under the group's
  compare-and-set), publishes the outbox, clears it, counts, and schedules the next checkpoint. A timer it could
  not handle stays claimed and falls due again when its lease runs out (another worker, after a crash).
  Register it with ``timers.register(SLA_KIND, handler)`` on the worker's loop (``stormwatch/due_loop.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import structlog

from correlation.core.service_levels import ServiceLevels
from correlation.store.sla import SlaStore
from events.publisher import EventPublisher
from events.types import INCIDENT_TYPES, SLA_TYPES
from kv.due import Due, DueIndex
from rules.schema import RuleSet
from stormwatch.incident_timers import IncidentTimers, Schedule, of_running_rules
from stormwatch.metrics import Metrics

log = structlog.get_logger("stormwatch")

SLA_KIND = "sla"


def current_levels(rules: Callable[[], RuleSet | None]) -> Callable[[], ServiceLevels]:
    """The running rule set's service levels, rebuilt only when the rule set was swapped."""
    return of_running_rules(rules, ServiceLevels.of, ServiceLevels())


class SlaTimers(IncidentTimers[SlaStore]):
    """The ``sla`` kind's handler (``kv.due.DueHandler``)."""

    def __init__(self, store: SlaStore, schedule: Schedule, publisher: EventPublisher,
                 levels: Callable[[], ServiceLevels], metrics: Metrics | None = None) -> None:
        super().__init__(store, schedule, publisher, metrics)
        self.levels = levels

    async def fire(self, due: Sequence[Due], now: float) -> Iterable[Due]:
        """Each claimed timer's key is an incident id."""
        levels = self.levels()
        done = await self.fire_each(due, lambda incident_id: self._one(incident_id, levels, now), "sla_timer_failed")
        if self.metrics is not None and done:
            self.metrics.sla_at_risk.set(await self.store.count_at_risk())
        return done

    async def _one(self, incident_id: str, levels: ServiceLevels, now: float) -> None:
        update = await self.store.update(incident_id, levels, now)
        if update is None:
            return  # the incident is gone (expired): nothing to fire
        await self.publish_outbox(incident_id, update.events, update.outbox)
        if self.metrics is not None:
            team = update.incident.get("team") or "unassigned"
            for stage, kind, priority in update.crossings:
                if stage == "breached":
                    self.metrics.sla_breaches.labels(kind, priority or "none", team).inc()
                else:
                    self.metrics.sla_crossings.labels(kind, priority or "none").inc()
        for stage, kind, _ in update.crossings:
            log.info("sla_" + stage, incident=incident_id, kind=kind)
        if update.next_check is not None:
            await self.schedule.schedule(SLA_KIND, incident_id, update.next_check)


class SlaScheduling:
    """An ``EventPublisher`` that, once the events are published, schedules the ``sla`` timer of every incident
    they name at ``clock()`` (one pipeline per batch of events): the SLA handler then opens or reconciles its
    records. An update that changes nothing writes nothing (no version bump the pipeline would conflict on)."""

    def __init__(self, inner: EventPublisher, index: DueIndex, clock: Callable[[], float]) -> None:
        self.inner = inner
        self.index = index
        self.clock = clock

    async def publish_events(self, events: Sequence[dict[str, Any]]) -> None:
        await self.inner.publish_events(events)
        incidents = dict.fromkeys(e["incident"]["id"] for e in events
                                  if e["type"] in INCIDENT_TYPES and e["type"] not in SLA_TYPES
                                  and isinstance(e.get("incident"), dict))
        if not incidents:
            return
        now = self.clock()
        pipe = self.index.redis.pipeline(transaction=False)
        for incident_id in incidents:
            self.index.schedule_in(pipe, SLA_KIND, incident_id, now)
        await pipe.execute()
