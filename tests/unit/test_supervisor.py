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


def test_a_drain_faster_than_the_sampling_still_has_a_rate():
    from stormwatch.tools.bench_workers import steady_rate

    assert steady_rate([(0.0, 0), (1.0, 100), (2.0, 900), (3.0, 1000)], 1000) == 800.0  # 10% at 1 s, 90% at 2 s
    assert steady_rate([(0.0, 0), (0.5, 0), (0.75, 1000)], 1000) == 4000.0  # 0 -> 1000 between two samples
    assert steady_rate([(0.0, 1000)], 1000) != steady_rate([(0.0, 1000)], 1000)  # NaN: nothing to measure
