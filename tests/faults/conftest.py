"""Fixtures of the fault suite and its summary table (printed at the end of the session, kept in docs/faults.md)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from collections.abc import AsyncIterator

import pytest

from stormwatch.config import Settings
from tests.faults.harness import ROWS, Scenario


def require_tools() -> None:
    missing = [tool for tool in ("redis-server", "rabbitmqctl") if shutil.which(tool) is None]
    if missing:
        message = f"fault tests need {', '.join(missing)} on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
async def scenario(request: pytest.FixtureRequest, clean: Settings, tmp_path: Path) -> AsyncIterator[Scenario]:
    require_tools()
    world = Scenario(request.node.name.removeprefix("test_"), clean, tmp_path)
    try:
        yield world
    finally:
        await world.stop_all()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not ROWS:
        return
    tr = terminalreporter
    tr.section("fault summary")
    head = ("scenario", "alerts sent", "processed", "lost", "duplicated", "recovery s", "notes")
    rows = [(r["scenario"], str(r["sent"]), str(r["processed"]), str(r["lost"]), str(r["duplicated"]),
             r["recovery"], r["notes"]) for r in ROWS]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    tr.write_line("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    tr.write_line("|" + "|".join("-" * (w + 1) + ("-" if i in (0, 6) else ":") for i, w in enumerate(widths)) + "|")
    for row in rows:
        cells = [c.ljust(w) if i in (0, 6) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        tr.write_line("| " + " | ".join(cells) + " |")
