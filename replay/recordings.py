"""Reading recordings: the JSON lines ``stormwatch backtest`` replays, each checked, with their truth labels.

A line is ``{"at": <received epoch seconds>, "alert": <canonical alert>}`` (what ``STORMWATCH_RECORD`` writes), and
may carry two labels an SRE adds (``docs/quality.md``):

* ``"truth": "<id>"``: the incident the notification belongs to (a symptom belongs to its cause's incident);
* ``"problem": "<id>"``: the problem that incident is an occurrence of (a recurring failure, a shared root cause).

A line ``{"change": <change>, "at": <when it happened>}`` (``change`` first) is a change event the worker stored
(``docs/changes.md``): ``read_notifications`` passes over it, ``read_changes`` reads those.

A malformed line is refused with its file and line (``RecordingError``): a recording is read whole or not at all, so
nothing is ever half-scored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from rules.alert import Alert

MAX_LABEL = 200  # the longest truth or problem id


class RecordingError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Notification:
    """One recorded notification: when it was received, the alert, where it was read, its labels if any."""

    at: float
    alert: Alert
    ref: str  # "file:line"
    truth: str | None = None
    problem: str | None = None


def read_notifications(paths: Sequence[Path], *, truth: bool = False) -> list[Notification]:
    """Every recorded notification of the files in time order (stable for equal times). With ``truth``, every line
    must carry a truth id."""
    out: list[Notification] = []
    for path in paths:
        for number, line in numbered_lines(path):
            ref = f"{path}:{number}"
            if line.startswith(CHANGE_PREFIX):
                continue  # a change event (read_changes)
            try:
                out.append(parse_line(line, ref, truth=truth))
            except RecordingError as exc:
                raise RecordingError(f"{ref}: {exc}") from None
    out.sort(key=lambda n: n.at)
    return out


def read_changes(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The change events recorded in the files (``change_line``), in time order: documents of
    ``events.changes.Change.public()``, each with ``at``, ``id``, ``service`` and ``summary``."""
    out: list[dict[str, Any]] = []
    for path in paths:
        for number, line in numbered_lines(path):
            if not line.startswith(CHANGE_PREFIX):
                continue
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise RecordingError(f"{path}:{number}: not JSON ({exc})") from None
            change = doc.get("change")
            if type(change) is not dict or not all(type(change.get(k)) is str and change[k]
                                                   for k in ("id", "service", "summary")) \
                    or type(change.get("at")) not in (int, float):
                raise RecordingError(f"{path}:{number}: change: needs id, service, summary and at")
            out.append(change)
    out.sort(key=lambda c: float(c["at"]))
    return out


def change_line(change: Mapping[str, Any]) -> bytes:
    """One recorded change event (what ``read_changes`` reads back)."""
    return orjson.dumps({"change": dict(change), "at": change["at"]}) + b"\n"


#: how a recorded change's line starts (``change_line`` writes ``change`` first; an alert's line starts with ``at``):
#: told apart without parsing it
CHANGE_PREFIX = b'{"change":'


def parse_line(line: bytes, ref: str, *, truth: bool = False) -> Notification:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"not JSON ({exc})") from None
    if type(doc) is not dict:
        raise RecordingError("not a recorded alert (a JSON object with at and alert)")
    at = doc.get("at")
    if not isinstance(at, int | float) or isinstance(at, bool):
        raise RecordingError("at: must be a number (epoch seconds)")
    alert = _alert(doc.get("alert"))
    label = _label(doc, "truth")
    problem = _label(doc, "problem")
    if truth and label is None:
        raise RecordingError("truth: missing (every line of a scored recording names its incident)")
    if problem is not None and label is None:
        raise RecordingError("problem: given without a truth id")
    return Notification(float(at), alert, ref, label, problem)


def _label(doc: Mapping[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is None:
        return None
    if type(value) is not str or not value or len(value) > MAX_LABEL:
        raise RecordingError(f"{name}: must be a string of 1 to {MAX_LABEL} characters")
    return value


def _alert(a: Any) -> Alert:
    if type(a) is not dict:
        raise RecordingError("alert: must be an object (a canonical alert)")
    for name, default in (("labels", None), ("annotations", {})):
        value = a.get(name, default)
        if type(value) is not dict or not all(type(k) is str and type(v) is str for k, v in value.items()):
            raise RecordingError(f"alert.{name}: must be an object of strings")
    if a.get("status") not in ("firing", "resolved"):
        raise RecordingError("alert.status: must be firing or resolved")
    for name in ("starts_at", "received_at"):
        if type(a.get(name)) not in (int, float):
            raise RecordingError(f"alert.{name}: must be a number")
    ends_at = a.get("ends_at")
    if ends_at is not None and type(ends_at) not in (int, float):
        raise RecordingError("alert.ends_at: must be a number or null")
    for name in ("fingerprint", "source"):
        if type(a.get(name)) is not str or not a[name]:
            raise RecordingError(f"alert.{name}: must be a non-empty string")
    url = a.get("generator_url", "")
    if type(url) is not str:
        raise RecordingError("alert.generator_url: must be a string")
    return Alert(labels=a["labels"], status=a["status"], starts_at=float(a["starts_at"]),
                 received_at=float(a["received_at"]), fingerprint=a["fingerprint"], source=a["source"],
                 annotations=a.get("annotations", {}), ends_at=None if ends_at is None else float(ends_at),
                 generator_url=url)


def recording_line(at: float, alert: Alert, truth: str | None = None, problem: str | None = None) -> bytes:
    """One line of a recording (what ``read_notifications`` reads back)."""
    doc: dict[str, Any] = {"at": at, "alert": alert.to_dict()}
    if truth is not None:
        doc["truth"] = truth
    if problem is not None:
        doc["problem"] = problem
    return orjson.dumps(doc) + b"\n"


def numbered_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file's non-blank lines with their numbers (from 1)."""
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield number, line
