"""The service catalog's whole-set checks (``docs/services.md``): every team, business service, binding target,
recurring change window's service and support-hours calendar a catalog entry names exists somewhere in the rule
set; each defined once.

Cycles in ``depends_on`` and unknown dependencies are the topology's own checks (``rules/checks.py``): the catalog is
the topology's services, not a second graph. A support-hours calendar is the built-in ``24x7`` or one defined under
``calendars:`` (the section service levels use, ``docs/service-levels.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from rules.calendar_schema import ALWAYS_CALENDAR
from rules.schema import RuleFile


class CatalogProblem(NamedTuple):
    file: str
    loc: tuple[str | int, ...]
    message: str


def calendar_names(files: Sequence[tuple[str, RuleFile]]) -> set[str]:
    """The calendars a rule set may name: the built-in ``24x7`` and those its files define."""
    return {ALWAYS_CALENDAR, *(c.name for _, rules in files for c in rules.calendars if c is not None)}


def check_catalog(files: Sequence[tuple[str, RuleFile]], complete: bool) -> list[CatalogProblem]:
    """Teams and business services defined once; references to them, and bindings' services, that exist (when
    ``complete``: nothing of the topology failed to load)."""
    problems: list[CatalogProblem] = []
    teams: dict[str, str] = {}
    business: dict[str, str] = {}
    services: set[str] = set()
    for file, rules in files:
        if rules.topology is None:
            continue
        services.update(rules.topology.services)
        for section, seen, names in (("teams", teams, rules.topology.teams),
                                     ("business_services", business, rules.topology.business_services)):
            for name in names:
                if name in seen:
                    problems.append(CatalogProblem(file, ("topology", section, name),
                                                   f"{section[:-1].replace('_', ' ')} {name!r} is already defined "
                                                   f"in {seen[name]}"))
                seen.setdefault(name, file)
    if not complete:
        return problems
    calendars = calendar_names(files)
    for file, rules in files:
        if rules.topology is None:
            continue
        for name, service in rules.topology.services.items():
            at = ("topology", "services", name)
            if service.owner is not None and service.owner not in teams:
                problems.append(CatalogProblem(file, (*at, "owner"), f"{name!r} is owned by unknown team "
                                               f"{service.owner!r}; add it under topology.teams"))
            for j, supported in enumerate(service.business_services):
                if supported not in business:
                    problems.append(CatalogProblem(file, (*at, "business_services", j),
                                                   f"{name!r} supports unknown business service {supported!r}; add "
                                                   f"it under topology.business_services"))
            if service.support_hours is not None and service.support_hours not in calendars:
                problems.append(CatalogProblem(file, (*at, "support_hours"), f"{name!r} has support hours in "
                                               f"unknown calendar {service.support_hours!r}"))
        for name, entry in rules.topology.business_services.items():
            if entry.owner is not None and entry.owner not in teams:
                problems.append(CatalogProblem(file, ("topology", "business_services", name, "owner"),
                                               f"business service {name!r} is owned by unknown team "
                                               f"{entry.owner!r}; add it under topology.teams"))
        for i, binding in enumerate(rules.topology.bindings):
            if binding.service not in services:
                problems.append(CatalogProblem(file, ("topology", "bindings", i, "service"),
                                               f"binding {binding.name!r} names unknown service "
                                               f"{binding.service!r}; add it under topology.services"))
    for file, rules in files:
        for i, window in enumerate(rules.change_windows):
            for j, covered in enumerate(() if window is None else window.services):
                if covered not in services:
                    problems.append(CatalogProblem(file, ("change_windows", i, "services", j),
                                                   f"change window {window.name!r} names unknown service "
                                                   f"{covered!r}; add it under topology.services"))
    return problems
