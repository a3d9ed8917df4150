"""Record the worker's input, then backtest a candidate rule set against it with the CLI."""

from __future__ import annotations

import os
import time

import orjson

from rules.loader import EXAMPLES_DIR
from stormwatch.app import Worker
from tests.conftest import eventually
from stormwatch.publisher import publish_change
from tests.integration.helpers import body, metric, publish, stored_alerts, v2_alert
from tests.integration.helpers import run_cli as _cli


async def test_recorded_stream_backtests_side_by_side(clean, tmp_path):
    worker = Worker(clean.model_copy(update={"record": str(tmp_path / "rec-{pid}.jsonl")}))
    await worker.start()
    try:
        storm = [v2_alert("PostgresDown", "orders-db", "db-1")]
        storm += [v2_alert(name, service, f"pod-{i}", severity="warning")
                  for name in ("HighErrorRate", "HighLatency") for service in ("checkout", "payments", "shipping")
                  for i in range(3)]
        await publish(clean, [body(storm)])
        await eventually(lambda: stored_alerts(worker) >= len(storm), what="storm stored")
    finally:
        await worker.stop()
    recording = tmp_path / f"rec-{os.getpid()}.jsonl"
    lines = recording.read_bytes().splitlines()
    assert len(lines) == len(storm)
    assert orjson.loads(lines[0])["alert"]["labels"]["alertname"] == "PostgresDown"

    code, out, err = await _cli(clean, "backtest", "--rules", str(EXAMPLES_DIR), "--baseline", "none", "--json",
                                str(recording))
    assert code == 0, err
    result = orjson.loads(out)
    current, candidate = result["current"], result["candidate"]
    assert current["notifications"] == candidate["notifications"] == len(storm)
    assert current["incidents"] == 7  # no rules: one incident per alertname and service
    assert candidate["incidents"] == 1  # the examples: the database incident, everything else its symptoms
    assert candidate["symptoms"] == len(storm) - 1 and candidate["problems"] == 1
    assert candidate["compression"] == len(storm)

    code, out, _ = await _cli(clean, "backtest", "--rules", str(EXAMPLES_DIR), "--baseline", "none", str(recording))
    assert code == 0 and "compression" in out and "only with the current set" in out

    # change events replayed beside the alerts: a deploy of the database five minutes before it failed
    first_at = orjson.loads(lines[0])["at"]
    changes = tmp_path / "changes.jsonl"
    changes.write_bytes(orjson.dumps({"service": "orders-db", "summary": "upgrade", "at": first_at - 300}) + b"\n" +
                        orjson.dumps({"service": "search", "summary": "unrelated", "at": first_at - 60}) + b"\n")
    code, out, err = await _cli(clean, "backtest", "--rules", str(EXAMPLES_DIR), "--baseline", "none", "--json",
                                "--changes", str(changes), str(recording))
    assert code == 0, err
    result = orjson.loads(out)
    assert result["candidate"]["changes"] == 2 and result["candidate"]["incidents_with_changes"] == 1
    no_time = tmp_path / "no-time.jsonl"
    no_time.write_text('{"service": "orders-db", "summary": "when?"}\n')
    code, out, err = await _cli(clean, "backtest", "--rules", str(EXAMPLES_DIR), "--changes", str(no_time),
                                str(recording))
    assert code == 2 and "change 1" in err

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"at": 1}\n')
    code, _, err = await _cli(clean, "backtest", "--rules", str(EXAMPLES_DIR), str(bad))
    assert code == 2 and "bad.jsonl:1" in err


async def test_recorded_change_events_and_change_windows_are_replayed(clean, tmp_path):
    """The worker records the changes it stores beside the alerts; a backtest replays them (probable causes) and
    one-off change windows given to it (muting as live)."""
    worker = Worker(clean.model_copy(update={"record": str(tmp_path / "rec-{pid}.jsonl")}))
    await worker.start()
    try:
        change = {"id": "up-1", "service": "orders-db", "summary": "upgrade to 16.2", "at": time.time() - 300}
        await publish_change(clean, orjson.dumps(change), "up-1")
        await eventually(lambda: metric(worker, "stormwatch_changes_total", {"outcome": "stored"}) >= 1,
                         what="the change stored")
        await publish(clean, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
        await eventually(lambda: stored_alerts(worker) >= 1, what="the alert stored")
    finally:
        await worker.stop()
    recording = tmp_path / f"rec-{os.getpid()}.jsonl"
    lines = [orjson.loads(x) for x in recording.read_bytes().splitlines()]
    assert [sorted(x) for x in lines] == [["at", "change"], ["alert", "at"]]
    assert lines[0]["change"]["id"] == "up-1" and lines[0]["at"] == change["at"]

    code, out, err = await _cli(clean, "backtest", "--rules", str(EXAMPLES_DIR), "--baseline", "none", "--json",
                                str(recording))
    assert code == 0, err
    candidate = orjson.loads(out)["candidate"]
    assert (candidate["notifications"], candidate["changes"], candidate["incidents_with_changes"]) == (1, 1, 1)
    assert candidate["muted_by_change_windows"] == 0

    alert_at = lines[1]["at"]
    windows = tmp_path / "windows.json"
    windows.write_bytes(orjson.dumps([{"id": "cw-upgrade", "starts_at": alert_at - 60, "ends_at": alert_at + 60,
                                       "services": ["orders-db"], "mode": "mute", "matchers": []}]))
    code, out, err = await _cli(clean, "backtest", "--rules", str(EXAMPLES_DIR), "--baseline", "none", "--json",
                                "--change-windows", str(windows), str(recording))
    assert code == 0, err
    candidate = orjson.loads(out)["candidate"]
    assert candidate["muted_by_change_windows"] == 1 and candidate["muted"] == 1
    windows.write_text('[{"id": "cw-x", "starts_at": 10, "ends_at": 5, "services": ["orders-db"]}]')
    code, _, err = await _cli(clean, "backtest", "--rules", str(EXAMPLES_DIR), "--change-windows", str(windows),
                              str(recording))
    assert code == 2 and "change window 1" in err and "ends_at" in err


async def test_invalid_candidate_rules_are_listed_file_line_field_and_exit_2(clean, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text("groups:\n  - name: x\n    bogus: 1\n")
    recording = tmp_path / "rec.jsonl"
    recording.write_text("")
    code, out, err = await _cli(clean, "backtest", "--rules", str(rules), str(recording))
    assert code == 2, (out, err)
    assert "candidate rules are invalid:" in err
    assert "bad.yaml:3: groups[0].bogus: unknown key 'bogus'" in " ".join(err.split())
