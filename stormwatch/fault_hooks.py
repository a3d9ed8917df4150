"""Test-only fault hooks for the fault suite (``tests/faults/``): off unless their environment variable is set.

``STORMWATCH_TEST_EXIT_AFTER_WRITE=N``
    the process exits (``os._exit(137)``, no clean-up, like SIGKILL) right after the Nth batch's state write
    returned and before that batch is acked: the one window a crash can leave written-but-unacked messages.
``STORMWATCH_TEST_POISON=TEXT``
    a batch holding an alert with a label value equal to TEXT raises, on every delivery (a processing bug that a
    message triggers), so the delivery limit and the dead-lettering of poison messages can be tested end to end.

They wrap the correlation sink in the shell; nothing else in the code knows about them. Never set them in
production.
"""

from __future__ import annotations

import os
from typing import Any
from collections.abc import Mapping, Sequence

EXIT_AFTER_WRITE = "STORMWATCH_TEST_EXIT_AFTER_WRITE"
POISON = "STORMWATCH_TEST_POISON"


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
