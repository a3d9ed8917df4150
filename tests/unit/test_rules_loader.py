"""The rule loader: the shipped examples load, and every mistake is reported with its file, line and path.

Each file in ``testdata/rules/bad/`` holds one mistake. Its first line says what the error must contain
(``# expect: ...``) and ``# <-- error`` marks the line it must point at; a subdirectory of ``bad/`` is one
case spread over several files (the expectation is in the file holding the mark).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from rules.loader import EXAMPLES_DIR, RuleError, RuleSetInvalid, check_directory, load_rule_set
from rules.matchers import MatchType
from rules.schema import ITIL_MATRIX, RuleFile, parse_duration

TESTDATA = Path(__file__).parent / "testdata" / "rules"
BAD_CASES = sorted(p for p in (TESTDATA / "bad").iterdir() if p.suffix == ".yaml" or p.is_dir())
MARK = "# <-- error"


def _expectation(case: Path) -> tuple[str, str, int]:
    """(file name, message fragment, line) from the case's marked file."""
    files = sorted(case.glob("*.yaml")) if case.is_dir() else [case]
    for file in files:
        lines = file.read_text(encoding="utf-8").splitlines()
        marked = [n for n, line in enumerate(lines, 1) if MARK in line]
        if marked:
            assert lines[0].startswith("# expect: "), f"{file}: first line must be '# expect: ...'"
            return file.name, lines[0].removeprefix("# expect: "), marked[0]
    raise AssertionError(f"{case}: no line marked {MARK!r}")


@pytest.fixture
def case_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The case alone in a directory (a single file would otherwise share a rule set with the other cases)."""
    case: Path = request.param
    if case.is_dir():
        return case
    shutil.copy(case, tmp_path / case.name)
    return tmp_path


@pytest.mark.parametrize("case_dir", BAD_CASES, ids=[p.stem for p in BAD_CASES], indirect=True)
def test_each_mistake_is_reported_at_its_file_and_line(case_dir: Path) -> None:
    name, fragment, line = _expectation(case_dir)
    errors = check_directory(case_dir)
    assert len(errors) == 1, "\n".join(map(str, errors))
    error = errors[0]
    assert fragment in str(error), str(error)
    assert (Path(error.file).name, error.line) == (name, line), str(error)
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(case_dir)
    assert raised.value.errors == errors


@pytest.mark.parametrize("example", sorted(EXAMPLES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_file_is_valid_with_the_actions_it_names(example: Path, tmp_path: Path) -> None:
    shutil.copy(example, tmp_path / example.name)
    shutil.copy(EXAMPLES_DIR / "actions.yaml", tmp_path / "actions.yaml")
    assert check_directory(tmp_path) == []


def test_the_shipped_examples_load_as_one_set() -> None:
    rules = load_rule_set(EXAMPLES_DIR)
    assert [Path(f).name for f in rules.files] == [
        "actions.yaml", "database-outage.yaml", "flapping-disk.yaml", "kubernetes-node.yaml",
        "nightly-batch-problem.yaml", "priority.yaml"]
    # the demo's storm: orders-db is the root every other service depends on
    services = rules.topology.services
    assert set(services) == {"orders-db", "orders-api", "checkout", "payments", "inventory", "shipping",
                             "notifications"}
    assert all("orders-db" in s.depends_on for name, s in services.items() if name != "orders-db")
    (inhibit,) = [r for r in rules.inhibit if r.name == "postgres-down-mutes-symptoms"]
    assert (inhibit.equal, inhibit.hold) == (("cluster",), 30.0)
    assert str(inhibit.source_match[0]) == 'alertname="PostgresDown"'
    assert rules.priority_matrix.priority("high", "high") == "P1"
    referenced = {a for rule in (*rules.groups, *rules.problems) for a in rule.actions}
    assert referenced <= {a.name for a in rules.actions}
    assert {r.name for r in rules.flapping} == {"disk-flapping"}
    assert {p.name for p in rules.problems} >= {"recurring-batch-failure"}


def test_every_accepted_spelling_loads() -> None:
    rules = load_rule_set(TESTDATA / "good")
    group = rules.groups[0]
    assert [(m.name, m.type, m.value) for m in group.match] == [
        ("severity", MatchType.RE, "critical|page"), ("team", MatchType.EQ, "core"), ("env", MatchType.NRE, "dev|test")]
    assert group.group_by == ("...",)
    assert group.window == 5400.0
    assert rules.groups[1].threshold is not None and rules.groups[1].threshold.within == 0.5
    assert rules.groups[1].group_by == ("alertname", "service")
    assert rules.groups[1].auto_resolve.mode == "all_resolved"
    weekends, unquoted = rules.maintenance
    assert weekends.weekdays == ("saturday", "sunday") and weekends.time_zone == "UTC"
    assert (unquoted.start, unquoted.end) == ("22:00", "06:00")  # YAML 1.1 would read 22:00 as 1320
    assert unquoted.weekdays == ("monday", "tuesday", "wednesday")
    assert rules.actions[1].name == "page-backup" and rules.actions[1].config.channel == "pagerduty"
    assert rules.actions[1].config.routing_key.secret_env == "PD_KEY"  # a typed config (rules/action_schema.py)
    assert [(a, a.on, a.min_priority) for a in group.actions] == [
        ("page-oncall", ("created",), None), ("page-backup", ("escalated",), "P2")]
    assert rules.actions[4].approval == "required" and rules.actions[4].rate_limit[0].window == 300.0
    assert set(rules.topology.services) == {"db", "api", "web"}
    assert rules.priority_matrix.model_dump() == ITIL_MATRIX  # the default when no file defines one
    assert rules.files[0].endswith("comment-only.yaml")  # empty and comment-only files are fine; .txt is not read


def test_several_mistakes_in_one_file_are_all_reported() -> None:
    errors = check_directory(TESTDATA / "several")
    found = [(e.line, e.path, e.message.split(":")[0].split(";")[0]) for e in errors]
    assert found == [
        (4, "groups[0].gruop_by", "unknown key 'gruop_by' (did you mean 'group_by'?)"),
        (5, "groups[0].window", "invalid duration 'soon'"),
        (9, "groups[2].priority.impact", "invalid level 'severe'"),
        (10, "groups[3].name", "duplicate name 'api-errors' in groups (first defined in "
                               f"{TESTDATA / 'several' / 'several-mistakes.yaml'} as groups[1])"),
        (11, "groups[3].actions[0]", "unknown action 'page-nobody'"),
        (15, "maintenance[0].weekdays", "unknown weekday 'funday'"),
        (18, "maintenance[0].time_zone", "unknown time zone 'Mars/Olympus'"),
        (21, "topology.services.a.depends_on", "topology cycle"),
        (23, "topology.services.c.depends_on[0]", "'c' depends on unknown service 'nowhere'"),
        (24, "topology.services.d.depends_on", "expected a list"),
    ]


def test_a_reference_into_a_broken_file_is_not_reported_as_dangling(tmp_path: Path) -> None:
    (tmp_path / "actions.yaml").write_text("actions:\n  - {name: page, type: pager}\n")
    (tmp_path / "groups.yaml").write_text("groups:\n  - {name: g, actions: [page]}\n")
    assert [(Path(e.file).name, e.line, e.path) for e in check_directory(tmp_path)] == [
        ("actions.yaml", 2, "actions[0].type")]


def test_an_error_reads_file_line_path_message() -> None:
    assert str(RuleError("rules/a.yaml", 3, "groups[0].window", "bad")) == "rules/a.yaml:3: groups[0].window: bad"
    assert str(RuleError("rules/a.yaml", None, "", "cannot read")) == "rules/a.yaml: cannot read"


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    assert [e.message for e in check_directory(tmp_path / "nope")] == ["not a directory"]


def test_an_empty_directory_is_an_empty_rule_set(tmp_path: Path) -> None:
    rules = load_rule_set(tmp_path)
    assert rules.groups == () and rules.topology.services == {}


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("250ms", 0.25), ("0s", 0),
    ("1h0m5s", 3605)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "1.5h", "30m1h", "5min", "-5m", "m", 30, None, True])
def test_garbage_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(("section", "text", "fragment"), [
    ("groups", "- {name: g, threshold: {count: 3}}", "count and within go together"),
    ("groups", "- {name: g, threshold: {any_of: []}}", "needs at least one alertname"),
    ("groups", "- {name: g, group_by: ['...', service]}", '"..." (group by all labels) must be alone'),
    ("groups", "- {name: g, auto_resolve: {mode: after_hold}}", "mode after_hold needs a hold"),
    ("groups", "- {name: g, auto_resolve: {hold: 5m}}", "hold only goes with mode after_hold"),
    ("groups", "- {name: g, window: 0s}", "must be longer than 0s"),
    ("groups", "- {name: 'has space'}", "invalid name 'has space'"),
    ("groups", "- {name: g, match: {severity: critical}}", "expected a list of matchers"),
    ("groups", "- {name: g, priority: {impact: {from_label: sev, value: high}}}", "give a level"),
    ("inhibit", "- {name: i, source_match: [], target_match: ['a=b']}", "needs at least one matcher"),
    ("maintenance", "- {name: m, match: ['a=b'], start: '22:00', end: '22:00'}", "the window would be empty"),
    ("maintenance", "- {name: m, match: ['a=b'], weekdays: [friday:monday], start: '1:00', end: '2:00'}",
     "runs backwards"),
    ("problems", "- {name: p}", "use exactly one of: recurrence"),
    ("problems", "- {name: p, shared_root_cause: true, recurrence: {count: 2, within: 1d}}", "exactly one of"),
    ("flapping", "- {name: f, changes: 1, within: 5m, quiet: 5m}", "greater than or equal to 2"),
    ("enrichment", "- {name: e}", "adds nothing"),
    ("enrichment", "- {name: e, add_labels: {'': x}}", "invalid label name '': it must not be empty"),
])
def test_field_rules(section: str, text: str, fragment: str, tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(f"{section}:\n  {text}\n")
    errors = check_directory(tmp_path)
    assert any(fragment in str(e) for e in errors), "\n".join(map(str, errors))
    assert all(e.line == 2 for e in errors)


def test_matchers_accept_one_string_listing_several(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("groups:\n  - name: g\n    match: '{alertname=\"A\", team!=\"db\"}'\n")
    (group,) = load_rule_set(tmp_path).groups
    assert [str(m) for m in group.match] == ['alertname="A"', 'team!="db"']


def test_models_are_frozen() -> None:
    rule_file = RuleFile.model_validate({"actions": [{"name": "a", "type": "http"}]})
    with pytest.raises(ValidationError, match="frozen"):
        rule_file.actions[0].name = "b"  # type: ignore[misc]


def test_a_rule_set_dumps_to_json_without_warnings() -> None:
    import json
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dumped = load_rule_set(EXAMPLES_DIR).model_dump(mode="json")
    assert json.loads(json.dumps(dumped))["inhibit"][0]["source_match"] == ['alertname="PostgresDown"', 'cluster!=""']


def test_utf8_label_names_in_rules_and_classic_refusing_them(tmp_path: Path, classic_label_names: None) -> None:
    from rules import label_names

    (tmp_path / "r.yaml").write_text(
        "groups:\n  - name: otel\n    match: ['\"service.name\"=\"payments\"']\n    group_by: [service.name, k8s.pod.name]\n")
    errors = check_directory(tmp_path)
    assert any("invalid label name 'service.name'" in str(e) for e in errors), errors  # classic
    label_names.set_scheme("utf8")
    assert check_directory(tmp_path) == []


def test_topology_edges_add_dependencies_to_services_another_file_defines(tmp_path: Path) -> None:
    # a fragment (a `rules suggest --rules` draft) sorted before the topology it extends, without a service_label
    (tmp_path / "a-fragment.yaml").write_text("topology:\n  hold: 40s\n  edges:\n    search: [orders-db]\n"
                                              "    checkout: [orders-db]\n  services:\n    ledger: {depends_on: [orders-db]}\n")
    (tmp_path / "b-topology.yaml").write_text(
        "topology:\n  service_label: app\n  hold: 30s\n  services:\n    orders-db: {}\n    search: {}\n"
        "    checkout: {depends_on: [orders-api]}\n    orders-api: {depends_on: [orders-db]}\n")
    assert check_directory(tmp_path) == []
    topology = load_rule_set(tmp_path).topology
    assert {name: s.depends_on for name, s in topology.services.items()} == {
        "orders-db": (), "search": ("orders-db",), "checkout": ("orders-api", "orders-db"),
        "orders-api": ("orders-db",), "ledger": ("orders-db",)}
    assert topology.service_label == "app" and topology.hold == 40.0  # the label a file sets; the longest hold
