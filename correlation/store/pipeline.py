"""The correlation stage: a batch of deliveries in, state written and events published out.

One ``submit`` call costs a fixed number of Redis round trips whatever the batch holds: one pipeline of
group reads, one pipeline of compare-and-set writes (repeated only for groups another worker changed
in between), one pipeline of index updates, then the incident events with publisher confirms. When
``submit`` returns, every alert in the batch is durable in Redis, so the caller may ack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from events.publisher import EventPublisher
from kv.due import Due
from rules.alert import Alert

from correlation.core.causes import Causes, lookup_keys
from correlation.core.decision import parse_timer
from correlation.core.engine import decide, decide_timer
from correlation.core.repeats import recognise_repeats
from correlation.core.change_windows import ChangeWindow, WindowMuter
from correlation.store.change_windows import ChangeWindowStore
from correlation.store.changes import ChangeStore
from correlation.store.declared_incidents import OpenDeclared
from correlation.store.links import Links
from correlation.core.muting import Muter, change_windows_at
from correlation.core.routing import Group, Router
from correlation.store.silences import SilenceStore
from correlation.store.store import ClaimedTimer, FollowUps, GroupWrite, IncidentStore, RepeatWrite

MAX_ROUNDS = 64
#: formats whose fingerprint is the sender's own key (PagerDuty's dedup_key), not derived from labels: a
#: resolve or acknowledge event may carry other labels than its trigger (or none), so their group is remembered
#: by fingerprint in Redis at the trigger. Decided by the message's format, not the alert's source: an event that
#: came in through an integration key carries the integration's source ("payments-app"), and is keyed the same.
SENDER_KEYED_FORMATS = frozenset({"pagerduty"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """The valid alerts of one message, under the message's idempotency id, and the format they came in."""

    message_id: str
    alerts: Sequence[Alert]
    format: str = ""

    @property
    def sender_keyed(self) -> bool:
        return self.format in SENDER_KEYED_FORMATS


@dataclass(slots=True)
class BatchReport:
    alerts: int = 0
    new: int = 0
    duplicates: int = 0
    changed: int = 0
    stale: int = 0
    resolved_unknown: int = 0
    muted: int = 0  # firing notifications kept out of incidents by a silence or maintenance window
    held: int = 0  # firing notifications held back until their group rule's threshold is met
    symptoms: int = 0  # firing notifications attached to another alert's incident (inhibition, topology)
    waiting: int = 0  # firing notifications waiting (hold) for a cause that may explain them
    flaps: int = 0  # resolutions of flapping alerts that resolved nothing
    replayed: int = 0  # (message, group) writes already applied by an earlier delivery
    fast_repeats: int = 0  # of the duplicates: written by the repeat fast path (correlation.core.repeats)
    conflicts: int = 0
    opened: list[str] = field(default_factory=list)
    opened_priorities: dict[str, int] = field(default_factory=dict)  # incidents opened, by priority ("none": unset)
    resolved: list[str] = field(default_factory=list)
    events: int = 0
    open_incidents: int = 0
    problems: list[str] = field(default_factory=list)  # problems opened or extended


class ConflictStorm(RuntimeError):
    """Groups kept changing under this worker for MAX_ROUNDS rounds; the batch is retried later."""


class CorrelationPipeline:
    def __init__(
        self,
        store: IncidentStore,
        router: Router,
        publisher: EventPublisher,
        clock: Callable[[], float],
        silences: SilenceStore | None = None,
        changes: ChangeStore | None = None,
        windows: ChangeWindowStore | None = None,
    ) -> None:
        self.windows = windows  # change windows: read with the silences (silences needed)
        self.store = store
        self.changes = changes  # probable cause: recent changes linked to the incidents a batch opens
        self.silences = silences
        self.router = router
        self.publisher = publisher
        self.clock = clock
        self.links = Links(store.redis, store.keys, timeline_max=store.timeline_max)
        self.declared = OpenDeclared(store.redis, store.keys)  # for group rules with join_declared

    async def open_declared(self, router: Router, routed: Sequence[tuple[Any, Sequence[Mapping[str, str]]]]
                            ) -> dict[str, str]:
        """The open declared incidents (service -> id) the firing alerts of routes with ``join_declared`` (or targets of
        inhibit rules with it) may join:
        ``routed`` is (route, label sets). One round trip, none when no route joins."""
        if not router.joins_declared:
            return {}
        services = {service for route, label_sets in routed if route is not None
                    for labels in label_sets for service, _ in router.join_targets(route, labels)}
        return await self.declared.read(services)

    async def _mutes(self) -> tuple[list[Any], list[ChangeWindow]]:
        """The silences and the change windows (one round trip)."""
        if self.silences is None:
            return [], []
        if self.windows is None:
            return await self.silences.all(), []
        return await self.windows.with_silences(self.silences)

    async def submit(self, deliveries: Sequence[Delivery]) -> BatchReport:
        report = BatchReport()
        router = self.router  # one rule set for the whole batch, even if a reload swaps it meanwhile
        # (message id, group id, alerts) in arrival order; groups keep per-message order
        pending: list[tuple[str, str, list[Alert]]] = []
        groups = {}
        keyed = sorted({a.fingerprint for d in deliveries if d.sender_keyed for a in d.alerts})
        known = await self.store.sender_key_groups(keyed)
        remember: dict[str, dict[str, str]] = {}
        enrich, placed = router.enrich, router.placed
        seen_ids: set[str] = set()
        for delivery in deliveries:
            if delivery.message_id in seen_ids:
                # the same message twice in one batch (a publisher's retry, a replayed signed request): the markers
                # are checked before either is written, so drop the repeat here; it is acked with the batch
                report.replayed += 1
                continue
            seen_ids.add(delivery.message_id)
            in_message: dict[str, list[Alert]] = {}
            sender_keyed = delivery.sender_keyed
            for alert in delivery.alerts:
                if not sender_keyed:
                    alert, group = placed(alert)  # enriched and grouped: one memo entry per label set
                else:
                    if enrich:
                        alert = enrich(alert)
                    labels = known.get(alert.fingerprint)
                    if labels is not None:
                        group = router(labels)
                    else:
                        group = router(alert.labels)
                        if alert.status == "firing":
                            remember[alert.fingerprint] = dict(alert.labels)
                groups[group.id] = group
                in_message.setdefault(group.id, []).append(alert)
                report.alerts += 1
            pending += [(delivery.message_id, gid, alerts) for gid, alerts in in_message.items()]

        await self.store.remember_sender_keys(remember)  # before the state write: a crash leaves no orphan
        silences, windows = await self._mutes()
        now = self.clock()
        muter = Muter(silences, router.maintenance, now, _window_muter(windows, now, router))
        muted = muter if muter else None
        # group id -> [(message id, alerts)] in arrival order
        by_group: dict[str, list[tuple[str, list[Alert]]]] = {}
        for message_id, gid, alerts in pending:
            by_group.setdefault(gid, []).append((message_id, alerts))
        declared = await self.open_declared(router, [
            (groups[gid].route, [a.labels for _, alerts in items for a in alerts if a.status == "firing"])
            for gid, items in by_group.items()])
        batch = dict(by_group)
        # the causes that may explain the firing alerts (as enriched: enrichment may add the labels causes key on),
        # read for the groups the engine decides: a group of pure repeats needs none
        causes: Causes | None = None
        looked_up: set[str] = set()
        follow_ups: list[FollowUps] = []
        for _ in range(MAX_ROUNDS):
            if not by_group:
                break
            wanted = {gid: (groups[gid], {a.fingerprint for _, alerts in items for a in alerts})
                      for gid, items in by_group.items()}
            reads = await self.store.read_groups(wanted)
            now = self.clock()
            writes: list[GroupWrite] = []
            decided: list[str] = []
            for gid, items in by_group.items():
                read = reads[gid]
                repeats = recognise_repeats(read.state, read.rows, [alerts for _, alerts in items], now)
                if repeats is not None:  # nothing but last-seen and count changes: no decision to build
                    writes.append((gid, read.state.version, RepeatWrite([mid for mid, _ in items], repeats)))
                else:
                    decided.append(gid)
            if router.causes and not looked_up.issuperset(decided):
                looked_up.update(decided)
                firing = [a.labels for gid in looked_up for _, alerts in batch[gid] for a in alerts
                          if a.status == "firing"]
                causes = Causes(router.causes, await self.links.read_causes(lookup_keys(router.causes, firing)))
            for gid in decided:
                state = reads[gid].materialise()
                context = router.context(groups[gid].route, muted, causes, declared)
                writes.append((gid, state.version,
                               [(mid, decide(state, alerts, now, context=context)) for mid, alerts in by_group[gid]]))
            results = await self.store.apply(writes)
            retry: dict[str, list[tuple[str, list[Alert]]]] = {}
            for (gid, _, decisions), applied in zip(writes, results, strict=True):
                if isinstance(decisions, RepeatWrite) and applied.status == "ok":
                    report.duplicates += decisions.repeats.duplicates
                    report.fast_repeats += decisions.repeats.duplicates
                elif applied.status == "conflict":
                    report.conflicts += 1
                    retry[gid] = by_group[gid]
                elif applied.status == "dup":
                    # some messages were applied by an earlier delivery: redo their follow-ups (idempotent),
                    # decide the others again on fresh state
                    # (the earlier delivery was never acked, so whoever applied it never reported it: count its
                    # incidents opened and resolved now; its per-alert statistics are not kept)
                    report.replayed += len(applied.replayed)
                    for follow in applied.replayed.values():
                        follow_ups.append(follow)
                        report.opened += [iid for iid, _ in follow.opened]
                        report.resolved += follow.resolved
                    rest = [item for i, item in enumerate(by_group[gid]) if i not in applied.replayed]
                    if rest:
                        retry[gid] = rest
                else:
                    assert not isinstance(decisions, RepeatWrite)
                    follow_ups += applied.follow_ups
                    for (_, decision), follow in zip(decisions, applied.follow_ups, strict=True):
                        s = decision.stats
                        report.new += s.new
                        report.duplicates += s.duplicates
                        report.changed += s.changed
                        report.stale += s.stale
                        report.resolved_unknown += s.resolved_unknown
                        report.muted += s.muted
                        report.held += s.held
                        report.symptoms += s.symptoms
                        report.waiting += s.waiting
                        report.flaps += s.flaps
                        report.opened += [iid for iid, _ in follow.opened]
                        report.resolved += follow.resolved
            by_group = retry
        else:
            if by_group:
                raise ConflictStorm(f"{len(by_group)} group writes still conflicting after {MAX_ROUNDS} rounds")

        report.open_incidents = await self.store.index(follow_ups)
        attached: list[dict[str, Any]] = []  # symptoms attached: their services' changes are linked below
        problem_events = await self.links.apply(follow_ups, router, self.clock(), attached)
        report.problems = [e["problem"]["id"] for e in problem_events]
        events = coalesce_events([e for f in follow_ups for e in f.events]) + problem_events
        for event in events:
            if event["type"] == "incident.created":
                priority = (event.get("incident") or {}).get("priority") or "none"
                report.opened_priorities[priority] = report.opened_priorities.get(priority, 0) + 1
        if self.changes is not None:
            events += await link_changes(self.changes, events, attached, router, self.clock())
        if events:
            await self.publisher.publish_events(events)
        report.events = len(events)
        return report


async def link_changes(changes: ChangeStore, events: list[dict[str, Any]], attached: list[dict[str, Any]],
                       router: Router, now: float) -> list[dict[str, Any]]:
    """Probable causes after a round's writes: recent changes linked to the incidents it opened (their
    ``incident.created`` events gain ``changes``) and to the incidents symptoms were attached to (on the symptoms'
    services); returns the ``incident.updated`` events of the latter."""
    opened = [e["incident"]["id"] for e in events if e["type"] == "incident.created"]
    if opened:
        await changes.link_opened(events, router.catalog, now, attached)
    return await changes.link_symptoms(attached, router.catalog, now, skip=opened) if attached else []


def _window_muter(stored: list[ChangeWindow], now: float, router: Router) -> WindowMuter | None:
    windows = change_windows_at(stored, router.change_windows, now)
    if not windows:
        return None
    catalog = router.catalog

    def service_of(labels: Mapping[str, str]) -> str:
        bound = catalog.bind(labels)
        return bound.service if bound is not None else ""

    return WindowMuter(windows, now, service_of)


def coalesce_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep every created and resolved event, but only the latest ``incident.updated`` per incident.

    In a storm an incident grows with every message; subscribers want its state, not one event per alert.
    """
    last_update: dict[str, int] = {}
    for i, e in enumerate(events):
        if e["type"] == "incident.updated":
            last_update[e["incident"]["id"]] = i
    return [e for i, e in enumerate(events) if e["type"] != "incident.updated" or last_update[e["incident"]["id"]] == i]


def _timer_alerts(member: str, incident_members: Mapping[str, Sequence[str]]) -> Sequence[str]:
    """The alerts a timer decides on: none for a held resolution, an incident's members for a merge, else its own."""
    kind, _, arg = parse_timer(member)
    if kind == "resolve":
        return ()
    return incident_members.get(arg, ()) if kind == "merge" else (arg,)


class TimerFiring:
    """The handler of correlation's timer kinds (``TIMER_KINDS``: held resolutions, holds for a cause, flap quiet
    periods, alert expiry, a late cause's merge) on the due-time service (``kv.due``), which hands each due timer to
    one worker at a time. Each timer is written under its claim's attempt (``ClaimedTimer``), so a worker that died
    after a timer's write but before its follow-ups is recovered by the next claimer.

    One call costs a fixed number of round trips however many timers fell due, as ``submit`` does for a batch: the
    claimed timers are grouped by their group, each group is read once and decided once per timer in due order, and
    every group's write goes in one pipeline (repeated only for the groups another worker changed meanwhile)."""

    def __init__(self, pipeline: CorrelationPipeline, on_fired: Callable[[int, int], None] | None = None) -> None:
        self.pipeline = pipeline
        self.on_fired = on_fired  # told how many incidents a call resolved, and how many of them it merged

    async def fire(self, due: Sequence[Due], now: float) -> list[Due]:
        """Fire claimed timers; returns those fired (what stayed contended is left claimed: its lease runs out and
        it is claimed again)."""
        p = self.pipeline
        by_group: dict[str, list[ClaimedTimer]] = {}
        for timer in due:
            by_group.setdefault(parse_timer(timer.key)[1], []).append(ClaimedTimer(timer))
        follow_ups, fired = await self._fire(by_group, now)
        if follow_ups:
            await p.store.index(follow_ups)
            events = [e for f in follow_ups for e in f.events]
            attached: list[dict[str, Any]] = []
            events += await p.links.apply(follow_ups, p.router, now, attached)
            if p.changes is not None:
                events += await link_changes(p.changes, events, attached, p.router, now)
            if events:
                await p.publisher.publish_events(events)
        resolved = sum(len(f.resolved) for f in follow_ups)
        merged = sum(e["type"] == "incident.merged" for f in follow_ups for e in f.events)
        if resolved and self.on_fired is not None:
            self.on_fired(resolved, merged)
        return [c.due for c in fired]

    async def _fire(self, by_group: dict[str, list[ClaimedTimer]], now: float
                    ) -> tuple[list[FollowUps], list[ClaimedTimer]]:
        p = self.pipeline
        follow_ups: list[FollowUps] = []
        fired: list[ClaimedTimer] = []
        pending = by_group
        for _ in range(MAX_ROUNDS):
            if not pending:
                break
            # a merge timer decides on every member of its incident: read the member sets first
            members = await p.store.incident_members(sorted(
                {parse_timer(c.member)[2] for items in pending.values() for c in items if c.member.startswith("m|")}))
            wanted = {gid: (Group(gid, "", {}), {fp for c in items for fp in _timer_alerts(c.member, members)})
                      for gid, items in pending.items()}
            states = await p.store.load_groups(wanted)
            writes = []
            for gid, items in pending.items():
                state = states[gid]
                state.incident_members = {iid: frozenset(fps) for iid, fps in members.items()
                                          if iid.startswith(f"INC-{gid}-")}
                context = await self._context(state, [c.member for c in items], now)
                writes.append((gid, state.version, [(c.message_id, decide_timer(state, c.member, now, context))
                                                    for c in items]))
            retry: dict[str, list[ClaimedTimer]] = {}
            for (gid, _, _), applied in zip(writes, await p.store.apply(writes), strict=True):
                items = pending[gid]
                if applied.status == "ok":
                    follow_ups += applied.follow_ups
                    fired += items
                elif applied.status == "dup":
                    # written before under this attempt (a worker that died after its write, before completing the
                    # timer): its follow-ups are replayed; then the timer is decided again under our own lease
                    # (decide_timer acts only on what is still due, so this changes nothing unless it was rescheduled)
                    follow_ups += list(applied.replayed.values())
                    again = [items[i]._replace(replayed=True) for i in applied.replayed
                             if items[i].due.retried and not items[i].replayed]
                    fired += [items[i] for i in applied.replayed if not items[i].due.retried or items[i].replayed]
                    rest = [item for i, item in enumerate(items) if i not in applied.replayed] + again
                    if rest:
                        retry[gid] = rest
                else:
                    retry[gid] = items
            pending = retry
        return follow_ups, fired

    async def _context(self, state: Any, members: list[str], now: float) -> Any:
        """The rule set's say on this group's timers: its route; causes and mutes when a hold is among them."""
        p = self.pipeline
        router = p.router
        pairs = [(m, state.alerts.get(parse_timer(m)[2])) for m in members if not m.startswith("INC-")]
        merging = {parse_timer(m)[2] for m in members if m.startswith("m|")}
        merged = [a for a in state.alerts.values() if a.incident and a.incident in merging]
        alerts = [a for _, a in pairs if a is not None] + merged
        if alerts:
            group = router(alerts[0].labels)
            state.route = group.route
            if group.id == state.group_id:  # an incident a timer opens (a hold ran out) is titled by its group
                state.group_key, state.group_labels = group.key, group.labels
        if state.route is None:
            return None
        holds = [a for m, a in pairs if a is not None and m.startswith("h|")]
        causes = None
        if (holds or merged) and router.causes:
            keys = lookup_keys(router.causes, [a.labels for a in holds + merged])
            causes = Causes(router.causes, await p.links.read_causes(keys))
        silences, windows = await p._mutes() if holds else ([], [])
        muter = Muter(silences, router.maintenance, now, _window_muter(windows, now, router))
        declared = await p.open_declared(router, [(state.route, [a.labels for a in holds])]) if holds else {}
        return router.context(state.route, muter if muter else None, causes, declared)
