"""``stormwatch recording convert``: recordings for ``backtest`` and ``rules suggest`` from other tools' logs."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from stormwatch.cli.output import console, err

recording_app = typer.Typer(no_args_is_help=True, help="Make recordings for backtests from other tools' logs.")


@recording_app.command("convert")
def recording_convert(
    logs: list[Path] = typer.Argument(None, exists=True, dir_okay=False,
                                      help="Alertmanager webhook logs: JSON lines, one webhook payload each "
                                           "(none with --from history)."),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="The recording to write (JSON lines)."),
    source: str = typer.Option("alertmanager", "--from",
                               help="alertmanager (webhook payloads) or history (the history store's incidents, "
                                    "labelled with their placement: STORMWATCH_HISTORY_URL)."),
    since: str = typer.Option("", "--since", help="--from history: incidents opened since (30d, 12h, epoch seconds "
                                                  "or an ISO 8601 time)."),
    until: str = typer.Option("", "--until", help="--from history: incidents opened before this."),
) -> None:
    """Convert webhook logs, or the history store, into a recording (docs/quality.md); a bad line or row is refused
    with where it is and nothing is written."""
    from replay.recordings import RecordingError

    logs = list(logs or [])
    if source not in ("alertmanager", "history"):
        err.print(f"--from: unknown log format {source!r}; expected alertmanager or history", markup=False,
                  highlight=False)
        raise typer.Exit(2)
    if source == "alertmanager" and (not logs or since or until):
        err.print("--from alertmanager: give the webhook logs (and no --since/--until)", markup=False,
                  highlight=False)
        raise typer.Exit(2)
    if source == "history" and logs:
        err.print("--from history reads the history store: give no log files", markup=False, highlight=False)
        raise typer.Exit(2)
    try:
        lines = _from_history(since, until) if source == "history" else _from_logs(logs)
    except RecordingError as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    partial.write_bytes(b"".join(lines))
    partial.replace(out)  # complete or not there
    origin = "the history" if source == "history" else f"{len(logs)} log(s)"
    console.print(f"{out}: {len(lines)} notifications from {origin}", highlight=False)


def _from_logs(logs: list[Path]) -> list[bytes]:
    from replay.convert import convert_webhook_log

    return convert_webhook_log(logs)


def _from_history(since: str, until: str) -> list[bytes]:
    import time

    from stormwatch.cli import context
    from stormwatch.history.database import open_engine
    from stormwatch.history.queries import BadQuery, parse_when
    from stormwatch.history.recording import history_recording

    now = time.time()
    try:
        start = parse_when(since, now, "since") if since else None
        end = parse_when(until, now, "until") if until else None
    except BadQuery as exc:
        err.print(f"--{exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    settings = context.settings(log_level="warning")

    async def go() -> list[bytes]:
        engine = open_engine(settings.history_database)
        try:
            return await history_recording(engine, since=start, until=end)
        finally:
            await engine.dispose()
    import sqlalchemy as sa

    from stormwatch.history.database import redacted

    try:
        lines: list[bytes] = context.run(go())
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        err.print(f"history database {redacted(settings.history_database)}: cannot read it "
                  f"({type(exc).__name__}); is it there, and migrated (stormwatch history migrate)?", markup=False,
                  highlight=False)
        raise typer.Exit(1) from None
    return lines
