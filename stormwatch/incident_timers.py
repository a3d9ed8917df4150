"""What the ``sla`` and ``escalate`` kinds of the due-time service share (``stormwatch/sla_timers.py``,
``stormwatch/escalation_timers.py``): one timer per incident, keyed by its id, whose handler updates the incident
under the group's compare-and-set (a ``correlation.store.incident_outbox`` store), publishes the outbox the update
returns, clears it, and schedules the next look. A timer it could not handle stays claimed and falls due again
when its lease runs out (another worker, after a crash).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import structlog

from correlation.store.incident_outbox import IncidentOutboxStore
from events.publisher import EventPublisher
from kv.due import Due
from rules.schema import RuleSet
from stormwatch.metrics import Metrics

log = structlog.get_logger("stormwatch")

Store = TypeVar("Store", bound=IncidentOutboxStore)
Built = TypeVar("Built")


def of_running_rules(rules: Callable[[], RuleSet | None], build: Callable[[RuleSet], Built],
                     empty: Built) -> Callable[[], Built]:
    """What a handler reads from the running rule set (``build`` of it; ``empty`` without one), rebuilt only when
    the rule set was swapped."""
    cache: dict[str, Any] = {"rules": None, "built": empty}

    def current() -> Built:
        running = rules()
        if running is not cache["rules"]:
            cache["rules"] = running
            cache["built"] = empty if running is None else build(running)
        built: Built = cache["built"]
        return built
    return current


class Schedule(Protocol):
    """Where timers are scheduled (``kv.due.DueIndex``)."""

    async def schedule(self, kind: str, timer: str, when: float) -> None: ...


class IncidentTimers(Generic[Store]):
    """The base of a kind's handler (``kv.due.DueHandler``) whose timers are incident ids."""

    def __init__(self, store: Store, schedule: Schedule, publisher: EventPublisher,
                 metrics: Metrics | None = None) -> None:
        self.store = store
        self.schedule = schedule
        self.publisher = publisher
        self.metrics = metrics

    async def fire_each(self, due: Sequence[Due], handle: Callable[[str], Awaitable[None]], failed: str) -> list[Due]:
        """``handle`` each claimed timer's incident id; the timers handled. One that raises is logged (``failed``)
        and stays claimed: it falls due again after its lease."""
        done: list[Due] = []
        for timer in due:
            try:
                await handle(timer.key)
            except Exception:
                log.exception(failed, incident=timer.key)
                continue
            done.append(timer)
        return done

    async def publish_outbox(self, incident_id: str, events: Sequence[dict[str, Any]], outbox: str) -> None:
        """Publish an update's events (its own and any an earlier publisher left), then clear the outbox (only if
        no write changed it since)."""
        if events:
            await self.publisher.publish_events(list(events))
            await self.store.clear_outbox(incident_id, outbox)
