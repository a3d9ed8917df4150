"""The correlation engine: group state + alerts + now in, decisions out. No I/O, no clock.

Until the rule language lands, one default grouping applies: alerts that share the values of the
configured group labels (default ``alertname``, ``service``) belong to one group, and a group has at
most one open incident. Lifecycle:

* a firing alert new to the group (or firing again after resolving) joins the group's open incident,
  opening a new one when there is none;
* a repeat of an alert in the same status is a duplicate: counted, never a new incident;
* an alert that resolves lowers its incident's firing count; at zero the incident resolves;
* a notification older than what the store already holds is stale and ignored: a different status
  with an earlier ``starts_at``, or a firing copy of an episode that has already resolved (same
  ``starts_at``); a genuine re-fire starts a new episode with a later ``starts_at``. So out-of-order and
  late delivery cannot reopen anything.

``decide`` advances the given ``GroupState`` in place (so several messages for one group can be decided
in sequence inside one batch) and returns a ``Decision`` listing exactly what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from rules.alert import Alert, severity_rank

from correlation.keyspace import incident_id
from correlation.model import AlertState, GroupState, Incident
from correlation.routing import DEFAULT_RULE, priority_rank


PriorityOf = Callable[[Mapping[str, str]], str]
MutedBy = Callable[[Mapping[str, str]], str]


@dataclass(slots=True)
class Event:
    routing_key: str  # incident.created | incident.updated | incident.resolved
    incident_id: str
    reason: str
    at: float
    incident: dict[str, Any] = field(default_factory=dict)  # filled with the final record by finish()


@dataclass(slots=True)
class Stats:
    new: int = 0
    duplicates: int = 0
    changed: int = 0
    stale: int = 0
    resolved_unknown: int = 0
    muted: int = 0  # firing notifications recorded but kept out of incidents by a silence or maintenance window
    held: int = 0  # firing notifications held back until the group rule's threshold is met


@dataclass(slots=True)
class Decision:
    group_id: str
    alerts: dict[str, AlertState] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    new_members: dict[str, list[str]] = field(default_factory=dict)
    timeline: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    seq: int = 0
    current_incident: str = ""
    pending: dict[str, tuple[float, str]] = field(default_factory=dict)
    timers: list[tuple[str, float]] = field(default_factory=list)  # (incident id, due): after_hold resolutions

    @property
    def changed(self) -> bool:
        return bool(self.alerts or self.incidents)


HELD = "threshold"  # AlertState.muted while the group rule's threshold holds the alert back


def _threshold_met(threshold: Any, pending: Mapping[str, tuple[float, str]]) -> bool:
    names = {name for _, name in pending.values()}
    if threshold.any_of is not None:
        return bool(names & set(threshold.any_of))
    if threshold.all_of is not None:
        return set(threshold.all_of) <= names
    return len(pending) >= threshold.count


def _title(group_labels: dict[str, str], rule: str) -> str:
    values = [v for v in group_labels.values() if v]
    text = " / ".join(values) if values else "(no group labels)"
    return text if rule == DEFAULT_RULE else f"{rule}: {text}"


def _entry(at: float, kind: str, text: str, fingerprint: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"at": at, "kind": kind, "text": text}
    if fingerprint:
        entry["fingerprint"] = fingerprint
    return entry


def _describe(labels: dict[str, str]) -> str:
    name = labels.get("alertname", "alert")
    where = labels.get("instance") or labels.get("service") or ""
    return f"{name} on {where}" if where else name


class _DecisionBuilder:
    """Collects the effects of one decide() call; keeps decide() readable."""

    def __init__(self, state: GroupState, priority: PriorityOf | None) -> None:
        self.state = state
        self.priority = priority
        self.decision = Decision(group_id=state.group_id)
        self._updated: set[str] = set()

    def note(self, incident: Incident, kind: str, text: str, at: float, fingerprint: str = "") -> None:
        self.decision.timeline.setdefault(incident.id, []).append(_entry(at, kind, text, fingerprint))
        self.decision.incidents[incident.id] = incident

    def updated(self, incident: Incident, reason: str, at: float) -> None:
        # one incident.updated per incident per decision: a storm must not become an event storm
        if incident.id in self._updated or incident.id in self.decision.opened:
            return
        self._updated.add(incident.id)
        self.decision.events.append(Event("incident.updated", incident.id, reason, at))

    def open_incident(self, alert: Alert, now: float) -> Incident:
        state = self.state
        state.seq += 1
        route = state.route
        rule = route.rule if route else DEFAULT_RULE
        incident = Incident(
            id=incident_id(state.group_id, state.seq),
            title=_title(state.group_labels, rule),
            status="open",
            severity=alert.severity,
            group_key=state.group_key,
            group_labels=dict(state.group_labels),
            created_at=now,
            updated_at=now,
            rule=rule,
            team=(route.team if route and route.team else "") or alert.labels.get("team", ""),
            why={
                "rule": rule,
                "matchers": list(route.matchers) if route else [],
                "group_by": list(route.group_by) if route else list(state.group_labels),
                "group_labels": dict(state.group_labels),
            },
        )
        state.incident = incident
        self.decision.opened.append(incident.id)
        self.note(incident, "created", f"opened by {_describe(dict(alert.labels))}", now, alert.fingerprint)
        self.decision.events.append(Event("incident.created", incident.id, "opened", now))
        return incident

    def attach(self, incident: Incident, alert: Alert, now: float, *, new_member: bool) -> None:
        if incident.resolve_at is not None:
            incident.resolve_at = None
            self.note(incident, "alert", "an alert fired again: the held resolution is cancelled", now,
                      alert.fingerprint)
        incident.firing += 1
        incident.occurrences += 1
        incident.updated_at = now
        if new_member:
            incident.alerts += 1
            self.decision.new_members.setdefault(incident.id, []).append(alert.fingerprint)
        if self.priority is not None:
            priority = self.priority(alert.labels)
            if priority and priority_rank(priority) < priority_rank(incident.priority):
                if incident.priority and incident.id not in self.decision.opened:
                    self.note(incident, "priority", f"priority raised {incident.priority} -> {priority}", now,
                              alert.fingerprint)
                incident.priority = priority
        severity = alert.severity
        if severity_rank(severity) > severity_rank(incident.severity):
            self.note(incident, "severity", f"severity raised {incident.severity} -> {severity}", now, alert.fingerprint)
            incident.severity = severity
        if incident.id not in self.decision.opened:
            verb = "joined" if new_member else "firing again"
            self.note(incident, "alert", f"{_describe(dict(alert.labels))} {verb}", now, alert.fingerprint)
            self.updated(incident, "alert added", now)

    def incident_for(self, alert: Alert, now: float) -> Incident | None:
        """The group's open incident; else a new one, unless the rule's threshold holds the alert back (None)."""
        state = self.state
        if state.incident is not None and state.incident.is_open:
            return state.incident
        threshold = state.route.threshold if state.route is not None else None
        if threshold is None:
            return self.open_incident(alert, now)
        state.pending.setdefault(alert.fingerprint, (now, alert.labels.get("alertname", "")))
        if threshold.within is not None:
            for fp, (since, _) in list(state.pending.items()):
                if now - since > threshold.within:
                    del state.pending[fp]
            state.pending.setdefault(alert.fingerprint, (now, alert.labels.get("alertname", "")))
        if not _threshold_met(threshold, state.pending):
            return None
        incident = self.open_incident(alert, now)
        held = [fp for fp in state.pending if fp != alert.fingerprint]
        state.pending.clear()
        for fp in held:
            member = state.alerts.get(fp)
            if member is None or member.status != "firing":
                continue
            member.incident = incident.id
            member.muted = ""
            self.decision.alerts[fp] = member
            incident.alerts += 1
            incident.firing += 1
            incident.occurrences += member.count
            self.decision.new_members.setdefault(incident.id, []).append(fp)
            self.note(incident, "alert", f"{_describe(member.labels)} joined (held until the threshold)", now, fp)
        return incident

    def finish(self) -> Decision:
        d = self.decision
        d.pending = dict(self.state.pending)
        d.seq = self.state.seq
        d.current_incident = self.state.incident.id if self.state.incident else ""
        for event in d.events:
            event.incident = d.incidents[event.incident_id].public()
        return d


def decide(
    state: GroupState,
    alerts: Sequence[Alert],
    now: float,
    priority: PriorityOf | None = None,
    muted: MutedBy | None = None,
) -> Decision:
    """Apply ``alerts`` (all of this group, in arrival order) to ``state`` at time ``now``.

    ``priority`` maps an alert's labels to its ITIL priority (P1..P5, or "" for none) under the group's rule;
    an incident takes the most urgent priority of the alerts that joined it. ``muted`` names what mutes a label
    set ("silence:<id>", "maintenance:<name>", or "" when nothing does): a muted firing alert that is not already
    part of an open incident is recorded and counted but opens and joins nothing.
    """
    b = _DecisionBuilder(state, priority)
    stats = b.decision.stats
    for alert in alerts:
        fp = alert.fingerprint
        prev = state.alerts.get(fp)
        mute = muted(alert.labels) if muted is not None and alert.status == "firing" else ""
        if prev is None:
            if alert.status == "resolved":
                stats.resolved_unknown += 1
                continue
            stats.new += 1
            if mute:
                stats.muted += 1
                incident = None
            else:
                incident = b.incident_for(alert, now)
                if incident is None:
                    stats.held += 1
                    mute = HELD
                else:
                    b.attach(incident, alert, now, new_member=True)
            current = AlertState(
                fingerprint=fp,
                labels=dict(alert.labels),
                annotations=dict(alert.annotations),
                status="firing",
                starts_at=alert.starts_at,
                ends_at=alert.ends_at,
                first_seen=now,
                last_seen=now,
                count=1,
                incident=incident.id if incident else "",
                source=alert.source,
                generator_url=alert.generator_url,
                muted=mute,
            )
            state.alerts[fp] = current
            b.decision.alerts[fp] = current
            continue

        if alert.status != prev.status and (
            alert.starts_at < prev.starts_at or (alert.status == "firing" and alert.starts_at <= prev.starts_at)
        ):
            # older than what we hold, or a late copy of the firing episode that has already resolved
            # (a genuine re-fire starts a new episode with a later starts_at)
            stats.stale += 1
            continue

        prev.count += 1
        prev.last_seen = now
        prev.annotations = dict(alert.annotations)
        prev.ends_at = alert.ends_at
        b.decision.alerts[fp] = prev
        attached = state.incident if state.incident and state.incident.id == prev.incident else None

        if alert.status == prev.status and prev.muted and alert.status == "firing":
            # a muted alert repeating: still muted, or its silence ended and it now opens or joins an incident
            stats.duplicates += 1
            if mute:
                stats.muted += 1
                prev.muted = mute
                continue
            incident = b.incident_for(alert, now)
            if incident is None:
                stats.held += 1
                prev.muted = HELD
                continue
            prev.muted = ""
            new_member = prev.incident != incident.id
            prev.incident = incident.id
            b.attach(incident, alert, now, new_member=new_member)
            continue

        if alert.status == prev.status:
            stats.duplicates += 1
            if attached is not None and attached.is_open and alert.status == "firing":
                attached.occurrences += 1
                attached.updated_at = now
                b.decision.incidents[attached.id] = attached
            continue

        stats.changed += 1
        prev.status = alert.status
        prev.starts_at = max(prev.starts_at, alert.starts_at)
        prev.muted = mute
        if alert.status == "resolved":
            state.pending.pop(fp, None)
            if attached is not None and attached.is_open:
                attached.firing = max(0, attached.firing - 1)
                attached.updated_at = now
                b.note(attached, "alert", f"{_describe(prev.labels)} resolved", now, fp)
                mode = state.route.auto_resolve if state.route is not None else "all_resolved"
                if attached.firing == 0 and mode == "after_hold":
                    attached.resolve_at = now + state.route.resolve_hold
                    b.note(attached, "alert", f"all alerts resolved; resolves in {state.route.resolve_hold:g}s "
                                              "unless one fires again", now)
                    b.decision.timers.append((attached.id, attached.resolve_at))
                    b.updated(attached, "all alerts resolved, resolution held", now)
                elif attached.firing == 0 and mode == "manual":
                    b.note(attached, "alert", "all alerts resolved; the rule resolves this incident manually", now)
                    b.updated(attached, "all alerts resolved, manual resolution", now)
                elif attached.firing == 0:
                    attached.status = "resolved"
                    attached.resolved_at = now
                    b.note(attached, "resolved", "all alerts resolved", now)
                    b.decision.resolved.append(attached.id)
                    b.decision.events.append(Event("incident.resolved", attached.id, "all alerts resolved", now))
                else:
                    b.updated(attached, "alert resolved", now)
            continue

        # resolved -> firing
        if mute:
            stats.muted += 1
            prev.incident = ""
            continue
        incident = b.incident_for(alert, now)
        if incident is None:
            stats.held += 1
            prev.muted = HELD
            prev.incident = ""
            continue
        new_member = prev.incident != incident.id
        prev.incident = incident.id
        b.attach(incident, alert, now, new_member=new_member)
    return b.finish()


def decide_timer(state: GroupState, incident_id: str, now: float) -> Decision:
    """A held resolution falls due: resolve the incident if it is still open, quiet, and due (else nothing)."""
    b = _DecisionBuilder(state, None)
    incident = state.incident
    if (
        incident is not None
        and incident.id == incident_id
        and incident.is_open
        and incident.firing == 0
        and incident.resolve_at is not None
        and now >= incident.resolve_at
    ):
        incident.status = "resolved"
        incident.resolved_at = now
        incident.resolve_at = None
        incident.updated_at = now
        b.note(incident, "resolved", "all alerts stayed resolved for the hold", now)
        b.decision.resolved.append(incident.id)
        b.decision.events.append(Event("incident.resolved", incident.id, "all alerts stayed resolved", now))
    return b.finish()
