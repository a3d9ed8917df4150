"""Reading recordings: every malformed line is refused with its file and line; nothing is half-read."""

from __future__ import annotations

import orjson
import pytest

from replay.recordings import RecordingError, change_line, read_changes, read_notifications, recording_line
from rules.alert import Alert


def _alert(**over):
    alert = Alert(labels={"alertname": "X", "service": "s"}, status="firing", starts_at=1.0, received_at=2.0,
                  fingerprint="abc", source="alertmanager")
    doc = orjson.loads(recording_line(2.0, alert, "T1"))
    doc.update(over)
    return orjson.dumps(doc).decode()


GOOD = _alert()


@pytest.mark.parametrize(("line", "field"), [
    ("not json", "not JSON"),
    ("[1]", "not a recorded alert"),
    ('{"alert": {}}', "at: must be a number"),
    (_alert(at="x"), "at: must be a number"),
    (_alert(truth=""), "truth: must be a string"),
    (_alert(truth=7), "truth: must be a string"),
    (_alert(truth=None, problem="P"), "truth: missing"),
    (_alert(problem=["P"]), "problem: must be a string"),
    (_alert(alert=[]), "alert: must be an object"),
    (_alert(alert={"labels": {"a": 1}}), "alert.labels: must be an object of strings"),
])
def test_a_malformed_line_is_refused_with_file_line_and_field(tmp_path, line, field):
    path = tmp_path / "rec.jsonl"
    path.write_text(f"{GOOD}\n\n{line}\n{GOOD}\n")
    with pytest.raises(RecordingError) as caught:
        read_notifications([path], truth=True)
    assert str(caught.value).startswith(f"{path}:3: ") and field in str(caught.value)


def test_truth_is_required_only_when_scoring(tmp_path):
    path = tmp_path / "rec.jsonl"
    path.write_text(_alert(truth=None) + "\n")
    assert read_notifications([path])[0].truth is None
    with pytest.raises(RecordingError, match=r"rec.jsonl:1: truth: missing"):
        read_notifications([path], truth=True)


def test_lines_round_trip_in_time_order_with_their_refs(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(_alert(at=5.0, problem="P") + "\n")
    b.write_text(_alert(at=3.0) + "\n")
    read = read_notifications([a, b], truth=True)
    assert [(n.at, n.ref, n.truth, n.problem) for n in read] == [(3.0, f"{b}:1", "T1", None),
                                                                 (5.0, f"{a}:1", "T1", "P")]
    assert read[0].alert.labels == {"alertname": "X", "service": "s"}


def test_recorded_changes_sit_beside_the_alerts_and_are_read_apart(tmp_path):
    path = tmp_path / "rec.jsonl"
    change = {"id": "c-1", "service": "orders-db", "summary": "upgrade", "at": 5.0, "kind": "deploy"}
    path.write_bytes(change_line(change) + _alert(at=9.0).encode() + b"\n" + change_line({**change, "id": "c-0",
                                                                                          "at": 1.0}))
    assert [n.at for n in read_notifications([path])] == [9.0]  # the change lines are not notifications
    assert [c["id"] for c in read_changes([path])] == ["c-0", "c-1"]  # in time order
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"change": {"id": "x", "service": "s"}, "at": 1}\n')
    with pytest.raises(RecordingError, match=r"bad.jsonl:1: change: needs id, service, summary and at"):
        read_changes([bad])
