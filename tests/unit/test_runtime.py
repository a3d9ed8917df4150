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
    assert run(None) == "(10000, 10, 10) True"
    assert run("") == "(700, 10, 10) False"
