"""Safe by default: a bare `stormwatch serve` loads no rules and says what it loaded (log line, API, metrics);
every line of its JSON log is JSON, the libraries' too; a serve that cannot bind its port leaves nothing behind."""

from __future__ import annotations

import re
import socket

import aio_pika
import httpx
import orjson
import pytest
import structlog

from ingest.topology import Names
from rules.loader import EXAMPLES_DIR, load_rule_set
from stormwatch.app import ServiceUnavailable, Worker
from tests.conftest import eventually
from tests.faults.conftest import require_tools
from tests.faults.servers import close_connection, worker_connections
from tests.integration.api_helpers import READ, TOKENS, bearer
from tests.integration.test_shutdown import Serve

ACTIONS = """
actions:
  - name: hook
    type: http
    config: {url: "https://hooks.example.com/incident"}
  - name: rehearse
    type: http
    dry_run: true
    config: {url: "https://hooks.example.com/rehearsal"}
"""


def _json_lines(text: str) -> list[dict]:
    """Every line of a log, parsed; fails naming the first line that is not one JSON object."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            pytest.fail(f"log line {number} is not JSON: {line[:300]!r}")
        assert isinstance(doc, dict), line
        out.append(doc)
    return out


def _sample(exposition: str, name: str, **labels: str) -> float | None:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(inner)}\}} (\S+)$", exposition, re.MULTILINE)
    return float(match.group(1)) if match else None


async def _answers(serve: Serve) -> tuple[dict, str]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{serve.port}", timeout=10) as client:
        rules = await client.get("/api/v1/rules", headers=bearer(READ))
        assert rules.status_code == 200, rules.text
        metrics = await client.get("/metrics")
        return rules.json(), metrics.text


async def test_serve_without_rules_setting_loads_none_says_so_and_logs_only_json(clean, tmp_path):
    """The default: no rules (default grouping, no actions), named in the start-up line, the API and the metrics.
    Then the broker closes the worker's connection: aiormq and aio-pika log through the same JSON renderer."""
    require_tools()
    serve = Serve(clean, tmp_path / "serve.log", STORMWATCH_API_TOKENS=TOKENS)
    serve.env.pop("STORMWATCH_RULES", None)
    await serve.start()
    try:
        await eventually(serve.ready, timeout=30, what="serve ready")
        (loaded,) = [line for line in _json_lines(serve.output()) if line.get("event") == "rules_loaded"]
        assert (loaded["source"], loaded["actions"]) == ("none", "none")
        assert [loaded[f"{k}_rules"] for k in ("group", "cause", "problem", "action")] == [0, 0, 0, 0]
        summary, metrics = await _answers(serve)
        assert summary["source"] == "none" and summary["groups"] == []
        assert summary["kinds"] == {"group": 0, "cause": 0, "problem": 0, "action": 0}
        assert summary["actions_mode"] == {"mode": "none", "summary": "none", "actions": 0, "dry_run": 0}
        assert [_sample(metrics, "stormwatch_rules_loaded", kind=k) for k in ("group", "cause", "problem", "action")
                ] == [0, 0, 0, 0]
        assert [_sample(metrics, "stormwatch_actions_mode", mode=m) for m in ("none", "live", "shadow", "dry-run")
                ] == [1, 0, 0, 0]
        assert _sample(metrics, "stormwatch_amqp_errors_total", operation="publish") == 0

        assert serve.process is not None
        (connection,) = await eventually(lambda: worker_connections(clean.namespace, serve.process.pid),
                                         what="the worker's connection")
        await close_connection(connection)
        await eventually(lambda: "amqp_reconnected" in serve.events(), timeout=60, what="the worker reconnected")
        assert await serve.terminate() == 0
    finally:
        await serve.kill()
    lines = _json_lines(serve.output())  # every line, the libraries' included
    libraries = {line.get("logger") for line in lines} - {None}
    assert any(name.startswith(("aiormq", "aio_pika")) for name in libraries), libraries
    assert all("level" in line and "timestamp" in line for line in lines)


async def test_examples_are_loaded_only_when_asked_for_and_their_actions_are_live(clean, tmp_path):
    serve = Serve(clean, tmp_path / "serve.log", STORMWATCH_API_TOKENS=TOKENS, STORMWATCH_RULES="examples")
    await serve.start()
    try:
        await eventually(serve.ready, timeout=30, what="serve ready")
        examples = load_rule_set(EXAMPLES_DIR)
        expected = {"group": len(examples.groups), "cause": len(examples.inhibit) + len(examples.topology.services),
                    "problem": len(examples.problems), "action": len(examples.actions)}
        dry = sum(1 for a in examples.actions if a.dry_run)
        mode = f"live ({dry} dry-run)" if dry else "live"
        assert all(expected.values()), expected  # the examples hold every kind
        (loaded,) = [line for line in _json_lines(serve.output()) if line.get("event") == "rules_loaded"]
        assert (loaded["source"], loaded["actions"]) == ("examples", mode)
        assert {k: loaded[f"{k}_rules"] for k in expected} == expected
        summary, metrics = await _answers(serve)
        assert (summary["source"], summary["kinds"], summary["actions_mode"]["summary"]) == ("examples", expected, mode)
        assert {k: _sample(metrics, "stormwatch_rules_loaded", kind=k) for k in expected} == expected
        assert _sample(metrics, "stormwatch_actions_mode", mode="live") == 1
        assert _sample(metrics, "stormwatch_actions_mode", mode="none") == 0
        assert await serve.terminate() == 0
    finally:
        await serve.kill()


async def test_a_reload_updates_the_summary_and_a_mixed_set_reads_live_with_its_dry_runs(clean, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    worker = Worker(clean.model_copy(update={"rules": str(rules), "rules_poll_seconds": 0}))
    await worker.start()
    try:
        assert worker.rules_summary()["actions_mode"]["mode"] == "none"
        (rules / "actions.yaml").write_text(ACTIONS)
        with structlog.testing.capture_logs() as logs:
            assert worker.reload_rules()
        (line,) = [entry for entry in logs if entry["event"] == "rules_reloaded"]
        assert (line["source"], line["action_rules"], line["actions"]) == (str(rules), 2, "live (1 dry-run)")
        summary = worker.rules_summary()
        assert summary["actions_mode"] == {"mode": "live", "summary": "live (1 dry-run)", "actions": 2, "dry_run": 1}
        registry = worker.metrics.registry
        assert registry.get_sample_value("stormwatch_rules_loaded", {"kind": "action"}) == 2
        assert registry.get_sample_value("stormwatch_actions_mode", {"mode": "live"}) == 1
        assert registry.get_sample_value("stormwatch_actions_mode", {"mode": "none"}) == 0

        (rules / "actions.yaml").write_text(ACTIONS.replace("    config: {url: \"https://hooks.example.com/incident\"}",
                                                            "    dry_run: true\n    config: {url: "
                                                            "\"https://hooks.example.com/incident\"}"))
        assert worker.reload_rules()
        assert worker.rules_summary()["actions_mode"]["summary"] == "dry-run"
        assert registry.get_sample_value("stormwatch_actions_mode", {"mode": "dry-run"}) == 1
    finally:
        await worker.stop()


async def test_shadow_mode_is_reported_whatever_the_actions_say(clean):
    worker = Worker(clean.model_copy(update={"rules": "examples", "actions_shadow": True}))
    with structlog.testing.capture_logs() as logs:
        await worker.start()
    try:
        (line,) = [entry for entry in logs if entry["event"] == "rules_loaded"]
        assert (line["source"], line["actions"]) == ("examples", "shadow")
        assert worker.metrics.registry.get_sample_value("stormwatch_actions_mode", {"mode": "shadow"}) == 1
    finally:
        await worker.stop()


async def test_a_busy_http_port_stops_serve_before_any_queue_or_exchange_exists(clean, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        with pytest.raises(ServiceUnavailable, match=f"cannot listen on 127.0.0.1:{port}"):
            await Worker(clean.model_copy(update={"metrics_port": port})).start()
        serve = Serve(clean, tmp_path / "serve.log", STORMWATCH_METRICS_PORT=str(port))
        await serve.start()
        assert serve.process is not None
        code = await serve.process.wait()
        assert code == 1 and f"cannot listen on 127.0.0.1:{port}" in serve.output(), serve.output()
    finally:
        busy.close()
    names = Names(clean.namespace)
    connection = await aio_pika.connect(clean.amqp_url)
    try:
        for queue in (names.alerts_queue, names.dead_queue):
            channel = await connection.channel()
            with pytest.raises(aio_pika.exceptions.ChannelClosed, match="NOT_FOUND"):
                await channel.declare_queue(queue, passive=True)
        for exchange in (names.alerts_exchange, names.dead_exchange, names.events_exchange):
            channel = await connection.channel()
            with pytest.raises(aio_pika.exceptions.ChannelClosed, match="NOT_FOUND"):
                await channel.declare_exchange(exchange, passive=True)
    finally:
        await connection.close()

