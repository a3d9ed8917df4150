"""GC tuning for long-running processes, checked in a fresh interpreter (it changes process-wide state)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import gc
from stormwatch.config import load_settings
from stormwatch.runtime import tune_gc
tune_gc(load_settings())
print(gc.get_threshold(), gc.get_freeze_count() > 0)
"""


def run(env_value: str | None) -> str:
    import os

    env = {k: v for k, v in os.environ.items() if k != "STORMWATCH_GC_THRESHOLD"}
    if env_value is not None:
        env["STORMWATCH_GC_THRESHOLD"] = env_value
    return subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip().splitlines()[-1]


def test_tuned_by_default_and_left_alone_when_empty() -> None:
    assert run(None) == "(10000, 10, 100) True"
    assert run("") == "(700, 10, 10) False"


FULL_COLLECTIONS = """
import gc
from stormwatch.config import load_settings
from stormwatch.runtime import tune_gc
tune_gc(load_settings())
before = [s["collections"] for s in gc.get_stats()]
kept = [[i] for i in range(300_000)]  # survivors: each middle collection promotes some to the oldest generation
after = [s["collections"] for s in gc.get_stats()]
print(after[1] - before[1], after[2] - before[2])
"""


def test_the_third_threshold_bounds_how_often_a_full_collection_runs() -> None:
    import os

    def counts(threshold: str) -> tuple[int, int]:
        env = {k: v for k, v in os.environ.items() if k != "STORMWATCH_GC_THRESHOLD"}
        env["STORMWATCH_GC_THRESHOLD"] = threshold
        out = subprocess.run([sys.executable, "-c", FULL_COLLECTIONS], env=env, capture_output=True, text=True,
                             check=True, timeout=60).stdout.strip().splitlines()[-1]
        middle, full = out.split()
        return int(middle), int(full)

    middle, full_at_10 = counts("100,10,10")  # Python's ratio: at most one full collection per 11 middle ones
    assert middle > 200 and full_at_10 > 5
    middle, full_at_100 = counts("100,10,100")  # the default's: at most one per 101
    assert middle > 200 and full_at_100 <= middle // 101 + 1 < full_at_10
