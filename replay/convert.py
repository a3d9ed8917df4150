"""Recordings from Alertmanager webhook logs: ``stormwatch recording convert``.

A webhook log is JSON lines, one webhook payload each, as a receiver that logs what Alertmanager POSTs writes them
(``{"version": "4", "status": ..., "alerts": [...], ...}``). A line may also wrap its payload with the time it was
received: ``{"at": <epoch seconds>, "payload": {...}}``. Each payload goes through the same normaliser as a
worker's webhook receiver (``ingest.normalise``, format ``alertmanager_webhook``), so a converted recording replays
what a worker would have stored. A payload without its receipt time is taken as received at the latest time it
states (its firing alerts' ``startsAt``, its resolved alerts' ``endsAt``), and never before the line above it, so
the replay keeps the log's order.

A line that is not a payload, or a payload with an alert the receiver would refuse, is refused with its file and
line and nothing is written (``RecordingError``): a converted recording is complete or not made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import orjson

from ingest.normalise import BodyRejected, normalise
from replay.recordings import RecordingError, numbered_lines, recording_line
from rules.alert import Alert


def convert_webhook_log(paths: Sequence[Path]) -> list[bytes]:
    """The recording lines of the logs, in log order (files in the order given)."""
    out: list[bytes] = []
    last = 0.0
    for path in paths:
        for number, line in numbered_lines(path):
            try:
                at, alerts = _payload(line, last)
            except RecordingError as exc:
                raise RecordingError(f"{path}:{number}: {exc}") from None
            last = max(last, at)
            out += [recording_line(last, dataclasses.replace(a, received_at=last)) for a in alerts]
    return out


def _payload(line: bytes, last: float) -> tuple[float, list[Alert]]:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"not JSON ({exc})") from None
    at: float | None = None
    if type(doc) is dict and "payload" in doc:
        stamp = doc.get("at")
        if not isinstance(stamp, int | float) or isinstance(stamp, bool):
            raise RecordingError("at: must be a number (epoch seconds) beside payload")
        at, doc = float(stamp), doc["payload"]
    if type(doc) is not dict or type(doc.get("alerts")) is not list:
        raise RecordingError("not an Alertmanager webhook payload (an object with an alerts array)")
    try:
        result = normalise(orjson.dumps(doc), now=at if at is not None else last, format="alertmanager_webhook")
    except BodyRejected as exc:
        raise RecordingError(str(exc)) from None
    if result.rejections:
        raise RecordingError(f"payload refused: {result.rejections[0].detail}")
    if at is None:
        stated = [a.ends_at if a.status == "resolved" and a.ends_at is not None else a.starts_at
                  for a in result.alerts]
        at = max([last, *stated])
    return at, result.alerts
