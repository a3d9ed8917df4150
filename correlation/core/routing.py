"""Which group rule an alert falls under, and which group of that rule: pure, no I/O.

A ``Router`` is built from one rule set and swapped whole on reload; it also carries that set's maintenance
windows and enrichment, so one batch sees one consistent rule set.

Group rules are tried in rule-set order (files sorted by name, rules in file order); the first whose matchers
all match wins, as with Alertmanager routes without ``continue``. Rules are indexed by one equality matcher each
(``alertname="X"`` preferred), so an alert is tested only against the rules that can match it plus the rules
without an equality matcher, not against every rule. An alert no rule matches falls under the default rule,
grouped by the configured labels.

The group id hashes the rule name with the group label values, so two rules grouping by the same labels never
share a group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping, Sequence

from correlation.core.catalog import Catalog
from correlation.core.causes import CauseRules, Causes
from correlation.core.decision import CauseOf, Context, MutedBy
from correlation.core.declared import DeclaredJoin, Target, join_targets
from correlation.core.enrichment import Enricher
from rules.alert import normalise_severity
from rules.fingerprint import labels_to_signature
from rules.alert import Alert
from rules.matchers import Matcher, equality_index_key, matches_all, names_read
from rules.memo import MEMO_MAX_BYTES, BoundedMemo, ByLabels, approximate_size
from rules.calendar_schema import MaintenanceWindow
from rules.catalog_schema import RecurringChangeWindow
from rules.schema_types import PRIORITIES
from rules.schema import (
    DEFAULT_PRIORITIES,
    DEFAULT_TEAM,
    ITIL_MATRIX,
    FlappingRule,
    GroupRule,
    JoinDeclared,
    LevelSource,
    ProblemRule,
    RuleSet,
    SEVERITY_IMPACT_URGENCY,
    Threshold,
)

DEFAULT_RULE = "default"
ALL_LABELS = "..."


@dataclass(frozen=True, slots=True)
class Route:
    """The group rule an alert falls under."""

    rule: str
    group_by: tuple[str, ...]
    matchers: tuple[str, ...] = ()
    team: str = ""
    impact: LevelSource | None = None
    urgency: LevelSource | None = None
    threshold: Threshold | None = None
    auto_resolve: str = "all_resolved"  # all_resolved | after_hold | manual
    resolve_hold: float = 0.0  # after_hold: seconds from the last alert resolving to the incident resolving
    window: float | None = None  # new alerts join the incident only this long after it opened
    resolve_timeout: float = 0.0  # a firing alert not notified again for this long is resolved (0: never)
    join_declared: JoinDeclared | None = None  # its alerts join an incident people declared (correlation.core.declared)


@dataclass(frozen=True, slots=True)
class IncidentDefaults:
    """What an incident gets when its rule says nothing (or no rule matches): a priority from the alert's
    ``severity`` label (``rules.schema.DEFAULT_PRIORITIES``, ITIL impact x urgency) and a team. Data passed in by
    the shell (STORMWATCH_DEFAULT_PRIORITIES, STORMWATCH_DEFAULT_TEAM), never read from settings here."""

    priorities: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    team: str = DEFAULT_TEAM

    def priority(self, labels: Mapping[str, str]) -> str:
        severity = normalise_severity(labels.get("severity"))
        return self.priorities.get(severity) or self.priorities.get("none", "")


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    key: str
    labels: dict[str, str]
    route: Route = field(default=Route(DEFAULT_RULE, ("alertname", "service")))


#: what a label set means under one rule set, as ``Router.placed`` remembers it per fingerprint: (the labels as sent,
#: the enriched labels or None when enrichment adds none, the annotations enrichment adds, the group)
_Placed = tuple[Mapping[str, str], Mapping[str, str] | None, Mapping[str, str], Group]


def _placed_weight(fingerprint: str, placed: _Placed) -> int:
    """The fingerprint and the label set as sent, counted again for the enriched copy and again for the group's
    labels (at most as large, and usually shared with other label sets): one size estimate per entry."""
    sent, enriched, _, _ = placed
    return approximate_size(fingerprint) + approximate_size(sent) * (2 if enriched is None else 3)


def priority_matrix(rule_set: RuleSet | None) -> dict[str, dict[str, str]]:
    """impact -> urgency -> P1..P5: the rule set's ``priority_matrix``, ITIL's usual one without rules."""
    matrix = rule_set.priority_matrix if rule_set is not None else None
    return {impact: dict(getattr(matrix, impact)) for impact in ("high", "medium", "low")} if matrix else ITIL_MATRIX


def priority_rank(priority: str) -> int:
    """P1 -> 0 (most urgent) .. P5 -> 4; unknown or empty ranks after P5."""
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)


class Router:
    """Maps an alert's labels to (route, group), with an equality index over the rules and a bounded memo."""

    def __init__(self, rule_set: RuleSet | None, default_group_by: Sequence[str],
                 defaults: IncidentDefaults | None = None, *, memo_max_bytes: int = MEMO_MAX_BYTES) -> None:
        """``memo_max_bytes``: the estimated byte budget of each of its memos (``rules.memo``)."""
        self.default = Route(DEFAULT_RULE, tuple(default_group_by))
        self.defaults = defaults if defaults is not None else IncidentDefaults()
        self.rules: tuple[GroupRule, ...] = rule_set.groups if rule_set is not None else ()
        self.maintenance: tuple[MaintenanceWindow, ...] = rule_set.maintenance if rule_set is not None else ()
        self.change_windows: tuple[RecurringChangeWindow, ...] = rule_set.change_windows if rule_set is not None else ()
        self.enrich = Enricher(rule_set.enrichment if rule_set is not None else (), memo_max_bytes=memo_max_bytes)
        self.catalog = Catalog.from_rule_set(rule_set, memo_max_bytes=memo_max_bytes)
        # topology roll-up reads the catalog's binding of an alert (binding rules, else the service label)
        self.causes = CauseRules.from_rule_set(rule_set, memo_max_bytes=memo_max_bytes,
                                               service_of=self.catalog.service if self.catalog.bindings else None,
                                               service_reads=self.catalog.reads)
        self.flapping: tuple[FlappingRule, ...] = rule_set.flapping if rule_set is not None else ()
        self.recurrence: tuple[ProblemRule, ...] = tuple(
            p for p in (rule_set.problems if rule_set is not None else ()) if p.recurrence is not None)
        self.shared_cause: tuple[ProblemRule, ...] = tuple(
            p for p in (rule_set.problems if rule_set is not None else ()) if p.shared_root_cause)
        self.problem_rules = {p.name: p for p in (rule_set.problems if rule_set is not None else ())}
        # memoised by the labels the flapping rules read (None: no rule matches)
        self._flap_rule = ByLabels(names_read(*(r.match for r in self.flapping)), self._first_flap_rule,
                                   max_bytes=memo_max_bytes)
        self._matrix = priority_matrix(rule_set)
        self._routes = [
            Route(
                rule=r.name,
                group_by=tuple(r.group_by),
                matchers=tuple(str(m) for m in r.match),
                team=r.team or "",
                impact=r.priority.impact if r.priority else None,
                urgency=r.priority.urgency if r.priority else None,
                threshold=r.threshold,
                auto_resolve=r.auto_resolve.mode,
                resolve_hold=r.auto_resolve.hold or 0.0,
                window=r.window,
                resolve_timeout=r.resolve_timeout or 0.0,
                join_declared=r.join_declared,
            )
            for r in self.rules
        ]
        #: some group rule lets its alerts join declared incidents (a batch then reads which services have one)
        self.joins_declared = (any(route.join_declared is not None for route in self._routes)
                               or self.causes.joins_declared)
        self._indexed: dict[tuple[str, str], list[int]] = {}
        self._unindexed: list[int] = []
        for position, rule in enumerate(self.rules):
            key = equality_index_key(rule.match)
            if key is None:
                self._unindexed.append(position)
            else:
                self._indexed.setdefault(key, []).append(position)
        self._index_labels = sorted({name for name, _ in self._indexed})
        self._memo: BoundedMemo[frozenset[tuple[str, str]], Group] = BoundedMemo(max_bytes=memo_max_bytes)
        # the route of a label set depends only on the labels the group rules' matchers read
        self._route = ByLabels(names_read(*(r.match for r in self.rules)), self._first_route, max_bytes=memo_max_bytes)
        # one entry per label set for the alert path (``placed``): keyed by the short fingerprint, the weight is the
        # label sets and the group's labels the entry keeps alive
        self._placed: BoundedMemo[str, _Placed] = BoundedMemo(max_bytes=memo_max_bytes, weigh=_placed_weight)
        self._groups: BoundedMemo[tuple[str, tuple[tuple[str, str], ...]], Group] = BoundedMemo(
            max_bytes=memo_max_bytes)

    def __call__(self, labels: Mapping[str, str]) -> Group:
        memo_key = frozenset(labels.items())
        group = self._memo.get(memo_key)
        if group is None:
            group = self._group(self.route(labels), labels)
            self._memo.put(memo_key, group)
        return group

    def placed(self, alert: Alert) -> tuple[Alert, Group]:
        """``self.enrich(alert)`` and the group of the enriched labels, in one memo entry per label set (keyed by
        the alert's fingerprint; the enrichment a hit only when the labels are equal, the group by fingerprint
        alone): one lookup for a label set seen before, one entry to weigh and keep for a new one. Only for
        fingerprints derived from the labels (not a sender's own key, whose group is remembered by the store)."""
        placed = self._placed.get(alert.fingerprint)
        if placed is None or placed[0] != alert.labels:
            sent = dict(alert.labels)
            enriched, adds = self.enrich.additions(sent) if self.enrich else (None, {})
            labels = sent if enriched is None else enriched
            # the group stays the one first placed for this fingerprint (as the group memo by fingerprint did):
            # a PagerDuty event from an integration (its own source, so not sender-keyed here) resolves by its
            # dedup key with other labels, and finds its trigger's group only this way
            group = self._group(self.route(labels), labels) if placed is None else placed[3]
            placed = (sent, enriched, adds, group)
            self._placed.put(alert.fingerprint, placed)
        _, labels_added, annotations_added, group = placed
        if labels_added is not None or annotations_added:
            alert = self.enrich.applied(alert, labels_added, annotations_added)
        return alert, group

    def route(self, labels: Mapping[str, str]) -> Route:
        """The first group rule whose matchers all match (rule-set order), else the default route."""
        return self._route(labels)

    def _first_route(self, labels: Mapping[str, str]) -> Route:
        candidates = list(self._unindexed)
        for name in self._index_labels:
            candidates += self._indexed.get((name, labels.get(name, "")), ())
        for position in sorted(candidates):
            if matches_all(self.rules[position].match, labels):
                return self._routes[position]
        return self.default

    def candidates_tested(self, labels: Mapping[str, str]) -> int:
        """How many rules an alert is tested against (for tests and the benchmark)."""
        return len(self._unindexed) + sum(
            len(self._indexed.get((name, labels.get(name, "")), ())) for name in self._index_labels
        )

    def priority(self, route: Route, labels: Mapping[str, str]) -> str:
        """ITIL priority of one alert under its route: impact x urgency through the rule set's matrix; a route
        without a priority (the default route too) takes the impact its service's tier sets
        (``topology.tier_impact``) with the urgency of the alert's severity, else the default for its severity."""
        if route.impact is None and route.urgency is None:
            tier_impact = self.catalog.tier_level(labels) if self.catalog.tier_impact else None
            if tier_impact is not None:
                return self._matrix[tier_impact][SEVERITY_IMPACT_URGENCY[normalise_severity(labels.get("severity"))][1]]
            return self.defaults.priority(labels)
        impact = _level(route.impact, labels)
        urgency = _level(route.urgency, labels)
        return self._matrix[impact][urgency]

    def flap_rule(self, labels: Mapping[str, str]) -> FlappingRule | None:
        """The first flapping rule matching a label set (rule-set order), or None."""
        if not self.flapping:
            return None
        return self._flap_rule(labels)

    def _first_flap_rule(self, labels: Mapping[str, str]) -> FlappingRule | None:
        return next((r for r in self.flapping if matches_all(r.match, labels)), None)

    def problems(self, labels: Mapping[str, str]) -> list[tuple[str, dict[str, str]]]:
        """(rule, signature) for every recurrence problem rule an incident opened by these labels counts under."""
        out = []
        for rule in self.recurrence:
            if matches_all(rule.match, labels):
                names = sorted(labels) if rule.signature == (ALL_LABELS,) else rule.signature
                out.append((rule.name, {name: labels.get(name, "") for name in names}))
        return out

    def symptom_services(self, rule: ProblemRule, symptoms: Sequence[Mapping[str, str]]) -> set[str]:
        """The services among a root incident's symptoms (label sets) that a shared-root-cause rule counts."""
        service = self.catalog.service
        return {name for labels in symptoms if matches_all(rule.match, labels) and (name := service(labels))}

    def join_targets(self, route: Route, labels: Mapping[str, str]) -> list[Target]:
        """The services whose declared incident an alert may join under its route's ``join_declared``, nearest first
        (none without the option): its service (the catalog's binding), then what that depends on."""
        out: list[Target] = []
        if route.join_declared is not None:
            bound = self.catalog.bind(labels)
            out = join_targets(route.join_declared, bound.service if bound is not None else "",
                               self.causes.dependencies)
        if self.causes.joins_declared:  # an inhibit rule's target joins the declared incident of its source's service
            out += [t for t in self.causes.declared_targets(labels) if t[0] not in {s for s, _ in out}]
        return out

    def context(self, route: Route, muted: MutedBy | None = None, causes: Causes | None = None,
                declared: Mapping[str, str] | None = None) -> Context:
        """What ``decide`` needs beyond the group's state, for a group under ``route``; a ``muted`` that knows
        change windows (``muting.Muter``) also says when their mutes end and which windows annotate. ``declared``:
        the services with an open declared incident (service -> incident id), which a route with
        ``join_declared`` lets its alerts join."""
        cause: CauseOf | None = causes
        if declared and (route.join_declared is not None or self.causes.joins_declared):
            cause = DeclaredJoin(causes, lambda labels: self.join_targets(route, labels), declared)
        return Context(
            priority=lambda labels: self.priority(route, labels),
            muted=muted,
            mute_until=getattr(muted, "until", None),
            annotate=getattr(muted, "annotation", None),
            cause=cause,
            hold=self.causes.hold if self.causes else None,
            feeds=self.causes.feeds if self.causes else None,
            flap_rule=self.flap_rule if self.flapping else None,
            problems=self.problems if self.recurrence else None,
            team=self.defaults.team,
            merge_keys=self.causes.merge_keys if self.causes else None,
            service=self.catalog.bind,
        )

    def _group(self, route: Route, labels: Mapping[str, str]) -> Group:
        """The group of ``labels`` under ``route``, shared by every label set with the same group labels."""
        if route.group_by == (ALL_LABELS,):
            group_labels = dict(sorted(labels.items()))
        else:
            group_labels = {name: labels.get(name, "") for name in route.group_by}
        memo_key = (route.rule, tuple(group_labels.items()))
        group = self._groups.get(memo_key)
        if group is None:
            group = self._new_group(route, group_labels)
            self._groups.put(memo_key, group)
        return group

    @staticmethod
    def _new_group(route: Route, group_labels: dict[str, str]) -> Group:
        key = "{" + ",".join(f'{n}="{v}"' for n, v in group_labels.items()) + "}"
        signed: dict[str, Any] = dict(group_labels)
        if route.rule != DEFAULT_RULE:
            signed["\x00rule"] = route.rule  # not a valid label name: cannot collide with a real label
            key = f"{route.rule}:{key}"
        gid = format(labels_to_signature(signed), "016x")[:12]
        return Group(gid, key, group_labels, route)


def _level(source: LevelSource | None, labels: Mapping[str, str]) -> str:
    if source is None:
        return "medium"
    if source.value is not None:
        return source.value
    assert source.from_label is not None
    value = labels.get(source.from_label, "")
    if source.map:
        return source.map.get(value, source.default)
    return value if value in ("high", "medium", "low") else source.default


__all__ = ["ALL_LABELS", "DEFAULT_RULE", "Group", "IncidentDefaults", "Matcher", "Route", "Router", "priority_rank"]
