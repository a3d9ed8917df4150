"""Recording the alert stream for ``stormwatch backtest``: one JSON line per valid alert a worker stored.

A line is ``{"at": <received epoch seconds>, "alert": <canonical alert>}``. Lines are written after the batch's
state is in Redis (what was recorded is what was correlated) and flushed once per batch. Several workers write
several files (``{pid}`` in the path); a backtest reads any number of them and replays them in time order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any
from collections.abc import Iterable, Iterator, Sequence

import orjson

from rules.alert import Alert


class Recorder:
    def __init__(self, path: str) -> None:
        self.path = Path(path.replace("{pid}", str(os.getpid())))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = self.path.open("ab")

    def record(self, alerts: Iterable[Alert]) -> None:
        self._file.write(b"".join(orjson.dumps({"at": a.received_at, "alert": a.to_dict()}) + b"\n" for a in alerts))
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


class RecordingError(ValueError):
    pass


def read_recordings(paths: Sequence[Path]) -> list[tuple[float, Alert]]:
    """Every recorded alert of the files, in time order (stable for equal times)."""
    out: list[tuple[float, Alert]] = []
    for path in paths:
        for number, line in _lines(path):
            try:
                doc = orjson.loads(line)
                a = doc["alert"]
                alert = Alert(labels=a["labels"], status=a["status"], starts_at=a["starts_at"],
                              received_at=a["received_at"], fingerprint=a["fingerprint"], source=a["source"],
                              annotations=a.get("annotations", {}), ends_at=a.get("ends_at"),
                              generator_url=a.get("generator_url", ""))
                out.append((float(doc["at"]), alert))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise RecordingError(f"{path}:{number}: not a recorded alert ({exc})") from None
    out.sort(key=lambda item: item[0])
    return out


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield number, line
