"""The correlation engine: group state + alerts + now in, decisions out. No I/O, no clock.

Alerts that share the values of their group rule's ``group_by`` labels belong to one group, and a group has
at most one open incident. Lifecycle:

* a firing alert new to the group (or firing again after resolving) joins the group's open incident,
  opening a new one when there is none, unless something keeps it out (``lifecycle.DecisionBuilder.place``):
  a silence or maintenance window (muted), an active cause elsewhere (a symptom: inhibition or topology,
  attached to the cause's incident), a hold while it waits for such a cause, or the rule's threshold;
* a cause that resolved stays active for its rule's ``recovery_grace``: a symptom repeating (or a new one firing)
  meanwhile stays a symptom of the cause's incident, so a recovery pages nobody; a symptom of a recovered cause
  is looked at again when the grace runs out (its ``h|`` timer) and, still firing with no cause, pages on its own;
* a cause that fires after its symptoms opened an incident of their own merges that incident into its own, when it
  explains every alert still firing there (``correlation.core.merging``; the rule's ``merge_late_symptoms``);
* a repeat of an alert in the same status is a duplicate: counted, never a new incident;
* an alert that resolves lowers its incident's firing count; at zero the incident resolves (or holds, or
  waits for a person, per the rule's ``auto_resolve``);
* a flapping alert (more than K status changes within T, per a flapping rule) stays counted as firing: its
  resolutions do not resolve the incident until it has been quiet for the rule's quiet period;
* a notification older than what the store already holds is stale and ignored: a different status
  with an earlier ``starts_at``, or a firing copy of an episode that has already resolved (same
  ``starts_at``); a genuine re-fire starts a new episode with a later ``starts_at``. So out-of-order and
  late delivery cannot reopen anything;
* under a rule with ``resolve_timeout``, a firing alert that is not notified again for that long expires: it
  resolves as if a resolve had arrived (its expiry timer is armed once per alert and re-armed lazily when it
  falls due, so repeats cost no extra write). Expiry is a guess, so a firing copy of the expired episode
  is not stale: it fires the alert again.

``decide`` advances the given ``GroupState`` in place (so several messages for one group can be decided
in sequence inside one batch) and returns a ``Decision`` listing exactly what changed. ``decide_timer``
does the same when one of the group's timers falls due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rules.alert import Alert

from correlation.core.decision import (
    Context, Decision, Event, MutedBy, PriorityOf, Stats, Symptom, expiry_timer, parse_timer, quiet_timer,
)
from correlation.core.change_windows import CHANGE_REASON
from correlation.core.lifecycle import HELD, SYMPTOM, WAITING, DecisionBuilder, as_alert, describe
from correlation.core.merging import decide_merge
from correlation.core.model import AlertState, GroupState, Incident

__all__ = ["Context", "Decision", "Event", "HELD", "Stats", "Symptom", "decide", "decide_timer"]


def _context(priority: PriorityOf | None, muted: MutedBy | None, context: Context | None) -> Context:
    base = context or Context()
    if priority is None and muted is None:
        return base
    return replace(base, priority=priority or base.priority, muted=muted or base.muted)


def decide(
    state: GroupState,
    alerts: Sequence[Alert],
    now: float,
    priority: PriorityOf | None = None,
    muted: MutedBy | None = None,
    context: Context | None = None,
) -> Decision:
    """Apply ``alerts`` (all of this group, in arrival order) to ``state`` at time ``now``.

    ``priority`` maps an alert's labels to its ITIL priority (P1..P5, or "" for none) under the group's rule;
    an incident takes the most urgent priority of the alerts that joined it. ``muted`` names what mutes a label
    set ("silence:<id>", "maintenance:<name>", or "" when nothing does): a muted firing alert that is not already
    part of an open incident is recorded and counted but opens and joins nothing. ``context`` carries the rest
    of the rule set (causes, holds, flapping, problems).
    """
    b = DecisionBuilder(state, _context(priority, muted, context), now)
    stats = b.decision.stats
    timeout = state.route.resolve_timeout if state.route is not None else 0.0
    for alert in alerts:
        fp = alert.fingerprint
        prev = state.alerts.get(fp)
        if prev is None:
            if alert.status == "resolved":
                stats.resolved_unknown += 1
                continue
            stats.new += 1
            current = AlertState(
                fingerprint=fp, labels=dict(alert.labels), annotations=dict(alert.annotations), status="firing",
                starts_at=alert.starts_at, ends_at=alert.ends_at, first_seen=now, last_seen=now, count=1,
                incident="", source=alert.source, generator_url=alert.generator_url,
            )
            state.alerts[fp] = current
            b.touch(current, new=True)
            if timeout:
                _arm_expiry(b, current, timeout)
            b.place(alert, current, now, fresh=True)
            continue

        if alert.status != prev.status and (
            alert.starts_at < prev.starts_at
            or (alert.status == "firing" and alert.starts_at <= prev.starts_at and not prev.expired)
        ):
            # older than what we hold, or a late copy of the firing episode that has already resolved
            # (a genuine re-fire starts a new episode with a later starts_at)
            stats.stale += 1
            continue

        b.touch(prev)
        prev.count += 1
        prev.last_seen = now
        prev.annotations = dict(alert.annotations)
        prev.ends_at = alert.ends_at
        attached = b.attached(prev)
        if timeout and alert.status == "firing" and prev.expires_at is None:
            _arm_expiry(b, prev, timeout)

        if alert.status == prev.status:
            stats.duplicates += 1
            if alert.status == "firing" and prev.muted:
                # muted, waiting, held or a symptom, repeating: still so, or now opens or joins an incident
                b.place(alert, prev, now, fresh=False)
            elif attached is not None and alert.status == "firing":
                attached.occurrences += 1
                attached.updated_at = now
                b.decision.incidents[attached.id] = attached
            continue

        stats.changed += 1
        _track_flapping(b, prev, attached, now)
        prev.status = alert.status
        prev.starts_at = max(prev.starts_at, alert.starts_at)
        prev.expired = False
        if alert.status == "resolved":
            _resolved(b, prev, attached, now)
            continue

        # resolved -> firing
        if attached is not None and prev.flapping:
            attached.occurrences += 1  # a flapping member never stopped counting
            attached.updated_at = now
            b.decision.incidents[attached.id] = attached
            continue
        b.place(alert, prev, now, fresh=True)
    return b.finish()


def _arm_expiry(b: DecisionBuilder, alert: AlertState, timeout: float) -> None:
    alert.expires_at = alert.last_seen + timeout
    b.decision.timers.append((expiry_timer(b.state.group_id, alert.fingerprint), alert.expires_at))


def _resolved(b: DecisionBuilder, alert: AlertState, attached: Incident | None, now: float,
              how: str = "resolved") -> None:
    """The alert (already marked resolved) stops counting: its incident's firing count drops."""
    b.state.pending.pop(alert.fingerprint, None)
    alert.muted, alert.cause, alert.hold_until = "", "", None
    if attached is not None:
        if alert.flapping:
            b.decision.stats.flaps += 1  # stays counted as firing: the incident neither resolves nor reopens
        else:
            b.member_resolved(attached, alert, now, how)


def _track_flapping(b: DecisionBuilder, alert: AlertState, attached: Incident | None, now: float) -> None:
    """Record a status change; mark the alert flapping past the rule's limit and (re)start its quiet timer."""
    rule = b.ctx.flap_rule(alert.labels) if b.ctx.flap_rule is not None else None
    if rule is None:
        return
    alert.changes = [t for t in alert.changes if now - t <= rule.within] + [now]
    if not alert.flapping and len(alert.changes) > rule.changes:
        alert.flapping = True
        if attached is not None:
            attached.flapping += 1
            b.note(attached, "flapping", f"{describe(alert.labels)} is flapping ({len(alert.changes)} changes in "
                                         f"{rule.within:g}s, rule {rule.name}): the incident stays open until it "
                                         f"has been quiet for {rule.quiet:g}s", now, alert.fingerprint)
            b.updated(attached, "alert flapping", now)
    if alert.flapping:
        b.decision.timers.append((quiet_timer(b.state.group_id, alert.fingerprint), now + rule.quiet))


def decide_timer(state: GroupState, member: str, now: float, context: Context | None = None) -> Decision:
    """One of the group's timers falls due (``member`` as in ``Decision.timers``); acts only if still due."""
    b = DecisionBuilder(state, context or Context(), now)
    b.notifications = False  # an alert placed again here was not notified: no mute is counted
    kind, _, arg = parse_timer(member)
    if kind == "resolve":
        incident = state.open_incident(arg)
        if (incident is not None and incident.firing == 0
                and incident.resolve_at is not None and now >= incident.resolve_at):
            b.resolve(incident, "all alerts stayed resolved for the hold", now)
        return b.finish()
    if kind == "merge":  # a late cause may now explain every alert of this incident
        decide_merge(b, arg, now)
        return b.finish()
    alert = state.alerts.get(arg)
    if alert is None:
        return b.finish()
    if kind == "expire":
        _expire(b, alert, member, now)
        return b.finish()
    if kind == "hold":  # a hold for a cause or a change window ran out, or a symptom is looked at again: place it
        if alert.status == "firing" and alert.muted.startswith(SYMPTOM):
            # its recovered cause's grace ran out, or a source fired that may explain it better (merging.to_replace)
            b.touch(alert)
            alert.hold_until = None  # armed again by place() while its cause is a recovered one
            b.place(as_alert(alert, now), alert, now, fresh=False)
        elif alert.status == "firing" and alert.muted.startswith((WAITING, CHANGE_REASON)) \
                and alert.hold_until is not None \
                and now >= alert.hold_until:
            b.touch(alert)
            b.place(as_alert(alert, now), alert, now, fresh=False)
        return b.finish()
    # quiet: a flapping alert that has not changed for the quiet period stops flapping
    rule = b.ctx.flap_rule(alert.labels) if b.ctx.flap_rule is not None else None
    quiet = rule.quiet if rule is not None else 0.0
    if alert.flapping and (not alert.changes or now >= alert.changes[-1] + quiet):
        b.touch(alert)
        alert.flapping = False
        alert.changes = []
        attached = b.attached(alert)
        if attached is not None:
            attached.flapping = max(0, attached.flapping - 1)
            b.note(attached, "flapping", f"{describe(alert.labels)} stopped flapping", now, alert.fingerprint)
            if alert.status == "resolved":
                b.member_resolved(attached, alert, now)
            else:
                b.updated(attached, "alert stopped flapping", now)
    return b.finish()



def _expire(b: DecisionBuilder, alert: AlertState, member: str, now: float) -> None:
    """A firing alert's expiry timer fell due: resolve it if it was not notified again for the rule's
    resolve_timeout, else arm the timer again for the new due time."""
    route = b.state.route
    timeout = route.resolve_timeout if route is not None else 0.0
    if alert.status != "firing" or not timeout:
        if alert.expires_at is not None:  # resolved meanwhile, or the rule dropped the timeout: disarmed
            b.touch(alert)
            alert.expires_at = None
        return
    b.touch(alert)
    due = alert.last_seen + timeout
    if now < due:  # notified since it was armed
        alert.expires_at = due
        b.decision.timers.append((member, due))
        return
    attached = b.attached(alert)
    b.decision.stats.changed += 1
    _track_flapping(b, alert, attached, now)
    alert.status, alert.ends_at, alert.expires_at, alert.expired = "resolved", due, None, True
    _resolved(b, alert, attached, now, f"expired (not notified for {timeout:g}s)")


def decide_manual_resolve(state: GroupState, incident_id: str, now: float, who: str) -> Decision:
    """A person resolves the group's open incident (rules with ``auto_resolve: manual`` wait for this)."""
    b = DecisionBuilder(state, Context(), now)
    incident = state.open_incident(incident_id)
    if incident is not None:
        b.resolve(incident, f"resolved by {who}", now)
    return b.finish()
