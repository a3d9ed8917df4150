"""What every CLI command prints with: the stdout and stderr consoles, one-line JSON, timestamps."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

import orjson
from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def ts(value: float | None) -> str:
    """A Unix time for people: ``2026-01-02 03:04:05Z``; ``-`` for none."""
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def print_json(doc: Any) -> None:
    """A command's ``--json`` answer: one line of JSON on stdout."""
    sys.stdout.write(orjson.dumps(doc).decode() + "\n")
