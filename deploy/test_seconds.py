"""The seconds each test file took, from a pytest JUnit XML report, as ``tests/file_seconds.txt`` holds them.

    .venv/bin/python -m pytest -q -n 3 --dist loadfile --junitxml=/tmp/junit.xml
    .venv/bin/python deploy/test_seconds.py /tmp/junit.xml > tests/file_seconds.txt

``tests/conftest.py`` hands the files to the pytest-xdist processes longest first by this table (docs/development.md,
"The test run"), so the run does not end with one long file running alone. A file's time is the sum of its tests'
(setup, call and teardown: JUnit's default ``junit_duration_report = total``).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path


def file_of(classname: str) -> str:
    """``tests.unit.test_x`` or ``tests.unit.test_x.TestY`` -> ``tests/unit/test_x.py`` (longest existing prefix)."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        path = "/".join(parts[:end]) + ".py"
        if Path(path).is_file():
            return path
    raise SystemExit(f"test_seconds: no file for {classname!r} (run from the repository's root)")


def main(report: str) -> None:
    seconds: Counter[str] = Counter()
    for case in ET.parse(report).iter("testcase"):  # noqa: S314 - the report pytest just wrote here
        seconds[file_of(case.get("classname", ""))] += float(case.get("time", "0"))
    print("# seconds per test file, longest first: written by deploy/test_seconds.py from a JUnit report;")
    print("# tests/conftest.py hands files to the xdist processes in this order (unknown files last)")
    for path, total in sorted(seconds.items(), key=lambda item: (-item[1], item[0])):
        print(f"{total:.1f} {path}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python deploy/test_seconds.py JUNIT_XML > tests/file_seconds.txt")
    main(sys.argv[1])
