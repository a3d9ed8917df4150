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

Alerts join a declared incident by a rule option (``join_declared`` on their group rule, ``rules.schema.JoinDeclared``):
an alert whose service (the catalog's binding, else its service label) is a declared incident's service, or with
``topology`` depends on it, is placed under that incident as a symptom (kind ``declared``) instead of opening an
incident of its own, as a topology rule would place it under its failing dependency. ``join_targets`` says which
services' declared incidents an alert may join, nearest first; ``DeclaredJoin`` is the engine's cause lookup with
that added behind the rule set's own causes (an inhibiting or failing cause explains first). Which services have an
open declared incident is read by the store per batch (``correlation.store.declared_incidents.open_declared``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rules.fingerprint import labels_to_signature
from rules.schema import DECLARED_LABEL, JoinDeclared

from correlation.core.causes import Cause
from correlation.core.model import Incident

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


#: (service, path from the alert's service to it)
Target = tuple[str, tuple[str, ...]]


def join_targets(option: JoinDeclared, service: str,
                 dependencies: Callable[[str], Sequence[Target]]) -> list[Target]:
    """The services whose declared incident an alert on ``service`` may join under ``option``, nearest first: its
    own, then (``topology``) every service it depends on, each with its path; only ``option.services`` if given."""
    if not service:
        return []
    targets: list[Target] = [(service, (service,))]
    if option.topology:
        targets += dependencies(service)
    if option.services:
        targets = [t for t in targets if t[0] in option.services]
    return targets


CauseLookup = Callable[[Mapping[str, str], str, float, "float | None"], "Cause | None"]


class DeclaredJoin:
    """The cause lookup of a group rule with ``join_declared``: the rule set's own causes first, else the open
    declared incident of the nearest target service (``open_declared``: service -> incident id, as read for the
    batch). A symptom of a declared incident carries no recovery grace: when the incident resolves, its symptoms
    are placed again at their next notification (a hold timer for one waiting for a cause places it too)."""

    def __init__(self, inner: CauseLookup | None, targets: Callable[[Mapping[str, str]], Sequence[Target]],
                 open_declared: Mapping[str, str]) -> None:
        self.inner = inner
        self.targets = targets
        self.open_declared = open_declared

    def __call__(self, labels: Mapping[str, str], fingerprint: str, now: float,
                 since: float | None = None) -> Cause | None:
        cause = self.inner(labels, fingerprint, now, since) if self.inner is not None else None
        if cause is not None or not self.open_declared:
            return cause
        for service, path in self.targets(labels):
            incident = self.open_declared.get(service)
            if incident:
                return Cause("declared", service, incident, "", path)
        return None
