"""Recording the alert stream for ``stormwatch backtest``: one JSON line per valid alert a worker stored, and one per
change event it stored.

A line is ``{"at": <received epoch seconds>, "alert": <canonical alert>}``, or ``{"change": <the change>, "at": <when
it happened>}`` (``docs/changes.md``; a backtest replays them beside the alerts). Lines are written after the batch's
state is in Redis (what was recorded is what was correlated) and flushed once per batch. Several workers write
several files (``{pid}`` in the path); a backtest reads any number of them and replays them in time order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any
from collections.abc import Iterable, Sequence

from events.changes import Change
from replay.recordings import RecordingError, change_line, read_notifications, recording_line
from rules.alert import Alert

__all__ = ["Recorder", "RecordingError", "RecordingSink", "read_recordings"]


class Recorder:
    def __init__(self, path: str) -> None:
        self.path = Path(path.replace("{pid}", str(os.getpid())))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = self.path.open("ab")

    def record(self, alerts: Iterable[Alert]) -> None:
        self._file.write(b"".join(recording_line(a.received_at, a) for a in alerts))
        self._file.flush()

    def record_change(self, change: Change) -> None:
        self._file.write(change_line(change.public()))
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class RecordingSink:
    """Wraps the correlation pipeline: records each batch's alerts once the pipeline has stored them."""

    def __init__(self, sink: Any, recorder: Recorder) -> None:
        self.sink = sink
        self.recorder = recorder

    async def submit(self, deliveries: Sequence[Any]) -> Any:
        report = await self.sink.submit(deliveries)
        self.recorder.record(a for d in deliveries for a in d.alerts)
        return report


def read_recordings(paths: Sequence[Path]) -> list[tuple[float, Alert]]:
    """Every recorded alert of the files, in time order (stable for equal times); a malformed line raises
    ``RecordingError`` naming its file and line (``replay.recordings`` reads and checks them)."""
    return [(n.at, n.alert) for n in read_notifications(paths)]
