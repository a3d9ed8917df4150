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

**The root is chosen by evidence** (topology only; inhibit rules say exactly what they mean). Each source in the
index carries its evidence, its severity and when it started (``Entry``), and a source explains an alert only when:

1. **severity**: the source is at least as severe as the alert (a warning on a dependency does not explain a critical
   outage on its dependant: noise on a dependency must not capture a real outage's symptoms);
2. **time order**: an alert *as severe as* the source started no more than the topology's ``symptom_lag`` after it,
   or before it (default 30 s; ``null``: no limit). A dependant that raised an alert as grave as its dependency's
   minutes after the dependency failed is taken for a failure of its own (a payment provider's outage on a service
   whose database is down), and so is one that was failing minutes before (a dependency failing later does not merge
   it: ``correlation.core.merging``); a less severe alert (an error rate, a latency) is a symptom however far apart;
3. **depth**: among the failing dependencies left, the root is a deepest one (a failing service no failing
   dependency of which explains its own source), the nearest such one still firing rather than one that has
   recovered (in its recovery grace), and among the sources of one service the firing one, then the most severe,
   then the earliest. An unknown severity (no ``severity`` label, or one not in ``rules.alert.SEVERITY_ORDER``) or an
   unknown start (an entry written before the evidence existed) is no evidence either way.

The evidence that chose the root is recorded with the symptom (``Cause.evidence``, ``Symptom.evidence``).

Cause keys live in a shared index (the store keeps one small hash per key, ``fingerprint -> entry``; ``Entry`` says
its versioned format), so every worker sees every source; this module only says which keys an alert feeds and reads.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Mapping, Sequence, Set

from correlation.core.catalog import Catalog
from correlation.core.live_keys import LiveKeys
from rules.alert import SEVERITY_ORDER, normalise_severity, severity_rank
from rules.fingerprint import labels_to_signature
from rules.matchers import matches_all, names_read
from rules.memo import MEMO_MAX_BYTES, BoundedMemo, ByLabels
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
    kind: str  # inhibited | topology | declared (an incident people declared: correlation.core.declared)
    rule: str  # the inhibit rule, the root service, or the declared incident's service
    incident: str  # the cause's incident
    fingerprint: str  # the source alert
    path: tuple[str, ...] = ()
    until: float | None = None  # the source has recovered: it explains until then (None: it is firing)
    merge: bool = False  # its rule merges an incident its target opened before it fired (merge_late_symptoms)
    # topology: what chose this root, (the source's severity rank, its start, the alert's start, depth); ``evidence``
    found: tuple[int, float | None, float | None, int] | None = None

    @property
    def reason(self) -> str:
        """What ``AlertState.muted`` records for the symptom."""
        if self.kind in ("topology", "declared"):
            return f"{self.kind}:" + ">".join(self.path)
        return f"inhibited:{self.rule}"

    def describe(self) -> str:
        return describe_cause(self.kind, self.rule, self.path)

    @property
    def evidence(self) -> str:
        """The evidence that chose a topology root, for people: "critical, started 8s before it, 2 deep" ("" for
        inhibition). Built only when asked (a symptom recorded), not on every placement."""
        if self.found is None:
            return ""
        severity, source_since, since, depth = self.found
        parts = [SEVERITY_NAMES[severity] if severity in SEVERITY_NAMES and severity else "severity unknown"]
        if source_since is not None and since is not None:
            lead = since - source_since
            parts.append(f"started {abs(lead):g}s {'before' if lead >= 0 else 'after'} it")
        parts.append(f"{depth} deep")
        return ", ".join(parts)


def describe_cause(kind: str, rule: str, path: Sequence[str]) -> str:
    """Why a symptom did not page, for people: the topology path, or the inhibit rule."""
    if kind == "topology":
        return "rolled up along " + " -> ".join(path)
    if kind == "declared":
        via = f" (along {' -> '.join(path)})" if len(path) > 1 else ""
        return f"joined the incident declared for service {rule}{via}"
    return f"inhibited by rule {rule}"


#: severity rank -> its name (the evidence recorded with a symptom)
SEVERITY_NAMES = {severity_rank(name): name for name in SEVERITY_ORDER}

#: the cause index entry format this version writes (``Entry``)
ENTRY_VERSION = "v2"


@dataclass(frozen=True, slots=True)
class Entry:
    """One source as the index holds it: a monotonic stamp, its incident ("" when it explains nothing), once it has
    stopped (resolved, expired) when (it then explains only within its rule's recovery grace), and its evidence: its
    severity rank (0: unknown) and when it started (None: unknown).

    Encoded (``encode``; the hash value under the source's fingerprint), the stamp always first, so the update
    script compares stamps whatever the version:

    * v1 (before the evidence): ``stamp|incident`` or ``stamp|incident|stopped``;
    * v2 (this version): ``stamp|v2|incident|stopped|severity|since``, ``stopped`` and ``since`` empty when
      unknown or not applicable.

    ``decode`` reads both: a v1 entry has no evidence (severity 0, since None), so it explains as before. Entries
    are rewritten in v2 at their source's next change and expire a week after their last write (docs/design.md,
    "Upgrading the cause index")."""

    stamp: int
    incident: str
    stopped: float | None = None
    severity: int = 0
    since: float | None = None

    def encode(self) -> str:
        return f"{self.stamp}|{self.tail()}"

    def tail(self) -> str:
        """What follows the stamp (the cause index update carries it as its "incident", so the update script is
        the one of the versions before)."""
        stopped = "" if self.stopped is None else repr(self.stopped)
        since = "" if self.since is None else repr(self.since)
        return f"{ENTRY_VERSION}|{self.incident}|{stopped}|{self.severity}|{since}"

    @property
    def firing(self) -> bool:
        """A source that explains now: it has an incident and has not stopped."""
        return bool(self.incident) and self.stopped is None

    @classmethod
    def decode(cls, raw: bytes | str) -> Entry:
        text = raw.decode() if isinstance(raw, bytes) else raw
        stamp, _, rest = text.partition("|")
        return cls.of_tail(int(stamp), rest)

    @classmethod
    def of_tail(cls, stamp: int, tail: str) -> Entry:
        """An entry from its stamp and what follows it, in either version."""
        if tail.startswith(ENTRY_VERSION + "|"):
            _, incident, stopped, severity, since = tail.split("|", 4)
            return cls(stamp, incident, float(stopped) if stopped else None, int(severity or 0),
                       float(since) if since else None)
        incident, _, stopped = tail.partition("|")  # v1
        return cls(stamp, incident, float(stopped) if stopped else None)

    def explains_until(self, grace: float) -> float | None:
        """None while the source fires; else the end of its recovery grace (nothing when it never had an incident)."""
        if self.stopped is None:
            return None
        return self.stopped + grace if self.incident else float("-inf")


#: what CauseRules works out once per label set: (keys it feeds, lookups, hold, severity rank)
_Analysis = tuple[tuple[str, ...], tuple[Lookup, ...], float, int]


class CauseRules:
    """Which cause keys a label set feeds and reads under one rule set (built once per rule set)."""

    def __init__(self, inhibit: Sequence[InhibitRule] = (), topology: Topology | None = None,
                 topology_hold: float = 0.0, *, memo_max_bytes: int = MEMO_MAX_BYTES,
                 service_of: ServiceOf | None = None, service_reads: Iterable[str] | None = None) -> None:
        """``service_of``: an alert's service (the catalog's binding); None reads the topology's service label.
        ``service_reads``: every label ``service_of`` reads (``Catalog.reads``); None with a ``service_of``: unknown,
        so the analysis is memoised by the whole label set."""
        self.inhibit = tuple(inhibit)
        self.topology = topology if topology is not None and topology.services else None
        self.service_label = topology.service_label if topology is not None else "service"
        self.service_of = service_of
        self.topology_hold = topology_hold
        self.recovery_grace = topology.recovery_grace if topology is not None else 0.0
        self.topology_merge = topology.merge_late_symptoms if topology is not None else False
        self.source_match = topology.source_match if topology is not None else ()
        self.min_severity = severity_rank(topology.min_severity) if topology is not None else 0
        self.symptom_lag = topology.symptom_lag if topology is not None else None
        #: the longest recovery grace of any lookup: a key whose sources stopped longer ago explains nothing
        self.longest_grace = max([self.recovery_grace, *(rule.recovery_grace for rule in self.inhibit)])
        depended = {d for s in (self.topology.services.values() if self.topology else ()) for d in s.depends_on}
        self._depended_on = frozenset(depended)
        self._paths: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self._closure: dict[str, frozenset[str]] = {}
        # the analysis reads only these labels, so it is memoised by their values (``rules.memo.ByLabels``): a label
        # set seen for the first time (a new ``instance``) is a hit. Every label ``_analysis`` reads must be here.
        reads = self._reads(service_reads)
        self._memo: ByLabels[_Analysis] | BoundedMemo[frozenset[tuple[str, str]], _Analysis]
        self._analyse: Callable[[Mapping[str, str]], _Analysis]
        if reads is None:
            self._memo = BoundedMemo(max_bytes=memo_max_bytes)
            self._analyse = self._analyse_by_label_set
        else:
            self._memo = self._analyse = ByLabels(reads, self._analysis, max_bytes=memo_max_bytes)

    def _reads(self, service_reads: Iterable[str] | None) -> tuple[str, ...] | None:
        """Every label ``_analysis`` reads, sorted (None: unknown, ``service_of`` without ``service_reads``): the
        inhibit rules' matchers and ``equal`` labels, ``severity``, and with a topology the service's labels and the
        topology's ``source_match``."""
        names = {"severity", *names_read(*(m for rule in self.inhibit for m in (rule.source_match, rule.target_match)))}
        names.update(name for rule in self.inhibit for name in rule.equal)
        if self.topology is not None:
            if self.service_of is None:
                names.add(self.service_label)
            elif service_reads is None:
                return None
            else:
                names.update(service_reads)
            names.update(names_read(self.source_match))
        return tuple(sorted(names))

    @classmethod
    def from_rule_set(cls, rule_set: RuleSet | None, *, memo_max_bytes: int = MEMO_MAX_BYTES,
                      service_of: ServiceOf | None = None, service_reads: Iterable[str] | None = None) -> CauseRules:
        """``service_of``: the catalog's binding (the router passes its catalog's, and ``service_reads``, the labels it
        reads); None: the catalog of the rule set's topology is built here, so bindings count either way."""
        if rule_set is None:
            return cls(memo_max_bytes=memo_max_bytes)
        if service_of is None and rule_set.topology.bindings:
            catalog = Catalog(rule_set.topology, memo_max_bytes=memo_max_bytes)
            service_of, service_reads = catalog.service, catalog.reads
        return cls(rule_set.inhibit, rule_set.topology, rule_set.topology.hold, memo_max_bytes=memo_max_bytes,
                   service_of=service_of, service_reads=service_reads)

    def __bool__(self) -> bool:
        return bool(self.inhibit or self.topology)

    @property
    def joins_declared(self) -> bool:
        """Some inhibit rule lets its targets join a declared incident (``join_declared``)."""
        return any(rule.join_declared and self.service_label in rule.equal for rule in self.inhibit)

    def declared_targets(self, labels: Mapping[str, str]) -> list[tuple[str, tuple[str, ...]]]:
        """The services whose open declared incident an alert may join as an inhibit rule's target: for each rule
        with ``join_declared`` whose ``target_match`` it matches and whose ``equal`` holds the service label, the
        service it shares with the rule's source (its own service label's value): a declared incident there
        stands in for the source people saw before any alert fired."""
        service = labels.get(self.service_label, "")
        if not service:
            return []
        for rule in self.inhibit:
            if rule.join_declared and self.service_label in rule.equal and matches_all(rule.target_match, labels):
                return [(service, (service,))]
        return []

    # -- per label set ---------------------------------------------------------------------------

    def _analyse_by_label_set(self, labels: Mapping[str, str]) -> _Analysis:
        """``_analysis`` memoised by the whole label set (a ``service_of`` whose labels are unknown)."""
        assert isinstance(self._memo, BoundedMemo)
        memo_key = frozenset(labels.items())
        hit = self._memo.get(memo_key)
        if hit is None:
            hit = self._analysis(labels)
            self._memo.put(memo_key, hit)
        return hit

    def _analysis(self, labels: Mapping[str, str]) -> _Analysis:
        """What a label set feeds and reads. Reads only the labels ``_reads`` lists (the memo's key)."""
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
        return tuple(feeds), tuple(lookups), hold, severity_rank(normalise_severity(labels.get("severity")))

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

    def severity(self, labels: Mapping[str, str]) -> int:
        """The severity rank of an alert with these labels (0: unknown): its evidence (memoised with the rest)."""
        return self._analyse(labels)[3]

    def reads(self, labels: Mapping[str, str]) -> tuple[tuple[Lookup, ...], int]:
        """``lookups`` and ``severity`` at once (one memo lookup): what ``Causes`` asks of every alert."""
        analysis = self._analyse(labels)
        return analysis[1], analysis[3]

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

    def dependencies(self, service: str) -> list[tuple[str, tuple[str, ...]]]:
        """Every service ``service`` depends on in the topology, nearest first, each with its shortest path from
        ``service`` (none without a topology)."""
        return self._dependencies(service) if self.topology is not None else []

    def closure(self, service: str) -> frozenset[str]:
        """Every service ``service`` depends on, directly or not (never itself, even in a cycle)."""
        self._dependencies(service)
        return self._closure[service]


def _inhibit_key(rule: InhibitRule, labels: Mapping[str, str]) -> str:
    equal = {name: labels.get(name, "") for name in rule.equal}
    return f"inh:{rule.name}:{labels_to_signature(equal):016x}"


class Causes:
    """The cause index as read for one batch: answers "is this alert a symptom, and of what?" at an instant."""

    def __init__(self, rules: CauseRules, entries: Mapping[str, Mapping[str, Entry]],
                 live: LiveKeys | None = None) -> None:
        """``live``: the live keys of ``entries`` (``correlation.core.live_keys``), kept by the one writer of an
        index that outlives this object (the replay's simulation); None: built from ``entries`` at the first
        question, for entries read once (a worker's batch)."""
        self.rules = rules
        self.entries = entries
        self.live = live

    def __call__(self, labels: Mapping[str, str], fingerprint: str, now: float,
                 since: float | None = None) -> Cause | None:
        """The cause explaining an alert with these labels (``since``: when its episode started; None: unknown)."""
        lookups, severity = self.rules.reads(labels)
        if not lookups:
            return None
        if self.live is None:
            self.live = LiveKeys(self.entries, self.rules.longest_grace)
        live: Set[str] | Mapping[str, Mapping[str, Entry]] | None = self.live.at(now)
        if live is None:
            live = self.entries  # asked about an earlier instant than keys were dropped at: every key
        failing: dict[str, tuple[str, Entry, float | None]] = {}  # topology: failing service -> its source
        topology: list[Lookup] = []
        evidence = (severity, since)
        for lookup in lookups:
            if lookup.key not in live:
                continue  # no source under it may explain now (most of a long storm's keys): no call
            if lookup.kind == "inhibited":
                source = self._active(lookup, fingerprint, now, None)
                if source is not None:
                    return Cause("inhibited", lookup.rule, source[1].incident, source[0], until=source[2],
                                 merge=lookup.merge)
                continue
            source = self._active(lookup, fingerprint, now, evidence)
            if source is not None:
                failing[lookup.rule] = source
                topology.append(lookup)
        if not topology:
            return None
        # one failing dependency is the root (no service is among its own dependencies: ``CauseRules.closure``)
        root = topology[0] if len(topology) == 1 else self._deepest(topology, failing)
        if root is None:
            return None
        source_fp, entry, until = failing[root.rule]
        return Cause("topology", root.rule, entry.incident, source_fp, root.path, until, root.merge,
                     (entry.severity, entry.since, since, len(root.path) - 1))

    def _deepest(self, topology: list[Lookup], failing: dict[str, tuple[str, Entry, float | None]]) -> Lookup | None:
        """The root among failing dependencies: nearest first, a failing service no failing dependency of which
        explains its own source, a firing one rather than one that has recovered."""
        root: Lookup | None = None
        for lookup in topology:
            _, entry, until = failing[lookup.rule]
            deeper = self.rules.closure(lookup.rule) & failing.keys()
            if not any(self._explains(failing[d][1], (entry.severity, entry.since)) for d in deeper):
                if until is None:  # a firing root explains better than one that has recovered
                    return lookup
                root = root or lookup
        return root

    def _active(self, lookup: Lookup, fingerprint: str, now: float,
                evidence: tuple[int, float | None] | None) -> tuple[str, Entry, float | None] | None:
        """(source fingerprint, entry, until) of the source under the key that explains the alert best, other than
        the alert itself: a firing one if any (until None), the most severe, then the earliest, then the lowest
        fingerprint; else the recovered one whose grace runs longest (``now`` < until). ``evidence``: the alert's
        (severity rank, start) for the topology's evidence rules (None: an inhibit rule, no evidence rules)."""
        best: tuple[str, Entry, float | None] | None = None
        best_rank: tuple[float, ...] = ()
        for fp, entry in self.entries.get(lookup.key, {}).items():
            if not entry.incident or fp == fingerprint:
                continue
            if evidence is not None and not self._explains(entry, evidence):
                continue
            until = entry.explains_until(lookup.grace)
            if until is not None and now >= until:
                continue
            since = entry.since if entry.since is not None else float("inf")
            rank = ((0, -entry.severity, since) if until is None else (1, -until, 0.0))
            if best is None or (rank, fp) < (best_rank, best[0]):
                best, best_rank = (fp, entry, until), rank
        return best

    def _explains(self, entry: Entry, evidence: tuple[int, float | None]) -> bool:
        """Whether a topology source may explain an alert with this (severity rank, start): the evidence rules."""
        severity, since = evidence
        if not entry.severity or not severity:
            return True  # an unknown severity is no evidence
        if entry.severity < severity:
            return False  # a less severe source does not explain a graver alert
        lag = self.rules.symptom_lag
        if entry.severity == severity and lag is not None and since is not None and entry.since is not None:
            return abs(since - entry.since) <= lag  # as grave, and started long apart: a failure of its own
        return True


def lookup_keys(rules: CauseRules, label_sets: Sequence[Mapping[str, str]]) -> list[str]:
    """Every cause key a batch of firing alerts may read (to fetch in one round trip)."""
    keys: dict[str, None] = {}
    for labels in label_sets:
        for lookup in rules.lookups(labels):
            keys[lookup.key] = None
    return list(keys)
