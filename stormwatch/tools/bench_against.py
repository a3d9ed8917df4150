"""``stormwatch bench --against alertmanager``: the same 50-alert bodies through Stormwatch end to end and into
Alertmanager's ``POST /api/v2/alerts``, in one run, with the ratio.

* Stormwatch: the bodies fill a fresh namespace's alerts queue (broker-confirmed), then ``stormwatch serve
  --processes P`` drains it (RabbitMQ -> correlation -> Redis, acked); throughput is the steady-state rate between
  10% and 90% of the alerts stored, read from the one /metrics of the supervised processes (as ``bench
  --workers`` reads it).
* Alertmanager: the Debian ``prometheus-alertmanager`` (a null receiver, clustering off) takes the same bodies in
  turn from wrk (``deploy/wrk-post.lua`` with one body per line) for ``seconds``; alerts/s is requests/s times the
  alerts per body. Alertmanager keeps the alerts in memory and answers; nothing is durable.

Rounds alternate which side goes first; the load average is printed with each figure (the generator, RabbitMQ and
Redis share the machine's cores with both servers).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
from rich.console import Console

from stormwatch.config import Settings
from stormwatch.namespace import delete_namespace
from stormwatch.tools.bench import make_bodies
from stormwatch.tools.bench_http import AM_CONFIG, _free_port, _tool, _wait_ready, _wrk
from stormwatch.tools.bench_workers import _stored, fill_queue, steady_rate


@dataclass
class AgainstRound:
    side: str
    alerts_per_s: float
    load_average: float  # 1-minute, when the round ended


@dataclass
class AgainstResult:
    alerts: int
    per_message: int
    processes: int
    rounds: list[AgainstRound] = field(default_factory=list)

    def median(self, side: str) -> float:
        values = [r.alerts_per_s for r in self.rounds if r.side == side]
        return statistics.median(values) if values else 0.0

    @property
    def ratio(self) -> float:
        am = self.median("alertmanager")
        return self.median("stormwatch") / am if am else 0.0


async def _stormwatch_round(settings: Settings, bodies: list[bytes], alerts: int, processes: int) -> float:
    ns = settings.model_copy(update={"namespace": f"bench-am-{uuid.uuid4().hex[:8]}"})
    port = _free_port()
    try:
        await fill_queue(ns, bodies)
        env = os.environ | {
            "STORMWATCH_NAMESPACE": ns.namespace, "STORMWATCH_AMQP_URL": ns.amqp_url,
            "STORMWATCH_REDIS_URL": ns.redis_url, "STORMWATCH_REDIS_CLUSTER": str(ns.redis_cluster),
            "STORMWATCH_HTTP_HOST": "127.0.0.1", "STORMWATCH_HTTP_PORT": str(port), "STORMWATCH_RULES": ns.rules,
            "STORMWATCH_LOG_LEVEL": "warning", "STORMWATCH_HISTORY_ENABLED": "false", "STORMWATCH_LOG_FORMAT": "json",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the supervisor makes a fresh one
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "stormwatch.cli", "serve", "--processes", str(processes), env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        samples: list[tuple[float, float]] = []
        try:
            deadline = time.perf_counter() + 1800
            while time.perf_counter() < deadline:
                stored = await _stored(port)
                samples.append((time.perf_counter(), stored))
                if stored >= alerts:
                    break
                if proc.returncode is not None:
                    raise RuntimeError(f"stormwatch serve exited with {proc.returncode} during the benchmark")
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("stormwatch did not drain the queue within 30 minutes")
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=60)
            except TimeoutError:
                proc.kill()
        return steady_rate(samples, alerts)
    finally:
        await delete_namespace(ns)


async def _alertmanager_round(wrk: str, url: str, bodies_file: Path, per_message: int, seconds: int) -> float:
    r = await _wrk(wrk, url, bodies_file, "", 2, 32, seconds, lines=True)
    if r.non_2xx > r.socket_errors:  # refused bodies; a timeout (wrk's 2 s) only costs the rate
        raise RuntimeError(f"Alertmanager answered {r.non_2xx - r.socket_errors} requests with an error")
    return r.requests_per_s * per_message


async def run_against_alertmanager(settings: Settings, console: Console, *, alerts: int, per_message: int,
                                   groups: int, processes: int, rounds: int = 2, seconds: int = 10,
                                   as_json: bool = False) -> AgainstResult:
    wrk = _tool("wrk")
    am = _tool("prometheus-alertmanager", "alertmanager")
    bodies = make_bodies(alerts, per_message, groups, distinct=max(groups, alerts // 4))
    result = AgainstResult(alerts, per_message, processes)
    with tempfile.TemporaryDirectory(prefix="stormwatch-bench-am-") as tmp:
        tmpdir = Path(tmp)
        bodies_file = tmpdir / "bodies.jsonl"
        bodies_file.write_bytes(b"\n".join(bodies) + b"\n")
        (tmpdir / "am.yml").write_text(AM_CONFIG)
        am_port = _free_port()
        am_log = tmpdir / "alertmanager.log"
        with am_log.open("wb") as out:
            am_proc = await asyncio.create_subprocess_exec(
                am, f"--config.file={tmpdir / 'am.yml'}", f"--web.listen-address=127.0.0.1:{am_port}",
                f"--storage.path={tmpdir / 'am-data'}", "--cluster.listen-address=",
                stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL)
        try:
            await _wait_ready(f"http://127.0.0.1:{am_port}/-/ready", am_proc, am_log)
            url = f"http://127.0.0.1:{am_port}/api/v2/alerts"
            await _wrk(wrk, url, bodies_file, "", 2, 32, 2, lines=True)  # warm-up
            for n in range(rounds):
                order = ("stormwatch", "alertmanager") if n % 2 == 0 else ("alertmanager", "stormwatch")
                for side in order:
                    if side == "stormwatch":
                        rate = await _stormwatch_round(settings, bodies, alerts, processes)
                    else:
                        rate = await _alertmanager_round(wrk, url, bodies_file, per_message, seconds)
                    result.rounds.append(AgainstRound(side, rate, os.getloadavg()[0]))
                    if not as_json:
                        console.print(f"round {n + 1} {side}: {rate:,.0f} alerts/s "
                                      f"(load average {os.getloadavg()[0]:.1f})")
        finally:
            am_proc.send_signal(signal.SIGTERM)
            await am_proc.wait()
    if as_json:
        console.print_json(orjson.dumps(asdict(result) | {"ratio": result.ratio}).decode())
    else:
        console.print(f"stormwatch (serve --processes {processes}, RabbitMQ -> correlation -> Redis, acked): "
                      f"{result.median('stormwatch'):,.0f} alerts/s; Alertmanager (POST /api/v2/alerts, in "
                      f"memory): {result.median('alertmanager'):,.0f} alerts/s; ratio "
                      f"[bold]{result.ratio:.2f}x[/bold] (medians of {rounds} round(s), {per_message} alerts per "
                      f"body, {os.cpu_count()} cores)")
    return result
