"""``stormwatch bench --actions N``: how soon an action starts after its triggering event, under bench load.

A worker (alerts and actions in one process, one event loop) drains a steady load of single-alert messages
published by a child process at ``rate`` msg/s (the load's incidents trigger no action, but their events still
flow through the action queue); meanwhile another child process publishes N alerts, each opening an incident whose
rule starts an HTTP action against a local server. Start latency per run = the run's ``started_at`` minus its
event's ``at`` (when the engine decided to open the incident), both from the worker's clock.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from rich.console import Console

from actions.state import ActionState
from correlation.store.keyspace import Keyspace
from stormwatch.app import Worker
from stormwatch.tools.bench import _paced_publisher, _percentile, make_bodies
from stormwatch.config import Settings
from stormwatch.namespace import delete_namespace

RULES = """
actions:
  - name: bench-hook
    type: http
    config: {{url: "http://127.0.0.1:{port}/hook/{{{{ labels.service }}}}", body: '{{{{ incident.id | tojson }}}}'}}
groups:
  - name: acted
    match: ['alertname="ActionBench"']
    group_by: [service]
    actions: [bench-hook]
"""


def trigger_bodies(count: int) -> list[bytes]:
    starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    return [orjson.dumps([{"labels": {"alertname": "ActionBench", "service": f"act-{i}", "severity": "critical"},
                           "startsAt": starts}]) for i in range(count)]


def _actions_process(settings: Settings, ready: Any) -> None:
    """Child process: ``stormwatch serve --role actions`` for the bench's namespace."""
    import uvloop

    from stormwatch.actions_app import serve_actions

    uvloop.run(serve_actions(settings, ready.set))


async def run_actions_bench(settings: Settings, console: Console, *, triggers: int, rate: float, groups: int,
                            separate: bool = False) -> dict[str, Any]:
    app = web.Application()
    app.router.add_post("/hook/{service}", lambda request: _ok(request))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    duration = triggers / 20.0  # triggers at 20/s, the load for as long
    load = make_bodies(int(rate * duration), 1, groups, distinct=max(groups, int(rate * duration) // 4))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rules.yaml").write_text(RULES.format(port=port))
        ns = settings.model_copy(update={
            "namespace": f"bench-{uuid.uuid4().hex[:8]}", "metrics_enabled": False, "rules": tmp,
            "actions_allowed_schemes": ("http",), "actions_allowed_ports": (), "actions_fleet_max": 0,
            "actions_allowed_networks": ("127.0.0.1/32",), "actions_enabled": True, "actions_shadow": False})
        spawn = multiprocessing.get_context("spawn")
        actions_child = None
        if separate:  # the action runner in its own process, as `stormwatch serve --role actions`
            ready = spawn.Event()
            actions_child = spawn.Process(target=_actions_process, args=(ns, ready), daemon=True)
            actions_child.start()
            await asyncio.get_running_loop().run_in_executor(None, ready.wait, 60)
        worker = Worker(ns.model_copy(update={"actions_enabled": not separate}))
        await worker.start()
        try:
            assert worker.topology is not None
            exchange = worker.topology.alerts.name
            children = [spawn.Process(target=_paced_publisher, args=(ns.amqp_url, exchange, load, rate), daemon=True),
                        spawn.Process(target=_paced_publisher, args=(ns.amqp_url, exchange, trigger_bodies(triggers),
                                                                      20.0), daemon=True)]
            console.print(f"load: {len(load):,} single-alert messages at {rate:,.0f} msg/s; "
                          f"{triggers} action triggers at 20/s ({duration:.0f} s); action runner "
                          f"{'in its own process' if separate else 'in the worker process'}")
            for child in children:
                child.start()
            assert worker.redis is not None
            state = ActionState(worker.redis, Keyspace(ns.namespace))
            deadline = time.monotonic() + duration + 120
            runs: list[dict[str, str]] = []
            while time.monotonic() < deadline:
                runs = [r for r in await state.runs(limit=triggers + 10) if r.get("state") == "succeeded"]
                if len(runs) >= triggers:
                    break
                await asyncio.sleep(0.5)
            for child in children:
                await asyncio.get_running_loop().run_in_executor(None, child.join, 60)
        finally:
            await worker.stop()
            if actions_child is not None:
                actions_child.terminate()  # SIGTERM: it drains and stops
                await asyncio.get_running_loop().run_in_executor(None, actions_child.join, 30)
            await delete_namespace(ns)
    await runner.cleanup()
    latencies = [float(r["started_at"]) - float(r["event_at"]) for r in runs]
    delivery = [float(r["created_at"]) - float(r["event_at"]) for r in runs]  # event decided -> runner has it
    result = {"triggers": triggers, "succeeded": len(runs), "load_msgs_per_s": rate,
              "runner": "separate process" if separate else "in the worker",
              "start_p50_ms": round(_percentile(latencies, 0.5) * 1000, 1),
              "start_p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
              "start_max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
              "of_which_delivery_p50_ms": round(_percentile(delivery, 0.5) * 1000, 1),
              "of_which_delivery_p99_ms": round(_percentile(delivery, 0.99) * 1000, 1)}
    console.print_json(orjson.dumps(result).decode())
    return result


async def _ok(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="ok")
