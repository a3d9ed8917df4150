"""decide_command: people's changes to an incident, pure."""

from __future__ import annotations

import pytest

from correlation.store.incident_commands import Command, CommandRefused, decide_command, incident_view
from correlation.core.model import Incident

NOW = 1_800_000_000.0


def stored(status: str = "open", **extra: str) -> dict[str, str]:
    incident = Incident("INC-0123456789ab-1", "t", status, "critical", "k", {"a": "b"}, NOW - 60, NOW - 60)
    return {**incident.to_hash(), **extra}


def test_acknowledge_then_again_is_no_change():
    change = decide_command(stored(), Command("acknowledge", "ana"), NOW, current="INC-0123456789ab-1")
    assert change.fields["status"] == "acknowledged" and change.entry["by"] == "ana"
    assert not decide_command(stored("acknowledged"), Command("acknowledge", "ana"), NOW, current="").changed
    with pytest.raises(CommandRefused) as info:
        decide_command(stored("resolved"), Command("acknowledge", "ana"), NOW, current="")
    assert info.value.status == 409


def test_resolve_clears_a_held_resolution_and_leaves_the_open_index():
    change = decide_command(stored(resolve_at="123.0"), Command("resolve", "bo", comment="fixed"), NOW, current="")
    assert change.fields["resolve_at"] == "" and change.open_index == "remove"
    assert change.entry["text"] == "resolved by bo: fixed"


def test_reopen_only_the_groups_latest_and_recounts_firing():
    change = decide_command(stored("resolved"), Command("reopen", "cy"), NOW, current="INC-0123456789ab-1", firing=3)
    assert (change.fields["status"], change.fields["firing"], change.open_index) == ("open", "3", "add")
    with pytest.raises(CommandRefused):
        decide_command(stored("resolved"), Command("reopen", "cy"), NOW, current="INC-0123456789ab-2", firing=0)


def test_assign_priority_comment():
    assert decide_command(stored(), Command("assign", "a", "ana"), NOW, current="").fields["assignee"] == "ana"
    assert not decide_command(stored(assignee="ana"), Command("assign", "a", "ana"), NOW, current="").changed
    assert decide_command(stored(), Command("priority", "a", "P2"), NOW, current="").entry["text"] == \
        "priority none -> P2 by a"
    with pytest.raises(CommandRefused):
        decide_command(stored(), Command("priority", "a", "P0"), NOW, current="")
    assert decide_command(stored(), Command("comment", "a", "hi"), NOW, current="").entry["kind"] == "commented"


def test_view_adds_people_fields():
    doc = incident_view(stored(assignee="ana", acknowledged_at="12.5"))
    assert (doc["assignee"], doc["acknowledged_at"], doc["resolved_by"]) == ("ana", 12.5, None)
