"""Causes: inhibition and service-topology roll-up, as one idea. Pure, no I/O.

A firing alert that is part of an incident is a *cause source*: it feeds the cause keys it can explain.
Another firing alert that finds an active source among its *cause lookups* is a **symptom**: it opens no
incident and is attached to its cause's incident instead, with the inhibit rule or the topology path that
explains it.

* Inhibition: an alert matching an inhibit rule's ``source_match`` feeds ``inh:<rule>:<equal signature>``;
  an alert matching ``target_match`` looks the same key up (the alert itself never counts as its own source).
* Topology: an alert on a service that others depend on feeds ``svc:<service>`` (if the topology lets it be a cause:
  its ``source_match`` and ``min_severity``, so an info notice on a dependency captures nothing); an alert on a
  service looks up every service it depends on, directly or not, and rolls up into the deepest one that is failing
  (a failing service none of whose own dependencies is failing), with the path from its own service to that root.

Both can ``hold``: a target with no active cause waits that long for one (a symptom often arrives a few
seconds before its cause: Alertmanager issue #2229) before it may open an incident of its own.

Both have a ``recovery_grace``: a source that stopped (its alert resolved or expired) still explains targets for
that long, attached to the incident it belonged to. Symptoms clear tens of seconds after their cause (and their
resolved notifications come a ``group_interval`` later still), so without it every recovering cascade would page
once per symptom group at its next repeat. Alertmanager stops inhibiting the moment the source resolves; that is
the noise this avoids. A target still firing when the grace has run out is real on its own and pages.

Cause keys live in a shared index (the store keeps one small hash per key, ``fingerprint -> stamp|incident``),
so every worker sees every source; this module only says which keys an alert feeds and reads.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from collections.abc import Callable, Mapping, Sequence

from correlation.core.catalog import Catalog
from rules.alert import normalise_severity, severity_rank
from rules.fingerprint import labels_to_signature
from rules.matchers import matches_all
from rules.memo import MEMO_MAX_BYTES, BoundedMemo
from rules.schema import InhibitRule, RuleSet, Topology

#: an alert's service from its labels ("" when none): the catalog's binding (``Catalog.service``)
ServiceOf = Callable[[Mapping[str, str]], str]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A cause key a target alert reads, and what a source found there would mean."""

    key: str
    kind: str  # inhibited | topology
    rule: str  # the inhibit rule, or the root service for topology
    path: tuple[str, ...] = ()  # topology: own service -> ... -> root service
    grace: float = 0.0  # how long a source that stopped still explains (the rule's recovery_grace)
    merge: bool = False  # a source arriving after the target opened an incident merges it (merge_late_symptoms)


@dataclass(frozen=True, slots=True)
class Cause:
    kind: str  # inhibited | topology
    rule: str
    incident: str  # the cause's incident
    fingerprint: str  # the source alert
    path: tuple[str, ...] = ()
    until: float | None = None  # the source has recovered: it explains until then (None: it is firing)
    merge: bool = False  # its rule merges an incident its target opened before it fired (merge_late_symptoms)

    @property
    def reason(self) -> str:
        """What ``AlertState.muted`` records for the symptom."""
        if self.kind == "topology":
            return "topology:" + ">".join(self.path)
        return f"inhibited:{self.rule}"

    def describe(self) -> str:
        return describe_cause(self.kind, self.rule, self.path)


def describe_cause(kind: str, rule: str, path: Sequence[str]) -> str:
    """Why a symptom did not page, for people: the topology path, or the inhibit rule."""
    if kind == "topology":
        return "rolled up along " + " -> ".join(path)
    return f"inhibited by rule {rule}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One source as the index holds it: a monotonic stamp, its incident ("" when it explains nothing) and,
    once it has stopped (resolved, expired), when: it then explains only within its rule's recovery grace."""

    stamp: int
    incident: str
    stopped: float | None = None

    def encode(self) -> str:
        return f"{self.stamp}|{self.tail()}"

    def tail(self) -> str:
        """What follows the stamp: "incident", or "incident|stopped" once the source stopped. The cause index update
        carries it as its "incident" (so its shape, and the script, are those of the versions before the grace)."""
        return self.incident if self.stopped is None else f"{self.incident}|{self.stopped!r}"

    @classmethod
    def decode(cls, raw: bytes | str) -> Entry:
        text = raw.decode() if isinstance(raw, bytes) else raw
        stamp, _, rest = text.partition("|")
        incident, _, stopped = rest.partition("|")
        return cls(int(stamp), incident, float(stopped) if stopped else None)

    def explains_until(self, grace: float) -> float | None:
        """None while the source fires; else the end of its recovery grace (nothing when it never had an incident)."""
        if self.stopped is None:
            return None
        return self.stopped + grace if self.incident else float("-inf")


class CauseRules:
    """Which cause keys a label set feeds and reads under one rule set (built once per rule set)."""

    def __init__(self, inhibit: Sequence[InhibitRule] = (), topology: Topology | None = None,
                 topology_hold: float = 0.0, *, memo_max_bytes: int = MEMO_MAX_BYTES,
                 service_of: ServiceOf | None = None) -> None:
        """``service_of``: an alert's service (the catalog's binding); None reads the topology's service label."""
        self.inhibit = tuple(inhibit)
        self.topology = topology if topology is not None and topology.services else None
        self.service_label = topology.service_label if topology is not None else "service"
        self.service_of = service_of
        self.topology_hold = topology_hold
        self.recovery_grace = topology.recovery_grace if topology is not None else 0.0
        self.topology_merge = topology.merge_late_symptoms if topology is not None else False
        self.source_match = topology.source_match if topology is not None else ()
        self.min_severity = severity_rank(topology.min_severity) if topology is not None else 0
        depended = {d for s in (self.topology.services.values() if self.topology else ()) for d in s.depends_on}
        self._depended_on = frozenset(depended)
        self._paths: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self._closure: dict[str, frozenset[str]] = {}
        self._memo: BoundedMemo[frozenset[tuple[str, str]], tuple[tuple[str, ...], tuple[Lookup, ...], float]] = (
            BoundedMemo(max_bytes=memo_max_bytes))

    @classmethod
    def from_rule_set(cls, rule_set: RuleSet | None, *, memo_max_bytes: int = MEMO_MAX_BYTES,
                      service_of: ServiceOf | None = None) -> CauseRules:
        """``service_of``: the catalog's binding (the router passes its catalog's); None: the catalog of the rule set's
        topology is built here, so bindings count either way."""
        if rule_set is None:
            return cls(memo_max_bytes=memo_max_bytes)
        if service_of is None and rule_set.topology.bindings:
            service_of = Catalog(rule_set.topology, memo_max_bytes=memo_max_bytes).service
        return cls(rule_set.inhibit, rule_set.topology, rule_set.topology.hold, memo_max_bytes=memo_max_bytes,
                   service_of=service_of)

    def __bool__(self) -> bool:
        return bool(self.inhibit or self.topology)

    # -- per label set ---------------------------------------------------------------------------

    def _analyse(self, labels: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[Lookup, ...], float]:
        memo_key = frozenset(labels.items())
        hit = self._memo.get(memo_key)
        if hit is not None:
            return hit
        feeds: list[str] = []
        lookups: list[Lookup] = []
        hold = 0.0
        for rule in self.inhibit:
            key = None
            if matches_all(rule.source_match, labels):
                key = _inhibit_key(rule, labels)
                feeds.append(key)
            if matches_all(rule.target_match, labels):
                lookups.append(Lookup(key or _inhibit_key(rule, labels), "inhibited", rule.name,
                                      grace=rule.recovery_grace, merge=rule.merge_late_symptoms))
                hold = max(hold, rule.hold)
        service = "" if self.topology is None else (
            self.service_of(labels) if self.service_of is not None else labels.get(self.service_label, ""))
        if self.topology is not None and service in self.topology.services:
            if service in self._depended_on and self._can_cause(labels):
                feeds.append(f"svc:{service}")
            for dependency, path in self._dependencies(service):
                lookups.append(Lookup(f"svc:{dependency}", "topology", dependency, path, self.recovery_grace,
                                      self.topology_merge))
            if self._dependencies(service):
                hold = max(hold, self.topology_hold)
        result = (tuple(feeds), tuple(lookups), hold)
        self._memo.put(memo_key, result)
        return result

    def _can_cause(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert makes its service failing for its dependants: it matches the topology's
        ``source_match`` and its severity reaches ``min_severity`` (an unknown severity counts)."""
        rank = severity_rank(normalise_severity(labels.get("severity")))
        return (rank == 0 or rank >= self.min_severity) and matches_all(self.source_match, labels)

    def feeds(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """The cause keys a firing alert with these labels feeds while it is part of an incident."""
        return self._analyse(labels)[0]

    def lookups(self, labels: Mapping[str, str]) -> tuple[Lookup, ...]:
        """The cause keys an alert with these labels reads, in order of preference (inhibition first)."""
        return self._analyse(labels)[1]

    def merge_keys(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        """The cause keys whose source, firing late, would merge an incident an alert with these labels is part of
        (its lookups under rules with ``merge_late_symptoms``): the alert is a *candidate* under them meanwhile."""
        return tuple(lookup.key for lookup in self._analyse(labels)[1] if lookup.merge)

    def hold(self, labels: Mapping[str, str]) -> float:
        """How long a target waits for a cause before it may open an incident (0: it does not wait)."""
        return self._analyse(labels)[2]

    # -- topology ----------------------------------------------------------------------------------

    def _dependencies(self, service: str) -> list[tuple[str, tuple[str, ...]]]:
        """Every service ``service`` depends on, nearest first, each with its shortest path."""
        found = self._paths.get(service)
        if found is not None:
            return found
        assert self.topology is not None
        out: list[tuple[str, tuple[str, ...]]] = []
        seen = {service}
        queue: deque[tuple[str, tuple[str, ...]]] = deque([(service, (service,))])
        while queue:
            current, path = queue.popleft()
            node = self.topology.services.get(current)
            for dependency in (node.depends_on if node else ()):
                if dependency not in seen:
                    seen.add(dependency)
                    out.append((dependency, path + (dependency,)))
                    queue.append((dependency, path + (dependency,)))
        self._paths[service] = out
        self._closure[service] = frozenset(d for d, _ in out)
        return out

    def closure(self, service: str) -> frozenset[str]:
        self._dependencies(service)
        return self._closure[service]


def _inhibit_key(rule: InhibitRule, labels: Mapping[str, str]) -> str:
    equal = {name: labels.get(name, "") for name in rule.equal}
    return f"inh:{rule.name}:{labels_to_signature(equal):016x}"


class Causes:
    """The cause index as read for one batch: answers "is this alert a symptom, and of what?" at an instant."""

    def __init__(self, rules: CauseRules, entries: Mapping[str, Mapping[str, Entry]]) -> None:
        self.rules = rules
        self.entries = entries

    def __call__(self, labels: Mapping[str, str], fingerprint: str, now: float) -> Cause | None:
        lookups = self.rules.lookups(labels)
        if not lookups:
            return None
        failing: dict[str, tuple[str, str, float | None]] = {}  # topology: failing service -> its source
        topology: list[Lookup] = []
        entries = self.entries
        for lookup in lookups:
            if not entries.get(lookup.key):
                continue  # nothing ever fed this key (most of a deep topology's dependencies): no call
            source = self._active(lookup, fingerprint, now)
            if source is None:
                continue
            if lookup.kind == "inhibited":
                return Cause("inhibited", lookup.rule, source[1], source[0], until=source[2], merge=lookup.merge)
            failing[lookup.rule] = source
            topology.append(lookup)
        for lookup in topology:  # nearest first: the first failing service none of whose dependencies fails
            if not (self.rules.closure(lookup.rule) & failing.keys()):
                source_fp, incident, until = failing[lookup.rule]
                return Cause("topology", lookup.rule, incident, source_fp, lookup.path, until, lookup.merge)
        return None

    def _active(self, lookup: Lookup, fingerprint: str, now: float) -> tuple[str, str, float | None] | None:
        """(source fingerprint, incident, until) of one source under the key other than the alert itself: a firing
        one if any (until None), else the recovered one whose grace runs longest (``now`` < until)."""
        best: tuple[str, str, float | None] | None = None
        for fp, entry in self.entries.get(lookup.key, {}).items():
            if not entry.incident or fp == fingerprint:
                continue
            until = entry.explains_until(lookup.grace)
            if until is None:
                if best is None or best[2] is not None or fp < best[0]:
                    best = (fp, entry.incident, None)
            elif now < until and (best is None or (best[2] is not None and (until, fp) > (best[2], best[0]))):
                best = (fp, entry.incident, until)
        return best


def lookup_keys(rules: CauseRules, label_sets: Sequence[Mapping[str, str]]) -> list[str]:
    """Every cause key a batch of firing alerts may read (to fetch in one round trip)."""
    keys: dict[str, None] = {}
    for labels in label_sets:
        for lookup in rules.lookups(labels):
            keys[lookup.key] = None
    return list(keys)
