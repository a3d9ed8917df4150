"""What every CLI command prints with: the stdout and stderr consoles and one-line JSON (tables and timestamps
for people are in ``stormwatch.views``)."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def print_json(doc: Any) -> None:
    """A command's ``--json`` answer: one line of JSON on stdout."""
    sys.stdout.write(orjson.dumps(doc).decode() + "\n")
