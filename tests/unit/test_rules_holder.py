"""RuleHolder: the running rule set of a process. A new set is validated whole before it is swapped in; whoever
builds on the rules is told of a swap and builds off the event loop when the API or the watcher reloads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from rules.schema import RuleSet
from stormwatch.config import load_settings
from stormwatch.errors import RulesInvalid
from stormwatch.metrics import Metrics
from stormwatch.rules_holder import RuleHolder

ONE_GROUP = """
groups:
  - name: first
    match: ['alertname="A"']
    group_by: [service]
"""
INVALID = ONE_GROUP.replace("group_by: [service]", "group_by: [\"\"]")
TWO_GROUPS = ONE_GROUP + """  - name: second
    match: ['alertname="B"']
    group_by: [service]
"""


class Builder:
    """A subscriber that records which set it built for, in which thread, and which builds were swapped in."""

    def __init__(self) -> None:
        self.built: list[tuple[int, str]] = []
        self.swapped: list[int] = []

    def __call__(self, rule_set: RuleSet | None) -> Callable[[], None]:
        groups = len(rule_set.groups) if rule_set else 0
        self.built.append((groups, threading.current_thread().name))
        return lambda: self.swapped.append(groups)


def _holder(tmp_path: Path, text: str) -> tuple[RuleHolder, Metrics, Path]:
    (tmp_path / "rules.yaml").write_text(text)
    metrics = Metrics.create()
    holder = RuleHolder(load_settings(rules=str(tmp_path)), metrics, runs_actions=False)
    holder.load()
    return holder, metrics, tmp_path / "rules.yaml"


def _reloads(metrics: Metrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("stormwatch_rules_reloads_total", {"outcome": outcome}) or 0.0


def test_a_valid_set_is_swapped_in_and_subscribers_swap_with_it(tmp_path: Path) -> None:
    holder, metrics, path = _holder(tmp_path, ONE_GROUP)
    builder = Builder()
    holder.subscribe(builder)
    assert holder.current() is not None and len(holder.current().groups) == 1
    assert builder.built == []  # load() at start tells no one: the worker builds its router from current()

    path.write_text(TWO_GROUPS)
    assert holder.reload_rules()
    assert len(holder.current().groups) == 2
    assert [groups for groups, _ in builder.built] == [2] and builder.swapped == [2]
    assert holder.rules_summary()["kinds"]["group"] == 2
    assert _reloads(metrics, "applied") == 1


def test_a_refused_set_leaves_the_running_one_and_says_why(tmp_path: Path) -> None:
    holder, metrics, path = _holder(tmp_path, ONE_GROUP)
    builder = Builder()
    holder.subscribe(builder)
    running = holder.current()

    path.write_text(INVALID)
    errors: list[str] = []
    assert not holder.reload_rules(errors)
    assert holder.current() is running
    assert builder.built == [] and builder.swapped == []
    assert errors and all("rules.yaml" in e for e in errors), errors
    assert _reloads(metrics, "refused") == 1 and _reloads(metrics, "applied") == 0


async def test_the_api_reload_builds_off_the_event_loop_and_swaps_on_it(tmp_path: Path) -> None:
    holder, _, path = _holder(tmp_path, ONE_GROUP)
    builder = Builder()
    holder.subscribe(builder)
    path.write_text(TWO_GROUPS)

    assert await holder.reload_rules_checked() == []
    ((groups, thread),) = builder.built
    assert groups == 2 and thread != threading.current_thread().name
    assert builder.swapped == [2]

    path.write_text("groups: [")
    assert await holder.reload_rules_checked() != []
    assert len(holder.current().groups) == 2


def test_an_invalid_set_at_start_is_an_error_naming_the_setting(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(INVALID)
    holder = RuleHolder(load_settings(rules=str(tmp_path)), Metrics.create(), runs_actions=False)
    with pytest.raises(RulesInvalid, match=f"STORMWATCH_RULES={tmp_path}"):
        holder.load()


def test_no_rules_is_none_and_a_file_is_validated_alone(tmp_path: Path) -> None:
    holder = RuleHolder(load_settings(rules="none"), Metrics.create(), runs_actions=True)
    assert holder.load() is None
    assert holder.rules_summary()["source"] == "none"
    assert holder.validate_rule_file("new.yaml", ONE_GROUP) == []
    assert holder.validate_rule_file("new.yaml", INVALID) != []
