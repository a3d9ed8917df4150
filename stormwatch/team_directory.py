"""Alertmanager's receivers in Stormwatch's terms: the teams, read from the running router.

A receiver is where Alertmanager sends a group; Stormwatch assigns an incident to a team. The teams are those the
group rules name, then the default team (``STORMWATCH_DEFAULT_TEAM``). An alert's team is its incident's when it
is in one; for an alert kept out of incidents (silenced, held, a symptom) it is the team its incident would get:
the rule's team, else its ``team`` label, else the default (as ``correlation.core.lifecycle`` assigns an incident).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from correlation.core.routing import Router


class TeamDirectory:
    def __init__(self, router: Callable[[], Router | None], default_team: str) -> None:
        self._router = router  # the running router (swapped whole on a rules reload)
        self.default_team = default_team

    def teams(self) -> list[str]:
        """Every team a rule names, in rule order, then the default team; each once."""
        router = self._router()
        named = [rule.team for rule in router.rules if rule.team] if router is not None else []
        return list(dict.fromkeys([*named, self.default_team]))

    def team_of(self, labels: Mapping[str, str]) -> str:
        router = self._router()
        route_team = router.route(labels).team if router is not None else ""
        return route_team or labels.get("team", "") or self.default_team

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels of the group these labels fall in (the group rule's group_by values)."""
        router = self._router()
        return dict(router(labels).labels) if router is not None else {}
