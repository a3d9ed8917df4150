"""``serve --processes``: the count it accepts, and the command line of its workers."""

from __future__ import annotations

import os
import sys

import pytest

from stormwatch.supervisor import process_count, worker_command


def test_process_count():
    assert process_count("1") == 1
    assert process_count("3") == 3
    assert process_count("auto") == len(os.sched_getaffinity(0))
    for bad in ("0", "-2", "two", ""):
        with pytest.raises(ValueError, match="--processes must be a positive integer or auto"):
            process_count(bad)


def test_worker_command_runs_this_interpreter():
    assert worker_command(["--role", "alerts"]) == [sys.executable, "-m", "stormwatch.cli", "serve", "--role",
                                                      "alerts"]
