"""``stormwatch recording convert``: recordings for ``backtest`` and ``rules suggest`` from other tools' logs."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from stormwatch.cli.output import console, err

recording_app = typer.Typer(no_args_is_help=True, help="Make recordings for backtests from other tools' logs.")


@recording_app.command("convert")
def recording_convert(
    logs: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                      help="Alertmanager webhook logs: JSON lines, one webhook payload each."),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="The recording to write (JSON lines)."),
    source: str = typer.Option("alertmanager", "--from", help="The log's format: alertmanager (webhook payloads)."),
) -> None:
    """Convert webhook logs into a recording (docs/quality.md); a bad line is refused with its file and line and
    nothing is written."""
    from replay.convert import convert_webhook_log
    from replay.recordings import RecordingError

    if source != "alertmanager":
        err.print(f"--from: unknown log format {source!r}; expected alertmanager", markup=False, highlight=False)
        raise typer.Exit(2)
    try:
        lines = convert_webhook_log(logs)
    except RecordingError as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    partial.write_bytes(b"".join(lines))
    partial.replace(out)  # complete or not there
    console.print(f"{out}: {len(lines)} notifications from {len(logs)} log(s)", highlight=False)
