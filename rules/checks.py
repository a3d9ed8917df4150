"""Whole-set checks of a rule set: what only all files together can tell.

Duplicate names within a section (across files), dangling action, service, calendar and escalation policy
references, topology cycles, a group rule's ``join_declared`` that cannot apply or names unknown services (an
inhibit rule's without the service label in ``equal``), the service catalog's references (``rules/catalog_checks.py``),
an inhibit rule that mutes itself, more than one priority matrix. Each problem names its file and field path;
``rules/loader.py`` adds the line.

Warnings (:func:`rule_set_warnings`) are what is valid but probably not meant: an inhibit rule's ``equal`` label
that neither its source nor its target matchers require, so two alerts that both lack it are joined.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

from rules.catalog_checks import check_catalog
from rules.matchers import Matcher
from rules.calendar_schema import ALWAYS_CALENDAR
from rules.schema import DECLARED_LABEL, NAMED_SECTIONS, RuleFile


@dataclass(frozen=True)
class SetProblem:
    """A whole-set error, located by file and field path (the loader adds the line)."""

    file: str
    loc: tuple[str | int, ...]
    message: str


def check_rule_set(files: Sequence[tuple[str, RuleFile]], incomplete: frozenset[str] = frozenset()
                   ) -> list[SetProblem]:
    """What no single file can tell: duplicates across files, dangling references, cycles, self-muting.

    The loader also checks what survives of files that failed on their own: there a rule that failed is
    ``None`` (so indices still point at the file's lines), and ``incomplete`` names the sections that lost
    something ("actions", "topology"), whose references are then not checked (the definition may be the
    part that failed)."""
    problems: list[SetProblem] = []
    first_seen: dict[tuple[str, str], tuple[str, int]] = {}
    for file, rules in files:
        for section in NAMED_SECTIONS:
            for i, rule in enumerate(getattr(rules, section)):
                if rule is None:
                    continue
                first = first_seen.setdefault((section, rule.name), (file, i))
                if first != (file, i):
                    problems.append(SetProblem(file, (section, i, "name"), f"duplicate name {rule.name!r} in "
                                               f"{section} (first defined in {first[0]} as {section}[{first[1]}])"))

    actions = {a.name for _, f in files for a in f.actions if a is not None}
    for file, rules in files:
        for i, action in enumerate(rules.actions):
            if action is not None and action.config is None:
                problems.append(SetProblem(file, ("actions", i), f"action {action.name!r} has no config; a "
                                           f"{action.type} action needs one (docs/actions.md)"))
    known = ", ".join(sorted(actions)) if actions else "none are defined (add them under actions:)"
    for file, rules in files:
        for section in ("groups", "problems"):
            for i, rule in enumerate(getattr(rules, section)):
                for j, action in enumerate(() if rule is None else rule.actions):
                    if "actions" not in incomplete and action not in actions:
                        problems.append(SetProblem(file, (section, i, "actions", j),
                                                   f"unknown action {action!r}; defined actions: {known}"))
        for i, rule in enumerate(rules.inhibit):
            if (rule is not None and not rule.equal
                    and set(map(str, rule.source_match)) == set(map(str, rule.target_match))):
                problems.append(SetProblem(file, ("inhibit", i), "source_match and target_match are identical and "
                                           "equal is empty: every matching alert would mute all the others"))

    matrices = [file for file, f in files if f.priority_matrix is not None]
    for file in matrices[1:]:
        problems.append(SetProblem(file, ("priority_matrix",), f"priority_matrix is already defined in {matrices[0]}"))

    problems.extend(_check_topology(files, "topology" not in incomplete))
    problems.extend(SetProblem(*p) for p in check_catalog(files, "topology" not in incomplete))
    problems.extend(_check_calendar_names(files, "calendars" not in incomplete))
    problems.extend(_check_escalations(files, known, "actions" not in incomplete, actions,
                                       "escalation_policies" not in incomplete))
    problems.extend(_check_join_declared(files, "topology" not in incomplete))
    return problems


def _check_escalations(files: Sequence[tuple[str, RuleFile]], known_actions: str, actions_complete: bool,
                       actions: set[str], policies_complete: bool) -> list[SetProblem]:
    """Every escalation step's ``action`` is defined under ``actions:``; every group rule's ``escalation`` names a
    policy under ``escalation_policies:``."""
    problems: list[SetProblem] = []
    policies = {p.name for _, f in files for p in f.escalation_policies if p is not None}
    known = ", ".join(sorted(policies)) if policies else "none are defined (add them under escalation_policies:)"
    for file, rules in files:
        for i, policy in enumerate(rules.escalation_policies):
            for j, step in enumerate(() if policy is None else policy.steps):
                if actions_complete and step.action not in actions:
                    problems.append(SetProblem(file, ("escalation_policies", i, "steps", j, "action"),
                                               f"unknown action {step.action!r}; defined actions: {known_actions}"))
        for i, group in enumerate(rules.groups):
            if (policies_complete and group is not None and group.escalation is not None
                    and group.escalation not in policies):
                problems.append(SetProblem(file, ("groups", i, "escalation"),
                                           f"unknown escalation policy {group.escalation!r}; known policies: "
                                           f"{known}"))
    return problems


def _check_join_declared(files: Sequence[tuple[str, RuleFile]], complete: bool) -> list[SetProblem]:
    """A group rule's ``join_declared``: not on the rule of declared incidents themselves (its matchers need
    ``__declared__``, which no alert carries), and its ``services`` in the catalog when the topology has one."""
    services = {name for _, f in files if f.topology is not None for name in f.topology.services}
    problems: list[SetProblem] = []
    for file, rules in files:
        for i, rule in enumerate(rules.groups):
            if rule is None or rule.join_declared is None:
                continue
            if any(m.name == DECLARED_LABEL and not m.matches({}) for m in rule.match):
                problems.append(SetProblem(file, ("groups", i, "join_declared"), (
                    f"rule {rule.name!r} matches {DECLARED_LABEL}, which only declared incidents carry: no alert "
                    f"falls under it, so join_declared would do nothing; put it on the rules of the alerts that "
                    f"should join")))
            if not (complete and services):
                continue
            for j, name in enumerate(rule.join_declared.services):
                if name not in services:
                    problems.append(SetProblem(file, ("groups", i, "join_declared", "services", j), (
                        f"unknown service {name!r}; join_declared.services names services of topology.services "
                        f"({', '.join(sorted(services))})")))
    label = next((f.topology.service_label for _, f in files if f.topology is not None), "service")
    for file, rules in files if complete else ():  # the service label is the topology's
        for i, inhibit in enumerate(rules.inhibit):
            if inhibit is not None and inhibit.join_declared and label not in inhibit.equal:
                problems.append(SetProblem(file, ("inhibit", i, "join_declared"), (
                    f"inhibit rule {inhibit.name!r}: join_declared joins the incident declared for the service the "
                    f"target shares with its source, so equal must hold the service label {label!r}")))
    return problems


def _check_calendar_names(files: Sequence[tuple[str, RuleFile]], complete: bool) -> list[SetProblem]:
    """Every service-level policy's ``calendar`` is defined under ``calendars:`` (or is the built-in 24x7)."""
    if not complete:
        return []
    defined = {c.name for _, f in files for c in f.calendars if c is not None}
    known = ", ".join([ALWAYS_CALENDAR, *sorted(defined)])
    problems: list[SetProblem] = []
    for file, rules in files:
        for i, policy in enumerate(rules.service_levels):
            if policy is not None and policy.calendar != ALWAYS_CALENDAR and policy.calendar not in defined:
                problems.append(SetProblem(file, ("service_levels", i, "calendar"),
                                           f"unknown calendar {policy.calendar!r}; known calendars: {known}"))
    return problems


def rule_set_warnings(files: Sequence[tuple[str, RuleFile]]) -> list[SetProblem]:
    """What is valid but may not be what the author meant (``rules check`` prints these and still passes)."""
    warnings: list[SetProblem] = []
    for file, rules in files:
        for i, rule in enumerate(rules.inhibit):
            if rule is None:
                continue
            for j, label in enumerate(rule.equal):
                if _may_lack(rule.source_match, label) and _may_lack(rule.target_match, label):
                    warnings.append(SetProblem(file, ("inhibit", i, "equal", j), (
                        f"equal label {label!r} is required by neither source_match nor target_match: a source and "
                        f"a target that both lack it count as equal (as in Alertmanager), so unrelated alerts "
                        f"without {label!r} may be joined; add {label}!=\"\" to source_match (or target_match) to "
                        f"require it")))
    return warnings


def _may_lack(matchers: Sequence[Matcher], label: str) -> bool:
    """Whether an alert without ``label`` can satisfy these matchers (a missing label is the empty value)."""
    return all(m.matches({}) for m in matchers if m.name == label)


def _check_topology(files: Sequence[tuple[str, RuleFile]], complete: bool) -> list[SetProblem]:
    """Services defined once, dependencies that exist (when ``complete``), edges that extend a defined service with
    a new dependency, no cycles."""
    problems: list[SetProblem] = []
    owner: dict[str, str] = {}
    graph: dict[str, tuple[str, ...]] = {}
    label: tuple[str, str] | None = None
    for file, rules in files:
        if rules.topology is None:
            continue
        if "service_label" in rules.topology.model_fields_set:
            if label is not None and label[0] != rules.topology.service_label:
                problems.append(SetProblem(file, ("topology", "service_label"),
                                           f"service_label {rules.topology.service_label!r} conflicts with "
                                           f"{label[0]!r} set in {label[1]}"))
            label = label or (rules.topology.service_label, file)
        for name, service in rules.topology.services.items():
            if name in owner:
                problems.append(SetProblem(file, ("topology", "services", name),
                                           f"service {name!r} is already defined in {owner[name]} (to add "
                                           f"dependencies to it from this file, list them under topology.edges)"))
                continue
            owner[name] = file
            graph[name] = service.depends_on
    for file, rules in files:
        if rules.topology is None:
            continue
        for name, service in rules.topology.services.items():
            for j, dep in enumerate(service.depends_on):
                if complete and dep not in graph:
                    problems.append(SetProblem(file, ("topology", "services", name, "depends_on", j),
                                               f"{name!r} depends on unknown service {dep!r}; add it under "
                                               f"topology.services"))
    added = _check_edges(files, graph, owner, complete, problems)
    for cycle in _cycles(graph):
        at = next((added[step] for step in zip(cycle, cycle[1:], strict=False) if step in added), None)
        problems.append(SetProblem(*at, f"topology cycle: {' -> '.join(cycle)}") if at else
                        SetProblem(owner[cycle[0]], ("topology", "services", cycle[0], "depends_on"),
                                   f"topology cycle: {' -> '.join(cycle)}"))
    return problems


_At = tuple[str, tuple[str | int, ...]]  # a file and a field path


def _check_edges(files: Sequence[tuple[str, RuleFile]], graph: dict[str, tuple[str, ...]], owner: dict[str, str],
                 complete: bool, problems: list[SetProblem]) -> dict[tuple[str, str], _At]:
    """``topology.edges``: each names a service defined under ``topology.services`` (in some file) and a dependency
    it does not have yet; adds them to ``graph`` and returns where each added edge is written."""
    added: dict[tuple[str, str], _At] = {}
    for file, rules in files:
        if rules.topology is None:
            continue
        for name, dependencies in rules.topology.edges.items():
            if name not in graph:
                if complete:
                    problems.append(SetProblem(file, ("topology", "edges", name),
                                               f"edges add dependencies to services defined under topology.services "
                                               f"(in any file); no file defines {name!r}"))
                continue
            for j, dep in enumerate(dependencies):
                at: tuple[str | int, ...] = ("topology", "edges", name, j)
                if dep in graph[name]:
                    where = added.get((name, dep), (owner[name], ()))[0]
                    problems.append(SetProblem(file, at, f"{name!r} already depends on {dep!r} (in {where}); "
                                                         f"each dependency is declared once"))
                elif complete and dep not in graph:
                    problems.append(SetProblem(file, at, f"{name!r} depends on unknown service {dep!r}; add it "
                                                         f"under topology.services"))
                else:
                    graph[name] = (*graph[name], dep)
                    added[(name, dep)] = (file, at)
    return added


def _cycles(graph: dict[str, tuple[str, ...]]) -> list[list[str]]:
    """One cycle per strongly connected loop found by depth-first search, each as a closed path."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in graph.get(node, ()):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                found.append([*path[path.index(dep):], dep])
            elif dep not in state:
                visit(dep)
        path.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    return found
