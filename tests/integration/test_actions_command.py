"""Command actions run real subprocesses; idempotency under 4 concurrent runners and redeliveries."""

from __future__ import annotations

import asyncio
import sys

import orjson

from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.actions_support import action_settings, alert, publish_event, runs, settled
from tests.integration.helpers import body, publish

EVIL = "$(rm -rf /); `touch /tmp/pwned-by-stormwatch` {{ ''.__class__ }}"
PRINT_ARGV = "import json, os, sys; print(json.dumps([sys.argv[1:], sorted(os.environ)]))"


def command_rules(argv: list[str], extra: str = "") -> str:
    return f"""
actions:
  - name: run
    type: command
    config:
      argv: {orjson.dumps(argv).decode()}
      env: {{MODE: "{{{{ incident.priority or 'none' }}}}"}}
      timeout: 20s
{extra}
groups:
  - name: cmd
    match: ['alertname=~"Cmd.*"']
    group_by: [alertname, node]
    actions: [run]
"""


async def test_argv_items_stay_single_inert_arguments_in_a_real_subprocess(clean, tmp_path):
    argv = [sys.executable, "-c", PRINT_ARGV, "{{ labels.payload }}", "--node={{ labels.node }}"]
    (tmp_path / "rules.yaml").write_text(command_rules(argv))
    w = Worker(action_settings(clean, tmp_path))
    await w.start()
    try:
        await publish(clean, [body([alert("CmdBroken", node="n1", payload=EVIL)])])
        (run,) = await settled(w, 1)
        assert run["state"] == "succeeded", run
        output = orjson.loads(run["output"])
        args, env_names = orjson.loads(output["stdout"])
        assert args == [EVIL, "--node=n1"]  # one argument each, exactly the label text: no shell ever saw it
        assert set(env_names) <= {"PATH", "MODE", "STORMWATCH_RUN_ID", "LC_CTYPE"}  # only the allowlist + env
        assert output["exit_code"] == 0
        assert orjson.loads(run["inputs"])["argv"][3] == EVIL
    finally:
        await w.stop()


async def test_timeouts_kill_and_output_is_truncated(clean, tmp_path):
    rules = f"""
actions:
  - name: slow
    type: command
    config: {{argv: ["{sys.executable}", "-c", "import time; time.sleep(30)"], timeout: 200ms}}
    retry: {{attempts: 1}}
  - name: loud
    type: command
    config: {{argv: ["{sys.executable}", "-c", "print('x' * 5000); raise SystemExit(3)"], max_output: 100}}
groups:
  - {{name: slow, match: ['alertname="CmdSlow"'], actions: [slow]}}
  - {{name: loud, match: ['alertname="CmdLoud"'], actions: [loud]}}
"""
    (tmp_path / "rules.yaml").write_text(rules)
    w = Worker(action_settings(clean, tmp_path))
    await w.start()
    try:
        await publish(clean, [body([alert("CmdSlow", node="a"), alert("CmdLoud", node="b")])])
        found = {r["action"]: r for r in await settled(w, 2)}
        assert found["slow"]["state"] == "failed" and "timed out" in found["slow"]["detail"]
        assert found["loud"]["state"] == "failed" and found["loud"]["detail"] == "exit 3"
        assert "more bytes" in orjson.loads(found["loud"]["output"])["stdout"]
    finally:
        await w.stop()


async def test_one_run_under_four_concurrent_runners_and_redeliveries(clean, tmp_path):
    marker = tmp_path / "ran.txt"
    argv = [sys.executable, "-c", "import sys, time; time.sleep(0.3); open(sys.argv[1], 'a').write('ran\\n')",
            str(marker)]
    (tmp_path / "rules.yaml").write_text(command_rules(argv))
    settings = action_settings(clean, tmp_path)
    workers = [Worker(settings) for _ in range(4)]
    for w in workers:
        await w.start()
    try:
        await publish(clean, [body([alert("CmdOnce", node="n1")])])
        (run,) = await settled(workers[0], 1)
        incident = (await workers[0].store.incident(run["incident"])).public()
        event = orjson.dumps({"event_id": "replayed", "type": "incident.created", "incident": incident})
        # the same incident.created again: redelivered through the queue 3 times, and handed to all 4 runners at
        # once (a run claimed by one is waited for by the others, then found settled)
        for n in range(3):
            await publish_event(clean, event, message_id=f"again-{n}")
        states = await asyncio.gather(*(w.actions.runner.handle(event) for w in workers))
        assert states == [["succeeded"]] * 4
        await eventually(lambda: sum(w.actions.consumer.handled for w in workers) >= 4, what="redeliveries handled")
        assert marker.read_text() == "ran\n"  # the command ran exactly once
        assert [r["state"] for r in await runs(workers[0])] == ["succeeded"]
        audit = await workers[0].actions.state.audit()
        assert [e["outcome"] for e in audit] == ["succeeded"]
    finally:
        for w in workers:
            await w.stop()


async def test_concurrent_first_deliveries_run_once(clean, tmp_path):
    """Four runners receive the same new event at the same moment: one claims, three wait and find it settled."""
    marker = tmp_path / "ran.txt"
    argv = [sys.executable, "-c", "import sys, time; time.sleep(0.2); open(sys.argv[1], 'a').write('ran\\n')",
            str(marker)]
    (tmp_path / "rules.yaml").write_text(command_rules(argv))
    settings = action_settings(clean, tmp_path, actions_enabled=True)
    workers = [Worker(settings) for _ in range(4)]
    for w in workers:
        await w.start()
    try:
        event = orjson.dumps({"event_id": "e1", "type": "incident.created",
                              "incident": {"id": "INC-abcdef012345-1", "rule": "cmd", "priority": "P2"}})
        states = await asyncio.gather(*(w.actions.runner.handle(event) for w in workers))
        assert states == [["succeeded"]] * 4
        assert marker.read_text() == "ran\n"
    finally:
        for w in workers:
            await w.stop()


async def test_serve_role_actions_runs_only_the_action_runner_and_stops_on_sigterm(clean, tmp_path):
    import os
    import signal
    from pathlib import Path

    from actions.topology import ActionNames
    from tests.integration.helpers import STORMWATCH

    marker = tmp_path / "ran.txt"
    argv = [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write('ran\\n')", str(marker)]
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "rules.yaml").write_text(command_rules(argv))
    env = os.environ | {"STORMWATCH_NAMESPACE": clean.namespace, "STORMWATCH_AMQP_URL": clean.amqp_url,
                        "STORMWATCH_REDIS_URL": clean.redis_url, "STORMWATCH_RULES": str(rules_dir),
                        "STORMWATCH_METRICS_PORT": "0", "STORMWATCH_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(STORMWATCH, "serve", "--role", "actions", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        async def runner_consuming() -> bool:
            # The queue exists before its bindings do; the runner consumes only after the whole topology is
            # declared, so a consumer on the queue means an event published now is routed to it.
            import aio_pika

            connection = await aio_pika.connect(clean.amqp_url)
            try:
                channel = await connection.channel()
                queue = await channel.declare_queue(ActionNames(clean.namespace).queue, passive=True)
                return queue.declaration_result.consumer_count > 0
            except aio_pika.exceptions.ChannelClosed:
                return False
            finally:
                await connection.close()

        await eventually(runner_consuming, what="serve --role actions consuming its queue")
        event = orjson.dumps({"event_id": "e1", "type": "incident.created",
                              "incident": {"id": "INC-abcdef012345-1", "rule": "cmd", "priority": "P2"}})
        await publish_event(clean, event)
        await eventually(lambda: marker.exists() and marker.read_text() == "ran\n", what="command ran")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, out.decode()[-2000:]
    assert Path(marker).read_text() == "ran\n"  # noqa: ASYNC240 - after the run
