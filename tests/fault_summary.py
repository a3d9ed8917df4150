"""The fault suite's summary table (kept in docs/faults.md), printed at the end of the session.

Gathered from the test reports, not from ``tests.faults.harness.ROWS`` directly: `make test` runs the whole suite on
pytest-xdist workers, where a scenario runs in a worker process and only its reports reach the controller, which
prints the table. Without xdist the same path runs in the one process.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any

import pytest

SUMMARY: list[dict[str, Any]] = []
_ROW = "fault_summary_row"
_first_row = pytest.StashKey[int]()


def _rows() -> list[dict[str, Any]]:
    harness = sys.modules.get("tests.faults.harness")  # imported only where a fault test ran
    return harness.ROWS if harness is not None else []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, None]:
    item.stash[_first_row] = len(_rows())
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    if call.when == "teardown":  # after the test's note(): its rows are final
        rows = _rows()[item.stash.get(_first_row, 0):]
        outcome.get_result().user_properties.extend((_ROW, row) for row in rows)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        SUMMARY.extend(value for key, value in report.user_properties if key == _ROW)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not SUMMARY or hasattr(config, "workerinput"):  # an xdist worker: the controller prints the table
        return
    tr = terminalreporter
    tr.section("fault summary")
    head = ("scenario", "alerts sent", "processed", "lost", "duplicated", "recovery s", "notes")
    rows = [(r["scenario"], str(r["sent"]), str(r["processed"]), str(r["lost"]), str(r["duplicated"]),
             r["recovery"], r["notes"]) for r in SUMMARY]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    tr.write_line("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    tr.write_line("|" + "|".join("-" * (w + 1) + ("-" if i in (0, 6) else ":") for i, w in enumerate(widths)) + "|")
    for row in rows:
        cells = [c.ljust(w) if i in (0, 6) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        tr.write_line("| " + " | ".join(cells) + " |")
