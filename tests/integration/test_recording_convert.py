"""``stormwatch recording convert``: a real Alertmanager's webhook payloads, logged as it POSTs them, become a
recording that ``backtest`` replays and ``rules suggest`` mines."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import orjson
import pytest
from aiohttp import ClientSession

from rules.loader import EXAMPLES_DIR
from tests.conftest import eventually
from tests.deploy.tools import tool
from tests.integration.actions_support import Hook
from tests.integration.helpers import run_cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """\
route:
  receiver: log
  group_by: [alertname, service]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: log
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


@pytest.fixture
async def alertmanager(tmp_path):
    """A real Alertmanager (Debian's prometheus-alertmanager) posting to a loopback server the test owns."""
    exe = tool("prometheus-alertmanager", "prometheus-alertmanager")
    hook = await Hook().start()
    (tmp_path / "am.yml").write_text(CONFIG.format(url=hook.url("/hook")))
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        exe, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    async with ClientSession() as http:
        async def ready() -> bool:
            try:
                async with http.get(f"{base}/-/ready") as r:
                    return r.status == 200
            except OSError:
                return False
        try:
            await eventually(ready, what="alertmanager ready")
            yield base, http, hook
        finally:
            proc.terminate()
            await proc.wait()
            await hook.stop()


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


async def test_a_real_alertmanagers_webhooks_convert_to_a_recording(alertmanager, clean, tmp_path):
    base, http, hook = alertmanager
    start = time.time() - 60
    alerts = [{"labels": {"alertname": "PostgresDown", "service": "orders-db", "cluster": "main",
                          "severity": "critical"}, "startsAt": _iso(start)},
              {"labels": {"alertname": "HighErrorRate", "service": "checkout", "instance": "pod-1"},
               "startsAt": _iso(start + 5)}]
    async with http.post(f"{base}/api/v2/alerts", json=alerts) as r:
        assert r.status == 200
    await eventually(lambda: len(hook.to("/hook")) >= 2, what="two firing webhooks")
    for a in alerts:
        a["endsAt"] = _iso(time.time() - 1)
    async with http.post(f"{base}/api/v2/alerts", json=alerts) as r:
        assert r.status == 200
    await eventually(lambda: sum(orjson.loads(q["body"])["status"] == "resolved" for q in hook.to("/hook")) >= 2,
                     what="two resolved webhooks")

    log = tmp_path / "webhooks.jsonl"
    log.write_text("".join(q["body"].strip() + "\n" for q in hook.to("/hook")))
    out = tmp_path / "rec.jsonl"
    code, stdout, err = await run_cli(clean, "recording", "convert", str(log), "--out", str(out))
    assert code == 0, err
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    statuses = [(x["alert"]["labels"]["alertname"], x["alert"]["status"]) for x in lines]
    assert sorted(statuses) == sorted([("PostgresDown", "firing"), ("HighErrorRate", "firing"),
                                       ("PostgresDown", "resolved"), ("HighErrorRate", "resolved")])
    assert [x["at"] for x in lines] == sorted(x["at"] for x in lines)
    assert all(x["alert"]["source"] == "alertmanager" for x in lines)

    code, stdout, err = await run_cli(clean, "backtest", "--json", "--rules", str(EXAMPLES_DIR), "--baseline", "none",
                                      str(out))
    assert code == 0, err
    result = orjson.loads(stdout)
    assert result["candidate"]["notifications"] == 4 and result["current"]["incidents"] == 2

    bad = tmp_path / "bad.jsonl"
    bad.write_text(log.read_text() + '{"alerts": [{"labels": {"alertname": 1}}]}\n')
    refused = tmp_path / "refused.jsonl"
    code, _, err = await run_cli(clean, "recording", "convert", str(bad), "--out", str(refused))
    assert code == 2 and f"{bad}:{len(hook.to('/hook')) + 1}: payload refused" in " ".join(err.split())
    assert not refused.exists()


async def test_lines_stamped_with_their_receipt_time_keep_it(clean, tmp_path):
    payload = {"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "DiskFull", "service": "reports"},
         "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z"}]}
    log = tmp_path / "log.jsonl"
    log.write_bytes(orjson.dumps({"at": 1767225700.5, "payload": payload}) + b"\n" + orjson.dumps(payload) + b"\n")
    out = tmp_path / "rec.jsonl"
    code, _, err = await run_cli(clean, "recording", "convert", str(log), "--out", str(out))
    assert code == 0, err
    ats = [orjson.loads(x)["at"] for x in out.read_bytes().splitlines()]
    assert ats == [1767225700.5, 1767225700.5]  # the second states an earlier time: it keeps the log's order
    code, _, err = await run_cli(clean, "recording", "convert", str(log), "--out", str(out), "--from", "zabbix")
    assert code == 2 and "unknown log format" in err


def test_converted_lines_read_back(tmp_path: Path) -> None:
    from replay.convert import convert_webhook_log
    from replay.recordings import read_notifications

    log = tmp_path / "log.jsonl"
    log.write_bytes(orjson.dumps({"alerts": [{"status": "resolved", "labels": {"alertname": "A"},
                                              "startsAt": "2026-01-01T00:00:00Z",
                                              "endsAt": "2026-01-01T00:01:00Z"}]}) + b"\n")
    rec = tmp_path / "rec.jsonl"
    rec.write_bytes(b"".join(convert_webhook_log([log])))
    (n,) = read_notifications([rec])
    assert n.alert.status == "resolved" and n.at == 1767225660.0 and n.alert.received_at == n.at
