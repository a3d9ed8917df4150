"""Fingerprints against the real Alertmanager (Debian's ``prometheus-alertmanager``): label sets are POSTed to an
Alertmanager started by the test on a free port, and the fingerprints its API reports are compared with Stormwatch's,
both from ``rules.fingerprint`` and from the ingest normaliser. Debian's Alertmanager is 0.25, which refuses UTF-8
label names (checked here, so the day it accepts them this test says so); vectors with UTF-8 names are in
tests/unit/test_fingerprint.py. A missing binary skips locally and fails under CI=true."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import httpx
import orjson
import pytest

from ingest.normalise import normalise
from rules.fingerprint import fingerprint
from stormwatch.tools.bench_http import _free_port, _wait_ready
from tests.conftest import missing_tool

LABEL_SETS = [
    {"alertname": "InstanceDown", "instance": "10.0.0.1:9100", "job": "node", "severity": "critical"},
    {"alertname": "Ünïcödé", "summary": "温度が高すぎます", "emoji": "🔥🚒"},
    {"alertname": "Quotes", "msg": 'say "hi" \\ bye\nnext line', "_x": "1", "Alpha": "2", "alpha": "3"},
    {"alertname": "a" * 200, "long": "v" * 2000},
]


def _alertmanager() -> str:
    exe = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if exe is None:
        missing_tool("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    return exe  # type: ignore[return-value]


@pytest.fixture
async def alertmanager(tmp_path: Path):
    exe = _alertmanager()
    (tmp_path / "am.yml").write_text('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
    port = _free_port()
    log = tmp_path / "am.log"
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(  # fixed arguments, no shell
            exe, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
            stdout=asyncio.subprocess.DEVNULL, stderr=err, stdin=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(f"{url}/-/ready", proc, log)  # fails with the log's tail if it exits or is never ready
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=10)


def test_fingerprints_equal_alertmanagers(alertmanager: str) -> None:
    posted = httpx.post(f"{alertmanager}/api/v2/alerts", json=[{"labels": labels} for labels in LABEL_SETS])
    assert posted.status_code == 200, posted.text
    theirs = {orjson.dumps(a["labels"], option=orjson.OPT_SORT_KEYS): a["fingerprint"]
              for a in httpx.get(f"{alertmanager}/api/v2/alerts").json()}
    assert len(theirs) == len(LABEL_SETS)
    ours = normalise(orjson.dumps([{"labels": labels} for labels in LABEL_SETS]), now=time.time(),
                     format="alertmanager_v2")
    for labels, alert in zip(LABEL_SETS, ours.alerts, strict=True):
        expected = theirs[orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)]
        assert fingerprint(labels) == expected
        assert alert.fingerprint == expected


def test_this_alertmanager_refuses_utf8_names_that_stormwatch_takes(alertmanager: str) -> None:
    labels = {"alertname": "HighLatency", "service.name": "payments"}
    answer = httpx.post(f"{alertmanager}/api/v2/alerts", json=[{"labels": labels}])
    version = httpx.get(f"{alertmanager}/api/v2/status").json()["versionInfo"]["version"]
    if answer.status_code == 200:  # an Alertmanager with UTF-8 names: compare the fingerprint directly
        (alert,) = [a for a in httpx.get(f"{alertmanager}/api/v2/alerts").json() if a["labels"] == labels]
        assert alert["fingerprint"] == fingerprint(labels)
    else:
        assert version.startswith("0.2") and "invalid" in answer.text, (version, answer.text)
    assert normalise(orjson.dumps([{"labels": labels}]), now=time.time()).alerts[0].fingerprint == fingerprint(labels)
