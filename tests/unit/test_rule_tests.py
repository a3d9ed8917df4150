"""`stormwatch rules test`: the shipped examples' own tests pass; a wrong expectation gives a readable diff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from replay.rule_tests import run_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TESTS = sorted((ROOT / "rules" / "examples" / "tests").glob("*.yaml"))
# the CLI of this checkout (``-m`` from its root), whichever checkout the environment's ``stormwatch`` script was
# installed from
STORMWATCH = [sys.executable, "-m", "stormwatch.cli"]


@pytest.mark.parametrize("path", EXAMPLE_TESTS, ids=lambda p: p.name)
def test_example_rule_tests_pass(path):
    results = run_file(path)
    assert results and all(r.passed for r in results), "\n".join(p for r in results for p in r.problems)


def test_a_wrong_expectation_fails_with_a_readable_difference(tmp_path):
    test = tmp_path / "wrong.test.yaml"
    test.write_text(f"""
rules: {ROOT / 'rules' / 'examples'}
tests:
  - name: wrong priority, a missing and an unexpected incident
    alerts:
      - {{at: 0s, labels: {{alertname: PostgresDown, service: orders-db, severity: critical}}}}
      - {{at: 0s, labels: {{alertname: Unplanned, service: x}}}}
    expect:
      - at: 1m30s
        incidents:
          - {{title: "database-outage: orders-db", priority: P3}}
          - {{title: "never opened"}}
        muted: 2
        problems:
          - {{title: "no such problem"}}
        actions:
          - {{action: page-dba, incident: "database-outage: orders-db", on: resolved}}
""")
    result = subprocess.run([*STORMWATCH, "rules", "test", str(test)], capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    err = result.stderr
    assert "FAIL" in err and "wrong priority" in err
    assert "at 1m30s: incident 'database-outage: orders-db': priority expected 'P3', got 'P1'" in err
    assert "at 1m30s: missing incident 'never opened'" in err
    assert "at 1m30s: unexpected incident 'Unplanned / x'" in err
    assert "at 1m30s: muted expected 2, got 0" in err
    assert "at 1m30s: missing problem 'no such problem'" in err
    assert ("at 1m30s: actions started expected [page-dba on resolved of 'database-outage: orders-db'], got "
            "[chat-sre on created of 'database-outage: orders-db', page-dba on created of 'database-outage: "
            "orders-db', postgres-failover-runbook on created of 'database-outage: orders-db']") in err
    assert "0 passed, 1 failed" in result.stdout


def test_an_unreadable_test_file_is_a_failure(tmp_path):
    bad = tmp_path / "bad.test.yaml"
    bad.write_text("tests: [{name: x, expect: [], surprise: 1}]")
    (result,) = run_file(bad)
    assert not result.passed and "cannot read the test file" in result.problems[0]


def test_an_sre_asserts_that_the_late_incident_merged(tmp_path):
    """``merged_into`` names the incident a late cause's incident took in (by title): wrong, it fails readably."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text("""
topology:
  services: {db: {}, web: {depends_on: [db]}}
""")
    test = tmp_path / "merge.test.yaml"
    test.write_text("""
rules: rules
tests:
  - name: web pages, then its database fails
    alerts:
      - {at: 0s,  labels: {alertname: Errors, service: web}}
      - {at: 60s, labels: {alertname: Down, service: db}}
    expect:
      - at: 30s
        incidents: [{title: "Errors / web", status: open, merged_into: ""}]
      - at: 2m
        incidents:
          - {title: "Errors / web", status: resolved, merged_into: "Down / db"}
          - {title: "Down / db", status: open, symptoms: 1, symptom_paths: ["web > db"]}
  - name: the same, expecting it to stay
    alerts:
      - {at: 0s,  labels: {alertname: Errors, service: web}}
      - {at: 60s, labels: {alertname: Down, service: db}}
    expect:
      - at: 2m
        incidents:
          - {title: "Errors / web", status: open, merged_into: ""}
          - {title: "Down / db"}
""")
    passed, failed = run_file(test)
    assert passed.passed, passed.problems
    assert failed.problems[:2] == [
        "at 2m: incident 'Errors / web': status expected 'open', got 'resolved'",
        "at 2m: incident 'Errors / web': merged_into expected '', got 'Down / db'"]


def test_linked_changes_are_asserted_and_a_wrong_expectation_names_them(tmp_path):
    test = tmp_path / "changes.test.yaml"
    test.write_text(f"""
rules: {ROOT / 'rules' / 'examples'}
tests:
  - name: the wrong change expected
    changes:
      - {{at: 0s, service: orders-db, summary: "deploy orders-db v2"}}
      - {{at: 10s, service: search, summary: "deploy search v7"}}
    alerts:
      - {{at: 1m, labels: {{alertname: PostgresDown, service: orders-db, severity: critical}}}}
    expect:
      - at: 2m
        incidents:
          - {{title: "database-outage: orders-db", service: orders-db, changes: ["deploy search v7"]}}
""")
    results = run_file(test)
    assert [r.passed for r in results] == [False]
    assert results[0].problems[0] == ("at 2m: incident 'database-outage: orders-db': changes expected "
                                      "['deploy search v7'], got ['deploy orders-db v2']")


def test_escalation_steps_are_asserted_and_a_wrong_expectation_names_them(tmp_path):
    test = tmp_path / "escalation.test.yaml"
    test.write_text(f"""
rules: {ROOT / 'rules' / 'examples'}
tests:
  - name: the repeat at 15m is expected too early
    alerts:
      - {{at: 0s, labels: {{alertname: PostgresDown, service: orders-db, severity: critical, cluster: eu-1}}}}
    expect:
      - at: 10m
        incidents:
          - title: "database-outage: orders-db"
            escalation: [{{step: 1, action: page-dba-secondary}}, {{step: 1, action: page-dba-secondary, repeat: 1}}]
""")
    (result,) = run_file(test)
    assert result.problems[0] == (
        "at 10m: incident 'database-outage: orders-db': escalation expected [step 1: page-dba-secondary, step 1 "
        "repeat 1: page-dba-secondary], got [step 1: page-dba-secondary]")
