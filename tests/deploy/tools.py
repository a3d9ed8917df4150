"""Helpers of the deploy/ tests: where things are, and the real tools that check them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from stormwatch.metrics import Metrics
from tests.conftest import missing_tool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).resolve().parent / "schemas"


def tool(name: str, package: str) -> str:
    """The path of a command-line tool, or a skip (locally) / failure (CI) naming the Debian package."""
    exe = shutil.which(name)
    if exe is None:
        missing_tool(f"{name} is not on PATH (apt-get install {package}; `make test` installs it)")
    assert exe is not None
    return exe


def run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=120)


def exposed_metric_names() -> set[str]:
    """Every series name a Stormwatch process can expose, read from the one registry that declares them all:
    a counter ``x`` exposes ``x_total`` (and ``x_created``), a histogram ``x_bucket``, ``x_sum`` and ``x_count``."""
    metrics = Metrics.create()
    suffixes = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created"),
                "summary": ("", "_sum", "_count", "_created")}
    names: set[str] = set()
    for field in metrics.__dataclass_fields__:
        metric = getattr(metrics, field)
        if isinstance(metric, MetricWrapperBase):
            for family in metric.describe():
                names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


METRIC_NAME = re.compile(r"\bstormwatch_[a-z0-9_]+\b")


def stormwatch_names_in(expression: str) -> set[str]:
    return set(METRIC_NAME.findall(expression))
