"""`stormwatch rules check` as a person runs it: exit codes and file:line messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORMWATCH = str(Path(sys.executable).parent / "stormwatch")


def _check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STORMWATCH, "rules", "check", str(directory)], capture_output=True, text=True,
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
