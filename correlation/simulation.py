"""The correlation engine run in memory with simulated time: no Redis, no RabbitMQ, no clock.

Used by ``stormwatch rules test`` (and later the backtest): alerts are fed in time order through the same
enrichment, routing, muting and ``decide`` as the worker uses, and the incidents can be inspected at any instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from correlation.engine import decide, decide_timer
from correlation.model import GroupState, Incident
from correlation.muting import Muter, Silence
from correlation.routing import Router
from rules.alert import Alert
from rules.schema import RuleSet


@dataclass
class Simulation:
    rule_set: RuleSet | None
    default_group_by: Sequence[str] = ("alertname", "service")
    silences: list[Silence] = field(default_factory=list)
    groups: dict[str, GroupState] = field(default_factory=dict)
    muted: int = 0
    duplicates: int = 0
    all_incidents: dict[str, Incident] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.router = Router(self.rule_set, self.default_group_by)

    def advance(self, now: float) -> None:
        """Fire every held resolution due by ``now``, at its due time (as the shared timer index would)."""
        for state in self.groups.values():
            incident = state.incident
            if incident is not None and incident.is_open and incident.resolve_at is not None \
                    and incident.resolve_at <= now:
                self.all_incidents.update(decide_timer(state, incident.id, incident.resolve_at).incidents)

    def feed(self, alert: Alert, now: float) -> None:
        self.advance(now)
        alert = self.router.enrich(alert) if self.router.enrich else alert
        group = self.router(alert.labels)
        state = self.groups.get(group.id)
        if state is None:
            state = self.groups[group.id] = GroupState(group.id, group.key, group.labels, route=group.route)
        muter = Muter(self.silences, self.router.maintenance, now)
        decision = decide(state, [alert], now, lambda labels: self.router.priority(group.route, labels),
                          muter if muter else None)
        self.muted += decision.stats.muted
        self.duplicates += decision.stats.duplicates
        self.all_incidents.update(decision.incidents)

    def incidents(self) -> list[Incident]:
        """Every incident so far, oldest first."""
        return sorted(self.all_incidents.values(), key=lambda i: (i.created_at, i.id))
