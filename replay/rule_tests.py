"""Runs rule test files (``rules/testfile.py``) through the in-memory engine and reports readable differences.

Times in a test are offsets from a fixed instant, Monday 2026-01-05 00:00 UTC, so maintenance windows can be
tested with ``at:`` values (``at: 25h30m`` is Tuesday 01:30 UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path

import yaml
from pydantic import ValidationError

from correlation.core.change_windows import ChangeWindow
from correlation.core.model import Incident
from correlation.core.muting import Silence
from correlation.core.escalation_policies import replay_escalation
from correlation.core.service_levels import ServiceLevels, incident_facts, replay_records
from replay.simulation import Simulation
from rules.alert import Alert
from rules.fingerprint import fingerprint
from rules.loader import RuleSetInvalid, load_rule_set
from rules.matchers import MatcherError, parse_matcher
from rules.testfile import Checkpoint, ExpectedIncident, ExpectedProblem, RuleTest, RuleTestFile

T0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday
_FIELDS = ("status", "priority", "team", "severity", "rule", "alerts", "firing", "occurrences", "flapping", "service",
           "business_services")


@dataclass
class TestResult:
    file: str
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def run_file(path: Path) -> list[TestResult]:
    try:
        doc = RuleTestFile.model_validate(yaml.safe_load(path.read_text()) or {})
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        return [TestResult(str(path), "(file)", [f"cannot read the test file: {exc}"])]
    rules_dir = (path.parent / doc.rules).resolve()
    try:
        rule_set = load_rule_set(rules_dir)
    except RuleSetInvalid as exc:
        problems = [f"rules in {rules_dir} are invalid:"] + [f"  {e}" for e in exc.errors]
        return [TestResult(str(path), "(rules)", problems)]
    return [_run_test(str(path), test, rule_set, doc.group_by) for test in doc.tests]


def _run_test(file: str, test: RuleTest, rule_set, group_by: list[str]) -> TestResult:
    result = TestResult(file, test.name)
    sim = Simulation(rule_set, tuple(group_by))
    try:
        sim.silences = [
            Silence.create([parse_matcher(m) for m in s.matchers], T0 + s.from_, T0 + s.until, "rule test",
                           s.comment, T0, silence_id=f"{n:012x}")  # ids by position: a replay is reproducible
            for n, s in enumerate(test.silences, 1)
        ]
    except (MatcherError, ValueError) as exc:
        result.problems.append(f"invalid silence: {exc}")
        return result
    try:
        sim.change_windows = [
            ChangeWindow.create(w.id or f"window-{n}", T0 + w.from_, T0 + w.until, mode=w.mode, services=w.services,
                                matchers=[parse_matcher(m) for m in w.matchers], summary=w.summary,
                                created_by="rule test", now=T0)
            for n, w in enumerate(test.change_windows, 1)
        ]
    except (MatcherError, ValueError) as exc:
        result.problems.append(f"invalid change window: {exc}")
        return result
    pending = sorted(test.alerts, key=lambda a: a.at)  # stable: same-time alerts keep file order
    people = sorted(test.people, key=lambda p: p.at)
    # changes come first at the same instant: a deploy recorded at 0s precedes an alert at 0s
    changes = sorted(((c.at, n, c) for n, c in enumerate(test.changes, 1)), key=lambda t: (t[0], t[1]))
    episode_start: dict[str, float] = {}

    def feed_changes(until: float) -> None:
        while changes and changes[0][0] <= until:
            at, n, c = changes.pop(0)
            sim.add_change({"id": c.id or f"change-{n}", "service": c.service, "summary": c.summary, "kind": c.kind,
                            "at": T0 + at, "environment": c.environment, "source": c.source, "links": []}, T0 + at)

    for checkpoint in sorted(test.expect, key=lambda c: c.at):
        while (pending and pending[0].at <= checkpoint.at) or (people and people[0].at <= checkpoint.at):
            feed_changes(min([x.at for x in (pending[:1] + people[:1])]))
            if people and (not pending or people[0].at < pending[0].at):
                act = people.pop(0)
                if act.acknowledge is not None and not sim.acknowledge(act.acknowledge, T0 + act.at):
                    result.problems.append(f"at {_offset(act.at)}: {act.by} cannot acknowledge {act.acknowledge!r}: "
                                           "no open incident has that title")
                if act.resolve is not None and not sim.resolve(act.resolve, T0 + act.at, act.by):
                    result.problems.append(f"at {_offset(act.at)}: {act.by} cannot resolve {act.resolve!r}: "
                                           "no open incident has that title")
                if (act.problem is not None and act.status is not None  # PersonAction: problem comes with status
                        and not sim.set_problem_status(act.problem, act.status, T0 + act.at)):
                    result.problems.append(f"at {_offset(act.at)}: {act.by} cannot mark {act.problem!r} "
                                           f"{act.status}: no open problem has that title")
                continue
            item = pending.pop(0)
            fp = fingerprint(item.labels)
            if item.status == "firing" and fp not in episode_start:
                episode_start[fp] = item.at
            start = item.starts_at if item.starts_at is not None else episode_start.get(fp, item.at)
            if item.status == "resolved":
                episode_start.pop(fp, None)
            alert = Alert(
                labels=item.labels, status=item.status, starts_at=T0 + start, received_at=T0 + item.at,
                fingerprint=fp, source="rule-test", annotations=item.annotations,
                ends_at=T0 + item.at if item.status == "resolved" else None,
            )
            sim.feed(alert, T0 + item.at)
        feed_changes(checkpoint.at)
        sim.advance(T0 + checkpoint.at)
        result.problems += _compare(checkpoint, sim)
    return result


def _compare(checkpoint: Checkpoint, sim: Simulation) -> list[str]:
    where = f"at {_offset(checkpoint.at)}"
    problems: list[str] = []
    actual = sim.incidents()
    unmatched = list(actual)
    for expected in checkpoint.incidents:
        found = next((i for i in unmatched if i.title == expected.title), None)
        if found is None:
            problems.append(f"{where}: missing incident {expected.title!r}")
            continue
        unmatched.remove(found)
        problems += [f"{where}: incident {expected.title!r}: {d}"
                     for d in _differences(expected, found, sim, T0 + checkpoint.at)]
    for extra in unmatched:
        problems.append(f"{where}: unexpected incident {extra.title!r} ({extra.status}, {extra.alerts} alert(s))")
    if checkpoint.muted is not None and sim.muted != checkpoint.muted:
        problems.append(f"{where}: muted expected {checkpoint.muted}, got {sim.muted}")
    if checkpoint.muted_by is not None:
        got_by = {key: sim.muted_by.get(key, 0) for key in checkpoint.muted_by}
        if got_by != checkpoint.muted_by:
            problems.append(f"{where}: muted_by expected {checkpoint.muted_by}, got {got_by} (all: "
                            f"{dict(sorted(sim.muted_by.items()))})")
    if checkpoint.problems is not None:
        problems += _compare_problems(where, checkpoint.problems, sim)
    if checkpoint.actions is not None:
        titles = {i.id: i.title for i in actual} | {p.id: p.title for p in sim.problems()}
        got = sorted((a, titles.get(subject, subject), on) for a, subject, on in sim.actions_started)
        want = sorted((a.action, a.incident or a.problem or "", a.on) for a in checkpoint.actions)
        if got != want:
            problems.append(f"{where}: actions started expected {_actions(want)}, got {_actions(got)}")
    if problems:
        problems.append(f"{where}: incidents were: " + "; ".join(_summary(i, sim) for i in actual) if actual
                        else f"{where}: there were no incidents")
    return problems


def _compare_problems(where: str, expected: list[ExpectedProblem], sim: Simulation) -> list[str]:
    out: list[str] = []
    unmatched = sim.problems()
    for want in expected:
        found = next((p for p in unmatched if p.title == want.title), None)
        if found is None:
            out.append(f"{where}: missing problem {want.title!r}")
            continue
        unmatched.remove(found)
        got = {"status": found.status, "incidents": len(found.incidents), "rule": found.rule}
        for name, value in got.items():
            if getattr(want, name) is not None and getattr(want, name) != value:
                out.append(f"{where}: problem {want.title!r}: {name} expected {getattr(want, name)!r}, got {value!r}")
    for extra in unmatched:
        out.append(f"{where}: unexpected problem {extra.title!r} ({extra.status}, {len(extra.incidents)} incident(s))")
    return out


def _sla_stages(incident: Incident, sim: Simulation, now: float) -> dict[str, str]:
    levels = ServiceLevels.of(sim.rule_set) if sim.rule_set is not None else ServiceLevels()
    facts = incident_facts(incident.priority, incident.team, incident.rule, incident.group_labels)
    records = replay_records(levels, facts, incident.group_labels, incident.created_at,
                             sim.acknowledged.get(incident.id), incident.resolved_at, now)
    stages = {r.kind: r.stage for r in records}
    return {kind: stages.get(kind, "none") for kind in ("respond", "resolve")}


def _escalation_steps(incident: Incident, sim: Simulation, now: float) -> list[tuple[int, int, str]]:
    """(step, repeat, action) of every escalation run the incident's policy started by ``now``, in order of due
    time, by the same pure core the due-time service uses (acknowledged at or before a run's due time: not run)."""
    rule_set = sim.rule_set
    group = next((g for g in rule_set.groups if g.name == incident.rule), None) if rule_set is not None else None
    policy = (next((p for p in rule_set.escalation_policies if p.name == group.escalation), None)
              if rule_set is not None and group is not None and group.escalation else None)
    if policy is None:
        return []
    runs = replay_escalation(policy, incident.created_at, sim.acknowledged.get(incident.id), incident.resolved_at,
                             now)
    return [(f.step, f.run, f.action) for f in sorted(runs, key=lambda f: (f.due, f.step))]


def _differences(expected: ExpectedIncident, actual: Incident, sim: Simulation, now: float) -> list[str]:
    out = []
    if expected.sla is not None:
        stages = _sla_stages(actual, sim, now)
        for kind, stage in expected.sla.items():
            if stages[kind] != stage:
                out.append(f"sla {kind} expected {stage}, got {stages[kind]}")
    if expected.escalation is not None:
        steps = [(e.step, e.repeat, e.action) for e in expected.escalation]
        started = _escalation_steps(actual, sim, now)
        if started != steps:
            out.append(f"escalation expected {_steps(steps)}, got {_steps(started)}")
    symptoms = sim.symptoms_of(actual.id)
    got = {name: getattr(actual, name) for name in _FIELDS}
    got["symptoms"] = len(symptoms)
    got["symptom_paths"] = sorted(" > ".join(s.path) for s in symptoms if s.path)
    into = sim.all_incidents.get(actual.merged_into)
    got["merged_into"] = into.title if into is not None else actual.merged_into
    got["changes"] = [c["summary"] for c in sim.linked_changes.get(actual.id, [])]
    window = sim.change_window_of.get(actual.id, "")
    got["change_window"] = window.partition("@")[0] if expected.change_window is not None and \
        "@" not in expected.change_window else window
    for name, value in got.items():
        want = getattr(expected, name)
        if name == "symptom_paths" and want is not None:
            want = sorted(want)
        if want is not None and value != want:
            out.append(f"{name} expected {want!r}, got {value!r}")
    return out


def _steps(runs: list[tuple[int, int, str]]) -> str:
    return "[" + ", ".join(f"step {s}{f' repeat {r}' if r else ''}: {a}" for s, r, a in runs) + "]" if runs else "none"


def _summary(i: Incident, sim: Simulation) -> str:
    return (f"{i.title!r} status={i.status} priority={i.priority or '-'} team={i.team or '-'} rule={i.rule} "
            f"alerts={i.alerts} firing={i.firing} symptoms={len(sim.symptoms_of(i.id))} flapping={i.flapping}"
            + (f" merged_into={sim.all_incidents[i.merged_into].title!r}" if i.merged_into in sim.all_incidents
               else ""))


def _actions(items: Sequence[tuple[str, str, str]]) -> str:
    return "[" + ", ".join(f"{a} on {on} of {title!r}" for a, title, on in items) + "]" if items else "none"


def _offset(seconds: float) -> str:
    """``5400`` -> ``1h30m``: the way the test file writes times."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
    return text or "0s"
