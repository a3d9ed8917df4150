"""The test-only fault hooks are off unless asked for, and do exactly what the fault suite relies on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from stormwatch.fault_hooks import EXIT_AFTER_WRITE, POISON, FaultHooks, PoisonCrash, with_fault_hooks


class Sink:
    def __init__(self) -> None:
        self.calls = 0

    async def submit(self, deliveries):
        self.calls += 1
        return "report"


def delivery(*values: str) -> SimpleNamespace:
    return SimpleNamespace(alerts=[SimpleNamespace(labels={"instance": v}) for v in values])


def test_no_hook_set_means_the_sink_itself() -> None:
    sink = Sink()
    assert with_fault_hooks(sink, {}) is sink
    assert with_fault_hooks(sink, {EXIT_AFTER_WRITE: "", POISON: ""}) is sink


async def test_poison_raises_before_anything_is_written() -> None:
    sink = Sink()
    hooked = with_fault_hooks(sink, {POISON: "pill"})
    assert isinstance(hooked, FaultHooks)
    assert await hooked.submit([delivery("a")]) == "report"
    with pytest.raises(PoisonCrash):
        await hooked.submit([delivery("a"), delivery("b", "pill")])
    assert sink.calls == 1


async def test_exit_after_the_nth_write(monkeypatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr("stormwatch.fault_hooks.os._exit", exits.append)
    sink = Sink()
    hooked = with_fault_hooks(sink, {EXIT_AFTER_WRITE: "2"})
    await hooked.submit([delivery("a")])
    assert exits == []
    await hooked.submit([delivery("a")])
    assert exits == [137] and sink.calls == 2  # written first, then the exit: before the caller could ack
