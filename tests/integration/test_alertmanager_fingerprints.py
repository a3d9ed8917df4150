"""Fingerprints against the real Alertmanager (Debian's ``prometheus-alertmanager``): label sets are POSTed to an
Alertmanager started by the test on a free port, and the fingerprints its API reports are compared with Stormwatch's,
both from ``rules.fingerprint`` and from the ingest normaliser. Debian's Alertmanager is 0.25, which refuses UTF-8
label names (checked here, so the day it accepts them this test says so); vectors with UTF-8 names are in
tests/unit/test_fingerprint.py. A missing binary skips locally and fails under CI=true."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest

from ingest.normalise import normalise
from rules.fingerprint import fingerprint
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def alertmanager(tmp_path: Path):
    exe = _alertmanager()
    (tmp_path / "am.yml").write_text('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
    port = _free_port()
    proc = subprocess.Popen(  # fixed arguments, no shell
        [exe, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "am.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "am.log").read_text()
            assert time.monotonic() < deadline, "alertmanager did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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
