"""Incidents people declare (issue 21): the group a declared incident lives in, its priority, its record.

Pure like the rest of the core: ``now`` is an argument. A declared incident is an incident like any other (the same
hash, timeline, lifecycle and events); what differs is where it lives. Every declared incident of one service shares
one group, ``declared_group(service)``: its group labels are ``{"__declared__": "service", "service": <name>}`` and
its gid is the FNV-1a signature of the service signed under the rule name ``\x00declared`` (the way routing signs a
rule's groups, with a NUL no rule name has), so no alert's group has the same id unless an alert is grouped by all its
labels and carries that NUL name itself; the store also marks the group hash ``declared`` and refuses to declare into
a group it did not create. A group has at most one open incident, so "is an incident already open for this
service?" is the group's ``inc`` field: a second report while it is open joins it ("also reported by") instead of
opening a second incident, and the store decides that atomically (``declare_incident.lua``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rules.fingerprint import labels_to_signature

from correlation.core.model import Incident

#: the reserved label marking a declared incident's group (never a label of an alert's group)
DECLARED_LABEL = "__declared__"
#: the rule name a declared incident carries (``rule`` on the incident, as an alert's group rule would)
DECLARED_RULE = "declared"
LEVELS = ("high", "medium", "low")
#: impact x urgency -> the ITIL severity a declared incident shows (the inverse of rules' SEVERITY_IMPACT_URGENCY)
_SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}


@dataclass(frozen=True, slots=True)
class DeclaredGroup:
    id: str
    key: str
    labels: dict[str, str]


def declared_group(service: str) -> DeclaredGroup:
    """The group every declared incident of ``service`` lives in."""
    labels = {DECLARED_LABEL: "service", "service": service}
    gid = format(labels_to_signature({"\x00rule": "\x00" + DECLARED_RULE, "service": service}), "016x")[:12]
    return DeclaredGroup(gid, f'{DECLARED_RULE}:{{service="{service}"}}', labels)


def declared_priority(matrix: Mapping[str, Mapping[str, str]], impact: str, urgency: str) -> str:
    """ITIL priority of impact x urgency through the running rule set's matrix (``rules.schema.ITIL_MATRIX``
    by default); ValueError naming the level that is not high, medium or low."""
    for name, value in (("impact", impact), ("urgency", urgency)):
        if value not in LEVELS:
            raise ValueError(f"{name} must be one of {', '.join(LEVELS)}")
    return matrix[impact][urgency]


@dataclass(frozen=True, slots=True)
class Declaration:
    """What a person reports."""

    title: str
    service: str
    reporter: str  #: who reports it (a person's name; defaults to the API token's name)
    by: str  #: the API token (or CLI user) that made the request
    description: str = ""
    impact: str = "medium"
    urgency: str = "medium"
    team: str = ""
    major: bool = False


def declared_record(declaration: Declaration, incident_id: str, priority: str, now: float,
                    default_team: str) -> dict[str, str]:
    """The incident hash of a new declared incident (the engine's fields plus the declaration's)."""
    group = declared_group(declaration.service)
    incident = Incident(
        id=incident_id, title=declaration.title, status="open", severity=_SEVERITY.get(priority, "warning"),
        group_key=group.key, group_labels=group.labels, created_at=now, updated_at=now, rule=DECLARED_RULE,
        team=declaration.team or default_team, priority=priority,
        why={"rule": DECLARED_RULE, "declared_by": declaration.by, "service": declaration.service},
    )
    record = incident.to_hash()
    record.update({
        "declared": "1", "reporter": declaration.reporter, "description": declaration.description,
        "service": declaration.service, "impact": declaration.impact, "urgency": declaration.urgency,
    })
    if declaration.major:
        record["major"] = "1"
        record["major_at"] = repr(now)
    return record
