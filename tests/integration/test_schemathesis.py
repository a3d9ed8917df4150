"""schemathesis against /openapi.json of the real service (worker + HTTP on a free port, real Redis and
RabbitMQ): generated requests to every documented operation with a valid admin token must never get a server
error (5xx). Bounded: a few examples per operation, deterministic generation (a red run is reproducible). An
incident, a problem and a silence are made first and their ids given for the ``{id}`` path parameters (the silence's
for its v1 and Alertmanager v2 routes), so the operations on one of them are exercised past the 404. The event
stream (an endless response) is left out; its answer codes are covered by test_http_console."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import eventually, missing_tool
from tests.integration.api_helpers import ADMIN, INGEST, start_api
from tests.integration.helpers import stored_alerts, v2_alert
from tests.integration.test_http_problems import PROBLEM_RULES

MAX_EXAMPLES = 8  # per operation
RUN_SECONDS = 200  # schemathesis's whole run (about 85 s on a quiet machine)


def _schemathesis() -> str:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if exe is None:
        missing_tool("schemathesis is not installed (pip install -e '.[test]')")
    return exe


def _config(tmp_path: Path, ids: dict[str, str]) -> Path:
    """Real ids for the path parameters, so operations on one incident, problem or silence reach past the 404."""
    config = tmp_path / "schemathesis.toml"
    config.write_text("".join(
        f'[[operations]]\ninclude-path-regex = "{regex}"\nparameters = {{ "path.id" = "{value}" }}\n\n'
        for regex, value in ids.items()))
    return config


async def _seed(api) -> dict[str, str]:
    """One incident, one problem (a recurring batch job), one silence."""
    for hour, resolved in ((1, False), (1, True), (2, False)):
        alert = v2_alert("BatchJobFailed", "billing", "job-1", resolved=resolved, starts_at=f"2026-11-21T0{hour}:00:00Z")
        before = stored_alerts(api.worker)
        assert (await api.post("/api/v2/alerts", [alert], token=INGEST)).status_code == 200
        await eventually(lambda: stored_alerts(api.worker) > before, what="alert stored")
    problems = await eventually(lambda: api.worker.pipeline.links.list_problems(), what="the problem")
    incident = (await api.get("/api/v1/incidents?status=open")).json()["items"][0]["id"]
    silence = await api.post("/api/v1/silences", {"matchers": ['service="x"'], "duration": "1h", "comment": "t"})
    return {r"^/api/v1/incidents/\\{id\\}": incident, r"^/api/v1/problems/\\{id\\}": problems[0].id,
            r"^/api/v1/silences/\\{id\\}$": silence.json()["id"],
            r"^/api/v2/silence/\\{id\\}$": silence.json()["id"]}


@pytest.mark.timeout(240)
async def test_no_operation_answers_a_server_error(clean, tmp_path):
    exe = _schemathesis()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(PROBLEM_RULES)
    async for api in start_api(clean, rules=str(tmp_path / "rules"), history_enabled=True,
                               history_path=str(tmp_path / "history.db")):  # the history's search routes too
        base = str(api.client.base_url).rstrip("/")
        config = _config(tmp_path, await _seed(api))
        # run as a subprocess: the worker keeps serving on this event loop meanwhile
        process = await asyncio.create_subprocess_exec(
            exe, "--config-file", str(config), "run", f"{base}/openapi.json", "--checks", "not_a_server_error",
            "--header", f"Authorization: Bearer {ADMIN}", "--max-examples", str(MAX_EXAMPLES),
            "--exclude-path", "/api/v1/stream", "--generation-deterministic",
            "--request-timeout", "10", "--no-color", "--report", "junit",
            # one worker: with several, schemathesis's input generation calls ast.parse from threads and trips
            # CPython 3.11's non-thread-safe AST recursion counter ("AST constructor recursion depth mismatch",
            # python/cpython#106905), a crash of the tool, not an answer of ours
            "--workers", "1",
            "--report-dir", str(tmp_path), "--output-sanitize", "true",
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
        try:  # a bound below the test's timeout: past it the test fails here, cleanly, instead of being cut mid-await
            out, _ = await asyncio.wait_for(process.communicate(), timeout=RUN_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            pytest.fail(f"schemathesis did not finish within {RUN_SECONDS} s")
        text = out.decode(errors="replace")
        print(text[-6000:])
        assert process.returncode == 0, text[-6000:]
        counts = re.search(r"(\d+) generated, (\d+) passed", text)
        assert counts is not None and int(counts[1]) > 0 and counts[1] == counts[2], text[-3000:]
