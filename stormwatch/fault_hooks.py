"""Test-only fault hooks for the fault suite (``tests/faults/``): off unless their environment variable is set.

``STORMWATCH_TEST_EXIT_AFTER_WRITE=N``
    the process exits (``os._exit(137)``, no clean-up, like SIGKILL) right after the Nth batch's state write
    returned and before that batch is acked: the one window a crash can leave written-but-unacked messages.
``STORMWATCH_TEST_POISON=TEXT``
    a batch holding an alert with a label value equal to TEXT raises, on every delivery (a processing bug that a
    message triggers), so the delivery limit and the dead-lettering of poison messages can be tested end to end.
``STORMWATCH_TEST_HOLD_DUE_SLA=1``
    the SLA handler, given a claimed ``sla`` timer whose incident has a checkpoint (a warning or the breach) due,
    logs ``test_holding_sla_timer`` and never returns: the worker holds the claim until it is killed, so a test can
    SIGKILL it there and watch another worker fire the checkpoint after the lease.
``STORMWATCH_TEST_HOLD_TICKET_STORE=1``
    the ticket action, given a ticket reference to store on an incident that has none (the ticketing system has just
    created or found the ticket), logs ``test_holding_ticket_store`` (incident, system, ref) and never returns: the
    worker holds the run and the ticket claim, the ticket exists and the incident does not know it (the worst point
    to die), so a test can SIGKILL it there and watch another worker find that ticket instead of creating a second.

They wrap the correlation sink, the SLA handler and the ticket references in the shell; nothing else in the code
knows about them. Never set them in production.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from collections.abc import Callable, Iterable, Mapping, Sequence

import structlog

from correlation.core.service_levels import ServiceLevels
from correlation.store.sla import SlaStore
from actions.tickets.executor import TicketRefs
from kv.due import Due, DueHandler

EXIT_AFTER_WRITE = "STORMWATCH_TEST_EXIT_AFTER_WRITE"
POISON = "STORMWATCH_TEST_POISON"
HOLD_DUE_SLA = "STORMWATCH_TEST_HOLD_DUE_SLA"
HOLD_TICKET_STORE = "STORMWATCH_TEST_HOLD_TICKET_STORE"


class PoisonCrash(RuntimeError):
    """Raised by the poison hook: a stand-in for a bug that one message triggers on every delivery."""


class FaultHooks:
    """A sink (``submit(deliveries)``) wrapped with the hooks the environment asks for."""

    def __init__(self, sink: Any, exit_after_write: int = 0, poison: str = "") -> None:
        self.sink = sink
        self.exit_after_write = exit_after_write
        self.poison = poison
        self.writes = 0

    async def submit(self, deliveries: Sequence[Any]) -> Any:
        if self.poison and any(self.poison in a.labels.values() for d in deliveries for a in d.alerts):
            raise PoisonCrash(f"poison alert (label value {self.poison!r}): test-only crash")
        report = await self.sink.submit(deliveries)
        self.writes += 1
        if self.writes == self.exit_after_write:
            os._exit(137)  # written, not acked: RabbitMQ redelivers the batch to another worker
        return report


def with_fault_hooks(sink: Any, environ: Mapping[str, str]) -> Any:
    """``sink`` itself when no hook is set (the production case), else wrapped."""
    exit_after = int(environ.get(EXIT_AFTER_WRITE, "0") or 0)
    poison = environ.get(POISON, "")
    if not exit_after and not poison:
        return sink
    return FaultHooks(sink, exit_after, poison)


class HoldDueSla:
    """An SLA handler (``kv.due.DueHandler``) that hangs, holding its claim, on a timer with a checkpoint due."""

    def __init__(self, handler: DueHandler, store: SlaStore, levels: Callable[[], ServiceLevels]) -> None:
        self.handler = handler
        self.store = store
        self.levels = levels

    async def fire(self, due: Sequence[Due], now: float) -> Iterable[Due]:
        levels = self.levels()
        for timer in due:
            records = await self.store.records(timer.key)
            checks = [r.next_check(levels.calendar(r.calendar)) for r in records]
            if any(t is not None and t <= now for t in checks):
                structlog.get_logger("stormwatch").warning(
                    "test_holding_sla_timer", incident=timer.key, claimed=timer.claimed, attempt=timer.attempt)
                await asyncio.Event().wait()  # test-only: held until the process is killed
        return await self.handler.fire(due, now)


def with_due_hooks(sla: DueHandler, store: SlaStore, levels: Callable[[], ServiceLevels],
                   environ: Mapping[str, str]) -> DueHandler:
    """The SLA handler itself unless ``STORMWATCH_TEST_HOLD_DUE_SLA`` is set (the production case)."""
    return HoldDueSla(sla, store, levels) if environ.get(HOLD_DUE_SLA) else sla


class HoldTicketStore:
    """Ticket references (``actions.tickets.executor.TicketRefs``) whose ``store`` hangs: the ticket was created (or
    found) in the ticketing system and its reference is never stored."""

    def __init__(self, refs: TicketRefs) -> None:
        self.refs = refs

    async def ref(self, incident_id: str, system: str) -> str | None:
        return await self.refs.ref(incident_id, system)

    async def claim(self, incident_id: str, system: str, holder: str, lease: float) -> bool:
        return await self.refs.claim(incident_id, system, holder, lease)

    async def store(self, incident_id: str, system: str, ref: str) -> None:
        structlog.get_logger("stormwatch").warning("test_holding_ticket_store", incident=incident_id, system=system,
                                                   ref=ref)
        await asyncio.Event().wait()  # test-only: held until the process is killed


def with_ticket_hooks(refs: TicketRefs, environ: Mapping[str, str]) -> TicketRefs:
    """``refs`` itself unless ``STORMWATCH_TEST_HOLD_TICKET_STORE`` is set (the production case)."""
    return HoldTicketStore(refs) if environ.get(HOLD_TICKET_STORE) else refs
