"""What every CLI command prints with: the stdout and stderr consoles and one-line JSON (tables and timestamps
for people are in ``stormwatch.views``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def print_json(doc: Any) -> None:
    """A command's ``--json`` answer: one line of JSON on stdout."""
    sys.stdout.write(orjson.dumps(doc).decode() + "\n")


def print_answer(doc: Any, json_out: bool, line: Callable[[Any], str]) -> None:
    """A command's answer about one thing: the document as one line of JSON with ``--json``, else ``line(doc)``."""
    if json_out:
        print_json(doc)
    else:
        console.print(line(doc), highlight=False)


def print_listing(items: list[Any], json_out: bool, title: str, columns: Sequence[str],
                  row: Callable[[Any], Iterable[str]]) -> None:
    """A listing command's answer: the items as one line of JSON with ``--json``, else a table of one row an item."""
    if json_out:
        print_json(items)
        return
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for item in items:
        table.add_row(*row(item))
    console.print(table)
