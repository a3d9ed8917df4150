"""`stormwatch rules check` as a person runs it: exit codes and file:line messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the CLI of this checkout (``-m`` from its root), whichever checkout the environment's ``stormwatch`` script was
# installed from
STORMWATCH = [sys.executable, "-m", "stormwatch.cli"]


def _check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STORMWATCH, "rules", "check", str(directory)], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"})


def test_shipped_examples_are_valid():
    result = _check(ROOT / "rules" / "examples")
    assert result.returncode == 0, result.stderr
    assert "rules OK" in result.stdout


def test_every_mistake_is_listed_with_file_and_line():
    result = _check(ROOT / "tests" / "unit" / "testdata" / "rules" / "several")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("10 error(s)")
    assert "several-mistakes.yaml:4: groups[0].gruop_by: unknown key 'gruop_by'" in result.stderr


def _inhibit_rules(tmp_path: Path, source: list[str], target: list[str]) -> Path:
    import yaml

    (tmp_path / "inhibit.yaml").write_text(yaml.safe_dump({"inhibit": [
        {"name": "down-mutes-errors", "source_match": ['alertname="Down"', *source],
         "target_match": ['alertname="Errors"', *target], "equal": ["cluster"]}]}, sort_keys=False))
    return tmp_path


def test_an_equal_label_no_matcher_requires_is_a_warning_not_an_error(tmp_path):
    result = _check(_inhibit_rules(tmp_path, [], ['cluster=~".*"']))  # a regex that accepts "" requires nothing
    assert result.returncode == 0, result.stderr
    assert "rules OK (1 warning(s))" in result.stdout
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"warning: {tmp_path}/inhibit.yaml:")
    assert ": inhibit[0].equal[0]: equal label 'cluster' is required by neither source_match nor target_match" in line
    assert "may be joined" in line and 'cluster!=""' in line


def test_an_equal_label_required_on_either_side_joins_no_alerts_without_it_and_is_not_warned(tmp_path):
    for source, target in ((['cluster!=""'], []), ([], ['cluster=~".+"']), (['cluster="eu-1"'], [])):
        result = _check(_inhibit_rules(tmp_path, source, target))
        assert result.returncode == 0 and "warning" not in result.stderr, (source, target, result.stderr)
        assert "rules OK" in result.stdout


def test_shipped_examples_have_no_warnings():
    result = _check(ROOT / "rules" / "examples")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr


def test_an_unknown_escalation_policy_and_step_action_are_named(tmp_path: Path) -> None:
    (tmp_path / "escalation.yaml").write_text("""\
actions:
  - {name: page-secondary, type: notify, config: {channel: slack, url: "https://hooks.example.com/x", text: hi}}
escalation_policies:
  - name: dba
    steps:
      - {after: 5m, action: page-secondry, repeat: {count: 3, interval: 10m}}
groups:
  - name: database
    escalation: dab
""")
    result = subprocess.run([*STORMWATCH, "rules", "check", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert (f"{tmp_path}/escalation.yaml:6: escalation_policies[0].steps[0].action: unknown action "
            "'page-secondry'; defined actions: page-secondary") in result.stderr
    assert (f"{tmp_path}/escalation.yaml:9: groups[0].escalation: unknown escalation policy 'dab'; known policies: "
            "dba") in result.stderr
