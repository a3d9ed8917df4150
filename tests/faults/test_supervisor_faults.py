"""``stormwatch serve --processes 2``: one of its worker processes is killed mid-stream; the supervisor restarts it,
and the exact account of ``harness.finish`` holds (nothing lost, nothing doubled, one incident per group, each
incident's action run once). The one /metrics of the port shows the living processes only."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

from tests.conftest import eventually
from tests.faults.harness import Scenario, finish, make_stream, note

MESSAGES = 2000


def children(pid: int) -> set[int]:
    """The supervisor's worker processes (its direct children, from /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return set()
    return {int(p) for p in text.split()}


async def ready_pids(serve) -> dict[int, float]:
    """pid -> stormwatch_ready, from the shared port's /metrics (one series per living process)."""
    answer = await serve.get("/metrics")
    if answer is None or answer[0] != 200:
        return {}
    return {int(pid): float(value)
            for pid, value in re.findall(r'^stormwatch_ready\{pid="(\d+)"\} (\S+)$', answer[1], re.MULTILINE)}


async def reloads_applied(serve) -> float:
    answer = await serve.get("/metrics")
    if answer is None or answer[0] != 200:
        return 0.0
    match = re.search(r'^stormwatch_rules_reloads_total\{outcome="applied"\} (\S+)$', answer[1], re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_kill_a_process_of_serve_processes_2(scenario: Scenario):
    stream = make_stream(scenario.settings.namespace, MESSAGES, seed=7)
    supervisor = await scenario.start_worker("--processes", "2")
    assert supervisor.process is not None
    pid = supervisor.process.pid

    async def both_ready() -> bool:
        live = children(pid)
        return len(live) == 2 and {p for p, v in (await ready_pids(supervisor)).items() if v == 1} == live
    await eventually(both_ready, timeout=60, what="two worker processes ready behind one port")
    first = children(pid)

    publisher = asyncio.create_task(scenario.publish(stream))
    await eventually(lambda: _stored_at_least(scenario, stream.alerts / 3), timeout=60, what="a third stored")
    victim = min(first)
    os.kill(victim, signal.SIGKILL)

    async def restarted() -> bool:
        live = children(pid)
        return len(live) == 2 and victim not in live
    await eventually(restarted, timeout=30, what="the supervisor restarts the killed process")
    scenario.fault_over()
    await publisher
    await finish(scenario, stream, worker_killed=True)
    successor = (children(pid) - first).pop()
    await eventually(lambda: _ready_is(supervisor, children(pid)), timeout=30,
                     what="/metrics shows the two living processes, not the dead one")
    note(f"SIGKILL of pid {victim} after a third, restarted as {successor}")

    # SIGHUP reaches every process (each reloads its rules); SIGTERM stops them all, then the supervisor
    before = await reloads_applied(supervisor)
    supervisor.process.send_signal(signal.SIGHUP)
    try:
        await eventually(lambda: _reloads_at_least(supervisor, before + 2), timeout=30, what="both processes reload")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{supervisor.output()[-4000:]}") from None
    live = children(pid)
    assert await supervisor.terminate() == 0
    assert not any(_is_running(p) for p in live), "every worker process exited"


async def _stored_at_least(scenario: Scenario, n: float) -> bool:
    return (await scenario.stored() or 0) >= n


async def _ready_is(serve, pids: set[int]) -> bool:
    return {p for p, v in (await ready_pids(serve)).items() if v == 1} == pids and len(pids) == 2


async def _reloads_at_least(serve, n: float) -> bool:
    return await reloads_applied(serve) >= n


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
