"""The pure side of declared incidents (issue 21): their group, their priority, their record."""

from __future__ import annotations

import pytest

from correlation.core.declared import Declaration, declared_group, declared_priority, declared_record
from correlation.core.model import Incident
from correlation.core.routing import Router
from rules.schema import ITIL_MATRIX


def test_one_group_per_service_that_no_alert_group_can_share():
    assert declared_group("checkout").id == declared_group("checkout").id
    assert declared_group("checkout").id != declared_group("search").id
    # an alert grouped by service alone (the default rule) lands in another group
    assert Router(None, ["service"])({"service": "checkout"}).id != declared_group("checkout").id
    assert Router(None, ["__declared__", "service"])({"service": "checkout"}).id != declared_group("checkout").id


@pytest.mark.parametrize(("impact", "urgency", "priority"), [("high", "high", "P1"), ("high", "medium", "P2"),
                                                              ("low", "low", "P5"), ("medium", "low", "P4")])
def test_priority_is_itil_impact_by_urgency(impact, urgency, priority):
    assert declared_priority(ITIL_MATRIX, impact, urgency) == priority


def test_an_unknown_level_is_refused_naming_it():
    with pytest.raises(ValueError, match="urgency"):
        declared_priority(ITIL_MATRIX, "high", "now")


def test_the_record_is_an_incident_with_the_declaration():
    record = declared_record(Declaration("Checkout down", "checkout", "alice", "sre", major=True), "INC-ab-1", "P1",
                             100.0, "unassigned")
    incident = Incident.from_hash(record)
    assert (incident.status, incident.rule, incident.team, incident.severity) == ("open", "declared", "unassigned",
                                                                                 "critical")
    assert record["reporter"] == "alice" and record["declared"] == "1" and record["major"] == "1"
