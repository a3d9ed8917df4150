"""The on_hold incident command (issue 18): a reason puts it on hold, an empty one takes it off."""

from __future__ import annotations

import pytest

from correlation.store.incident_commands import Command, CommandRefused, decide_command

STORED = {"id": "INC-0a1b-1", "status": "open"}


def test_on_hold_with_a_reason_and_off_again() -> None:
    change = decide_command(STORED, Command("on_hold", "ana", "waiting for the vendor"), 10.0, current="INC-0a1b-1")
    assert change.changed and change.fields["on_hold"] == "waiting for the vendor"
    assert change.entry is not None and change.entry["kind"] == "on_hold"
    assert change.entry["text"] == "put on hold by ana: waiting for the vendor"
    held = STORED | {"on_hold": "waiting for the vendor"}
    assert not decide_command(held, Command("on_hold", "ana", "waiting for the vendor"), 11.0, current="").changed
    off = decide_command(held, Command("on_hold", "ana", ""), 12.0, current="")
    assert off.fields["on_hold"] == "" and off.entry is not None and off.entry["text"] == "taken off hold by ana"


def test_a_resolved_incident_cannot_be_put_on_hold() -> None:
    with pytest.raises(CommandRefused) as refused:
        decide_command(STORED | {"status": "resolved"}, Command("on_hold", "ana", "x"), 10.0, current="")
    assert refused.value.status == 409
