"""What a rule set already knows, as ``stormwatch rules suggest --rules DIR`` reads it. Pure, no I/O.

Everything is asked of the engine's own router, built from the rule set as a worker builds it, so the answers are
the engine's: an alert's labels are **enriched** (``enrichment``) and it is **bound** to a service by the catalog
(``topology.bindings``, else the topology's service label); a (cause, symptom) pair of alerts is **explained** when
a key the cause feeds is one the symptom looks up (an inhibit rule, with its ``equal`` labels, or the topology's
roll-up; ``correlation.core.causes``); an alert is **routed** by the first group rule that matches it, **flaps**
under the first flapping rule, and **recurs** under the recurrence problem rules that match it.

``rules suggest`` then keeps a candidate only when the rule set does not already say it: an edge the topology has,
directly or through other services, is *already known*, and so is an inhibit rule whose every supporting pair the
rule set explains, a group rule for alerts a group or flapping rule already handles, and a problem rule for alerts
a recurrence rule already counts.
"""

from __future__ import annotations

from collections.abc import Mapping

from correlation.core.routing import DEFAULT_RULE, Router
from rules.alert import Alert
from rules.schema import NAMED_SECTIONS, RuleSet


class KnownRules:
    """One rule set, read for ``rules suggest``."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set
        self.router = Router(rule_set, ("alertname", "service"))
        self.service_label = rule_set.topology.service_label
        self.hold = rule_set.topology.hold
        self.services = frozenset(rule_set.topology.services)

    def labels(self, alert: Alert) -> Mapping[str, str]:
        """An alert's labels as the engine reads them: enriched."""
        return self.router.enrich(alert).labels if self.router.enrich else alert.labels

    def service(self, labels: Mapping[str, str]) -> str:
        """The service the catalog binds these (enriched) labels to, or ""."""
        return self.router.catalog.service(labels)

    def depends(self) -> dict[str, set[str]]:
        """The topology's graph: service -> the services it depends on directly."""
        return {name: set(service.depends_on) for name, service in self.rule_set.topology.services.items()}

    def edge(self, service: str, depends_on: str) -> str | None:
        """How the topology already says ``service`` depends on ``depends_on``, or None."""
        path = dict(self.router.causes.dependencies(service)).get(depends_on)
        if path is None:
            return None
        return "in the topology" if len(path) == 2 else f"implied by the topology: {' -> '.join(path)}"

    def explains(self, cause: Mapping[str, str], symptom: Mapping[str, str]) -> str | None:
        """Which rule already makes an alert with ``symptom``'s labels a symptom of one with ``cause``'s, or None."""
        fed = set(self.router.causes.feeds(cause))
        for lookup in self.router.causes.lookups(symptom):
            if lookup.key in fed:
                return (f"inhibit rule {lookup.rule}" if lookup.kind == "inhibited"
                        else f"the topology: {' -> '.join(lookup.path)}")
        return None

    def handles_refires(self, labels: Mapping[str, str]) -> str | None:
        """The rule that already decides how alerts with these labels group across resolves, or None: a group rule
        routes them (a suggested one after it would never be reached), or a flapping rule matches them."""
        route = self.router.route(labels)
        if route.rule != DEFAULT_RULE:
            return f"group rule {route.rule}"
        flapping = self.router.flap_rule(labels)
        return f"flapping rule {flapping.name}" if flapping is not None else None

    def recurs(self, labels: Mapping[str, str]) -> str | None:
        """The recurrence problem rule that already counts alerts with these labels, or None."""
        found = self.router.problems(labels)
        return f"problem rule {found[0][0]}" if found else None

    def names(self, section: str) -> frozenset[str]:
        """The rule names already used in a named section (``groups``, ``inhibit``, ``problems``, ...)."""
        assert section in NAMED_SECTIONS
        return frozenset(rule.name for rule in getattr(self.rule_set, section))
