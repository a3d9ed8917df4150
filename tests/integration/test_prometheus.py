"""A real Prometheus (Debian's ``prometheus``) evaluating an always-firing rule and sending it to the service's
HTTP ingest as its Alertmanager (API v2, bearer token of the ingest role): an incident opens. The alerting section
is the README's Prometheus example, read from README.md as written (only the address and the token file's path
replaced), so the README's snippet is what is tested. Prometheus runs on free ports with its own data directory and
is stopped by the PID it was started with. A missing binary skips locally and fails under CI=true."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
from pathlib import Path


from tests.conftest import eventually, missing_tool
from tests.integration.api_helpers import INGEST, start_api

README = Path(__file__).resolve().parents[2] / "README.md"
README_MARKER = "<!-- prometheus-example:"
README_ADDRESS = "stormwatch:9464"
README_TOKEN_FILE = "/etc/prometheus/stormwatch-ingest-token"

RULES = """
groups:
  - name: stormwatch-test
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        for: 0s
        labels: {service: prometheus-test, severity: warning}
        annotations: {summary: "always firing, from a real Prometheus"}
"""


def _prometheus() -> str:
    exe = shutil.which("prometheus")
    if exe is None:
        missing_tool("prometheus is not on PATH (apt-get install prometheus)")
    return exe


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def readme_example() -> str:
    """The README's Prometheus example: the YAML block after its marker comment, verbatim."""
    text = README.read_text()
    after = text[text.index(README_MARKER):]
    match = re.search(r"```yaml\n(.*?)```", after, re.S)
    assert match is not None, "the README's Prometheus example is gone"
    return match.group(1)


def _config(tmp: Path, service_port: int) -> Path:
    (tmp / "rules.yml").write_text(RULES)
    token_file = tmp / "stormwatch-ingest-token"
    token_file.write_text(INGEST + "\n")
    example = readme_example()
    assert README_ADDRESS in example and README_TOKEN_FILE in example
    alerting = example.replace(README_ADDRESS, f"127.0.0.1:{service_port}").replace(README_TOKEN_FILE, str(token_file))
    config = tmp / "prometheus.yml"
    config.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{tmp / 'rules.yml'}]
{alerting}""")
    return config


async def test_prometheus_alerts_become_an_incident(clean, tmp_path):
    exe = _prometheus()
    async for api in start_api(clean):
        config = _config(tmp_path, api.worker.ops.bound_port)
        log = (tmp_path / "prometheus.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            exe, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{_free_port()}", "--log.level=warn",
            # the first notification can go out before the Alertmanager list is synced (dropped): resend soon
            "--rules.alert.resend-delay=1s",
            stdout=log, stderr=log)
        try:
            async def incident():
                page = (await api.get("/api/v1/incidents")).json()["items"]
                return [i for i in page if i["group_labels"].get("alertname") == "AlwaysFiring"]

            (found,) = await eventually(incident, timeout=60, what="the incident from Prometheus' alert")
            assert found["status"] == "open" and found["group_labels"]["service"] == "prometheus-test"
            detail = (await api.get(f"/api/v1/incidents/{found['id']}")).json()
            (alert,) = detail["members"]
            assert alert["labels"]["severity"] == "warning"
            assert alert["annotations"]["summary"] == "always firing, from a real Prometheus"
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            await asyncio.wait_for(process.wait(), 30)
            log.close()
