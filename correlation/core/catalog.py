"""The service catalog as the engine uses it: which service an alert is on, what that breaks for the business,
who owns it, and how healthy each service is. Pure, no I/O (``docs/services.md``).

* **Binding.** An alert is bound to a service by the first binding rule whose matchers match it
  (``topology.bindings``, in rule-set order), else by its service label (``topology.service_label``). The binding
  says which: ``binding:<name>`` or ``label:<label>``. A label naming a service the catalog does not know still
  binds (the incident records it; it has no owner, tier or business services).
* **Impact roll-up.** An incident on a service affects the business services of that service and of every service
  that depends on it, directly or not: ``depends_on`` is the one graph, read upwards.
* **Health.** Computed, never stored: a service is in ``outage`` with an open P1 incident on it, ``degraded`` with
  any other open incident, else ``operational``; a business service takes the worst health among the open
  incidents that affect it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from rules.matchers import matches_all, names_read
from rules.memo import MEMO_MAX_BYTES, ByLabels
from rules.schema import RuleSet, Topology

OPERATIONAL, DEGRADED, OUTAGE = "operational", "degraded", "outage"
#: the priorities that put a service in outage (any other open incident degrades it)
OUTAGE_PRIORITIES = frozenset({"P1"})


@dataclass(frozen=True, slots=True)
class Bound:
    """An alert's service and why: ``binding`` is ``binding:<rule>`` or ``label:<label name>``."""

    service: str
    binding: str
    business_services: tuple[str, ...] = ()  # affected through the dependency graph (impact roll-up)
    owner: str = ""
    tier: int | None = None


def health_of(priorities: Iterable[str]) -> str:
    """The health the open incidents with these priorities give a service (or a business service)."""
    health = OPERATIONAL
    for priority in priorities:
        if priority in OUTAGE_PRIORITIES:
            return OUTAGE
        health = DEGRADED
    return health


class Catalog:
    """One rule set's catalog: built once per rule set (the router carries it), swapped whole on reload."""

    def __init__(self, topology: Topology | None = None, *, memo_max_bytes: int = MEMO_MAX_BYTES,
                 lookbacks: Mapping[str, float] | None = None) -> None:
        """``lookbacks``: group rule -> its ``change_lookback`` (rules that set one)."""
        self.topology = topology if topology is not None else Topology()
        self.lookbacks: Mapping[str, float] = lookbacks or {}
        self.label = self.topology.service_label
        self.services = self.topology.services
        self.bindings = self.topology.bindings
        self.tier_impact: Mapping[int, str] = self.topology.tier_impact
        self._dependants: dict[str, list[str]] = {}
        for name, service in self.services.items():
            for dependency in service.depends_on:
                self._dependants.setdefault(dependency, []).append(name)
        self._impact: dict[str, tuple[str, ...]] = {}
        # a binding depends only on the labels the binding rules read and the service label
        self._bind = ByLabels(sorted({*names_read(*(b.match for b in self.bindings)), self.label}), self._first_bind,
                              max_bytes=memo_max_bytes)

    @classmethod
    def from_rule_set(cls, rule_set: RuleSet | None, *, memo_max_bytes: int = MEMO_MAX_BYTES) -> Catalog:
        if rule_set is None:
            return cls(memo_max_bytes=memo_max_bytes)
        return cls(rule_set.topology, memo_max_bytes=memo_max_bytes,
                   lookbacks={g.name: g.change_lookback for g in rule_set.groups if g.change_lookback is not None})

    def lookback(self, rule: str, default: float) -> float:
        """How far back before an incident of ``rule`` opened its changes are looked for."""
        return self.lookbacks.get(rule, default)

    def __bool__(self) -> bool:
        """Whether there is anything to bind to (bindings or catalog services)."""
        return bool(self.services or self.bindings)

    # -- binding --------------------------------------------------------------------------------

    def bind(self, labels: Mapping[str, str]) -> Bound | None:
        """The service of an alert's labels, or None when neither a binding rule nor the service label names one."""
        return self._bind(labels)

    @property
    def reads(self) -> tuple[str, ...]:
        """Every label ``bind`` and ``service`` read: the binding rules' matchers' and the service label."""
        return self._bind.names

    def service(self, labels: Mapping[str, str]) -> str:
        """The name of the service an alert's labels are bound to, or "": ``bind`` without the rest and without its
        memo (its callers keep their own: the cause rules memoise by the labels it and they read, ``reads``, so a second
        memo entry would only cost a put)."""
        for binding in self.bindings:
            if matches_all(binding.match, labels):
                return binding.service
        return labels.get(self.label, "")

    def _first_bind(self, labels: Mapping[str, str]) -> Bound | None:
        for binding in self.bindings:
            if matches_all(binding.match, labels):
                return self.bound(binding.service, f"binding:{binding.name}")
        service = labels.get(self.label, "")
        return self.bound(service, f"label:{self.label}") if service else None

    def bound(self, service: str, binding: str) -> Bound:
        entry = self.services.get(service)
        return Bound(service, binding, self.impact(service), entry.owner or "" if entry else "",
                     entry.tier if entry else None)

    def tier_level(self, labels: Mapping[str, str]) -> str | None:
        """The impact the tier of the alert's service sets (``topology.tier_impact``), or None."""
        if not self.tier_impact:
            return None
        bound = self.bind(labels)
        return self.tier_impact.get(bound.tier) if bound is not None and bound.tier is not None else None

    # -- the graph ------------------------------------------------------------------------------

    def dependencies(self, service: str) -> tuple[str, ...]:
        entry = self.services.get(service)
        return entry.depends_on if entry else ()

    def dependants(self, service: str) -> tuple[str, ...]:
        return tuple(sorted(self._dependants.get(service, ())))

    def upstream(self, service: str) -> dict[str, int]:
        """Every service that depends on ``service``, directly or not, with its distance (itself at 0)."""
        return _walk(service, self.dependants)

    def downstream(self, service: str) -> dict[str, int]:
        """Every service ``service`` depends on, directly or not, with its distance (itself at 0)."""
        return _walk(service, self.dependencies)

    def impact(self, service: str) -> tuple[str, ...]:
        """The business services an incident on ``service`` affects: its own and its dependants', sorted."""
        found = self._impact.get(service)
        if found is None:
            found = tuple(sorted({b for name in self.upstream(service)
                                  for b in (self.services[name].business_services if name in self.services else ())}))
            self._impact[service] = found
        return found

    def supporting(self, business_service: str) -> tuple[str, ...]:
        """The services that support a business service directly (named it in ``business_services``)."""
        return tuple(sorted(n for n, s in self.services.items() if business_service in s.business_services))


def _walk(start: str, step: Callable[[str], Sequence[str]]) -> dict[str, int]:
    seen = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in step(node):
            if nxt not in seen:
                seen[nxt] = seen[node] + 1
                queue.append(nxt)
    return seen


def service_health(open_incidents: Sequence[Mapping[str, object]]) -> tuple[dict[str, str], dict[str, str]]:
    """(service -> health, business service -> health) from open incident documents (``service``,
    ``business_services``, ``priority``); services and business services without open incidents are absent."""
    by_service: dict[str, list[str]] = {}
    by_business: dict[str, list[str]] = {}
    for doc in open_incidents:
        priority = str(doc.get("priority") or "")
        service = str(doc.get("service") or "")
        if service:
            by_service.setdefault(service, []).append(priority)
        business = doc.get("business_services") or ()
        for name in business if isinstance(business, (list, tuple)) else ():
            by_business.setdefault(str(name), []).append(priority)
    return ({s: health_of(p) for s, p in by_service.items()}, {b: health_of(p) for b, p in by_business.items()})
