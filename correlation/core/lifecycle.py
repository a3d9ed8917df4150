"""Incident lifecycle steps the engine composes: open, attach, place an alert, resolve a member. Pure, no I/O.

A ``DecisionBuilder`` collects the effects of one ``decide`` (or timer) call on one group's state; ``finish``
turns them into a ``Decision``.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from rules.alert import Alert, normalise_severity, severity_rank
from rules.schema import Threshold

from correlation.core.catalog import Bound
from correlation.core.causes import Entry
from correlation.core.change_windows import CHANGE_REASON
from correlation.core.decision import Context, Decision, Event, Recurrence, Symptom, hold_timer
from correlation.core.model import AlertState, GroupState, Incident, incident_id
from correlation.core.routing import DEFAULT_RULE, priority_rank

HELD = "threshold"  # AlertState.muted while the group rule's threshold holds the alert back
WAITING = "hold:"  # AlertState.muted prefix while a possible symptom waits for its cause
SYMPTOM = ("inhibited:", "topology:", "declared:")


def _threshold_met(threshold: Threshold, pending: Mapping[str, tuple[float, str]]) -> bool:
    names = {name for _, name in pending.values()}
    if threshold.any_of is not None:
        return bool(names & set(threshold.any_of))
    if threshold.all_of is not None:
        return set(threshold.all_of) <= names
    assert threshold.count is not None  # Threshold's validator: exactly one form, count with within
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


def describe(labels: Mapping[str, str]) -> str:
    name = labels.get("alertname", "alert")
    where = labels.get("instance") or labels.get("service") or ""
    return f"{name} on {where}" if where else name


def source_activity(alert: AlertState) -> str:
    """The incident an alert explains others by (a firing member of an incident), or ""."""
    return alert.incident if alert.status == "firing" and not alert.muted and alert.incident else ""


#: a symptom's entry in the candidate index: "sym:<its group>:<its cause's incident>" (correlation.core.merging)
SYMPTOM_CANDIDATE = "sym:"


def candidate_activity(alert: AlertState, group_id: str) -> str:
    """What an alert is in the candidate index under its merging lookups: a firing member, its incident (a late
    cause may merge it); a firing symptom, ``sym:<group>:<cause incident>`` (a better cause may take it); else ""."""
    cause = symptom_of(alert)
    return f"{SYMPTOM_CANDIDATE}{group_id}:{cause}" if cause else source_activity(alert)


def symptom_of(alert: AlertState) -> str:
    """The incident of a firing symptom's cause, or ""."""
    return alert.cause if alert.status == "firing" and alert.cause and alert.muted.startswith(SYMPTOM) else ""


def as_alert(state: AlertState, now: float) -> Alert:
    """An alert's stored state as a notification (timers decide on stored alerts)."""
    return Alert(labels=state.labels, status="firing", starts_at=state.starts_at, received_at=now,
                 fingerprint=state.fingerprint, source=state.source, annotations=state.annotations,
                 generator_url=state.generator_url)


class DecisionBuilder:
    def __init__(self, state: GroupState, context: Context, now: float) -> None:
        self.state = state
        self.ctx = context
        self.now = now
        self.decision = Decision(group_id=state.group_id)
        self._updated: set[str] = set()
        self._before: dict[str, tuple[str, str]] = {}  # fingerprint -> (source activity, symptom_of) before it
        self.notifications = True  # placing notified alerts (``decide``), not stored ones again (a timer)

    # -- bookkeeping ----------------------------------------------------------------------------

    def touch(self, alert: AlertState, *, new: bool = False) -> None:
        """Call before changing an alert: remembers what it explained, so ``finish`` can update the cause index."""
        if alert.fingerprint not in self._before:
            self._before[alert.fingerprint] = ("", "") if new else (source_activity(alert), symptom_of(alert))
        self.decision.alerts[alert.fingerprint] = alert

    def note(self, incident: Incident, kind: str, text: str, at: float, fingerprint: str = "") -> None:
        self.decision.timeline.setdefault(incident.id, []).append(_entry(at, kind, text, fingerprint))
        self.decision.incidents[incident.id] = incident

    def updated(self, incident: Incident, reason: str, at: float) -> None:
        # one incident.updated per incident per decision: a storm must not become an event storm
        if incident.id in self._updated or incident.id in self.decision.opened:
            return
        self._updated.add(incident.id)
        self.decision.events.append(Event("incident.updated", incident.id, reason, at))

    def attached(self, alert: AlertState) -> Incident | None:
        """The group's open incident this alert is counted in (the current one, or an older one), if any."""
        return self.state.open_incident(alert.incident) if alert.incident else None

    # -- incidents ------------------------------------------------------------------------------

    def team_of(self, alert: Alert, bound: Bound | None) -> str:
        """The team of an incident this alert opens: the rule's team, else the owner of the alert's catalog
        service (``bound``), else the alert's team label, else the default."""
        route = self.state.route
        return ((route.team if route and route.team else "") or (bound.owner if bound else "")
                or alert.labels.get("team", "") or self.ctx.team)

    def muted_as(self, alert: Alert, mute: str) -> tuple[str, str, str]:
        """A muted notification's key in ``Decision.mutes``: the reason, and the team and service an incident of
        the alert would have (the history's ``incidents.service``: the group label, else the alert's label)."""
        bound = self.ctx.service(alert.labels) if self.ctx.service is not None else None
        service = self.state.group_labels.get("service") or alert.labels.get("service", "")
        return mute, self.team_of(alert, bound), service

    def open_incident(self, alert: Alert, now: float) -> Incident:
        state = self.state
        state.seq += 1
        route = state.route
        rule = route.rule if route else DEFAULT_RULE
        bound = self.ctx.service(alert.labels) if self.ctx.service is not None else None
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
            team=self.team_of(alert, bound),
            why={
                "rule": rule,
                "matchers": list(route.matchers) if route else [],
                "group_by": list(route.group_by) if route else list(state.group_labels),
                "group_labels": dict(state.group_labels),
            },
        )
        if bound is not None:
            incident.service, incident.binding = bound.service, bound.binding
            incident.business_services = list(bound.business_services)
        state.incident = incident
        self.decision.opened.append(incident.id)
        self.note(incident, "created", f"opened by {describe(alert.labels)}", now, alert.fingerprint)
        window = self.ctx.annotate(alert.labels) if self.ctx.annotate is not None else ""
        if window:
            self.note(incident, "change_window", f"opened during change window {window} (annotate)", now)
        self.decision.events.append(Event("incident.created", incident.id, "opened", now))
        if self.ctx.problems is not None:
            for rule_name, signature in self.ctx.problems(alert.labels):
                self.decision.recurrences.append(Recurrence(rule_name, signature, incident.id, now, incident.title))
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
        if self.ctx.priority is not None:
            priority = self.ctx.priority(alert.labels)
            if priority and priority_rank(priority) < priority_rank(incident.priority):
                if incident.priority and incident.id not in self.decision.opened:
                    self.note(incident, "priority", f"priority raised {incident.priority} -> {priority}", now,
                              alert.fingerprint)
                incident.priority = priority
        severity = alert.severity
        if severity_rank(severity) > severity_rank(incident.severity):
            self.note(incident, "severity", f"severity raised {incident.severity} -> {severity}", now,
                      alert.fingerprint)
            incident.severity = severity
        if incident.id not in self.decision.opened:
            verb = "joined" if new_member else "firing again"
            self.note(incident, "alert", f"{describe(alert.labels)} {verb}", now, alert.fingerprint)
            self.updated(incident, "alert added", now)

    def incident_for(self, alert: Alert, now: float) -> Incident | None:
        """The group's open incident; else a new one, unless the rule's threshold holds the alert back (None)."""
        state = self.state
        current = state.incident
        if current is not None and current.is_open:
            window = state.route.window if state.route is not None else None
            if window is None or now - current.created_at <= window:
                return current
            # the window ran out: the incident keeps its alerts until they resolve, new alerts open another
            state.older[current.id] = current
            self.note(current, "window", f"the rule's {window:g}s window closed: new alerts open a new incident",
                      now)
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
            self.touch(member)
            member.incident = incident.id
            member.muted = ""
            incident.alerts += 1
            incident.firing += 1
            incident.occurrences += member.count
            self.decision.new_members.setdefault(incident.id, []).append(fp)
            self.note(incident, "alert", f"{describe(member.labels)} joined (held until the threshold)", now, fp)
        return incident

    def place(self, alert: Alert, current: AlertState, now: float, *, fresh: bool) -> None:
        """Where a firing alert not counted in an open incident goes: muted, a symptom, waiting for a cause,
        held by the threshold, or into the group's incident. ``fresh``: a new firing episode."""
        stats = self.decision.stats
        ctx = self.ctx
        fp = current.fingerprint
        previous_incident = current.incident
        if fresh:
            current.incident = ""  # kept out of incidents this episode, unless it reaches the end below
        current.cause = ""
        mute = ctx.muted(alert.labels) if ctx.muted is not None else ""
        if mute:
            stats.muted += 1
            if self.notifications:
                key = self.muted_as(alert, mute)
                self.decision.mutes[key] = self.decision.mutes.get(key, 0) + 1
                self.decision.muted_at = now
            open_incident = self.state.incident
            if open_incident is not None and open_incident.is_open and (fresh or current.muted != mute):
                # recorded where people look: the group's open incident says what was kept out of it, and why
                self.note(open_incident, "muted", f"{describe(alert.labels)} not added: muted by {mute}", now, fp)
            armed = current.hold_until if current.muted == mute else None
            current.muted, current.hold_until = mute, None
            until = ctx.mute_until(mute) if ctx.mute_until is not None and mute.startswith(CHANGE_REASON) else None
            if until is not None:  # a change window: placed again when it ends, so it pages then if still firing
                current.hold_until = until
                if until != armed:
                    self.decision.timers.append((hold_timer(self.state.group_id, fp), until))
            return
        cause = ctx.cause(alert.labels, fp, now, alert.starts_at) if ctx.cause is not None else None
        if cause is not None:
            stats.symptoms += 1
            was, armed = current.muted, current.hold_until if current.muted.startswith(SYMPTOM) else None
            current.muted, current.cause, current.hold_until = cause.reason, cause.incident, cause.until
            if cause.until is not None and cause.until != armed:
                # its cause has recovered: when the grace runs out, look again (a symptom still firing then pages)
                self.decision.timers.append((hold_timer(self.state.group_id, fp), cause.until))
            if fresh or was != cause.reason:
                self.decision.symptoms.append(Symptom(cause.incident, self.state.group_id, fp, dict(alert.labels),
                                                      cause.kind, cause.rule, cause.path, now,
                                                      evidence=cause.evidence))
            current.incident = ""
            return
        hold = ctx.hold(alert.labels) if ctx.hold is not None else 0.0
        if hold > 0:
            until = current.hold_until if current.muted.startswith(WAITING) else (now + hold if fresh else None)
            if until is not None and now < until:
                stats.waiting += 1
                if current.hold_until != until:
                    self.decision.timers.append((hold_timer(self.state.group_id, fp), until))
                current.muted, current.hold_until = f"{WAITING}{hold:g}s", until
                return
        current.hold_until = None
        incident = self.incident_for(alert, now)
        if incident is None:
            stats.held += 1
            current.muted = HELD
            return
        new_member = previous_incident != incident.id
        current.incident, current.muted = incident.id, ""
        self.attach(incident, alert, now, new_member=new_member)
        if current.flapping and new_member:
            incident.flapping += 1

    def member_resolved(self, incident: Incident, alert: AlertState, now: float, how: str = "resolved") -> None:
        """A counted member of an open incident stopped firing (``how``: "resolved", or why it expired)."""
        state = self.state
        incident.firing = max(0, incident.firing - 1)
        incident.updated_at = now
        self.note(incident, "alert", f"{describe(alert.labels)} {how}", now, alert.fingerprint)
        mode = state.route.auto_resolve if state.route is not None else "all_resolved"
        if incident.firing == 0 and mode == "after_hold":
            incident.resolve_at = now + state.route.resolve_hold
            self.note(incident, "alert", f"all alerts resolved; resolves in {state.route.resolve_hold:g}s "
                                         "unless one fires again", now)
            self.decision.timers.append((incident.id, incident.resolve_at))
            self.updated(incident, "all alerts resolved, resolution held", now)
        elif incident.firing == 0 and mode == "manual":
            self.note(incident, "alert", "all alerts resolved; the rule resolves this incident manually", now)
            self.updated(incident, "all alerts resolved, manual resolution", now)
        elif incident.firing == 0:
            self.resolve(incident, "all alerts resolved", now)
        else:
            self.updated(incident, "alert resolved", now)

    def resolve(self, incident: Incident, why: str, now: float) -> None:
        incident.status = "resolved"
        incident.resolved_at = now
        incident.resolve_at = None
        incident.updated_at = now
        self.note(incident, "resolved", why, now)
        self.decision.resolved.append(incident.id)
        self.decision.events.append(Event("incident.resolved", incident.id, why, now))

    # -- the end --------------------------------------------------------------------------------

    def finish(self) -> Decision:
        d = self.decision
        d.pending = dict(self.state.pending)
        for iid in [i for i, inc in self.state.older.items() if not inc.is_open]:
            del self.state.older[iid]
        d.older = sorted(self.state.older)
        d.seq = self.state.seq
        d.current_incident = self.state.incident.id if self.state.incident else ""
        for alert in d.alerts.values():
            alert.rev += 1
        feeds, merge_keys = self.ctx.feeds, self.ctx.merge_keys
        if feeds is not None or merge_keys is not None:
            for fp, (before, was_symptom_of) in self._before.items():
                alert = d.alerts[fp]
                after = source_activity(alert)
                if merge_keys is not None:  # a member a late source may explain (its incident may merge), or a
                    cause = symptom_of(alert)  # symptom a better cause may take (candidate_activity)
                    if after != before or cause != was_symptom_of:
                        candidate = f"{SYMPTOM_CANDIDATE}{self.state.group_id}:{cause}" if cause else after
                        d.candidates += [(key, fp, alert.rev, candidate) for key in merge_keys(alert.labels)]
                if feeds is not None and after != before:
                    # a source that stops keeps its incident, stamped with when: it explains for the recovery grace;
                    # each entry carries its evidence (severity, start) for the topology's choice of a root
                    tail = Entry(alert.rev, after or before, None if after else self.now,
                                 severity_rank(normalise_severity(alert.labels.get("severity"))),
                                 alert.starts_at).tail()
                    d.sources += [(key, fp, alert.rev, tail) for key in feeds(alert.labels)]
        for event in d.events:
            event.incident = d.incidents[event.incident_id].public()
        return d
