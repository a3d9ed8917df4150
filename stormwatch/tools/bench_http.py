"""``stormwatch bench-http``: POST /api/v2/alerts with the same 50-alert body to Prometheus Alertmanager and to
Stormwatch, side by side, with wrk.

Both servers run on this machine as separate processes: ``prometheus-alertmanager`` (Debian package, a
throwaway config with a null receiver, clustering off) and ``stormwatch serve`` in a fresh namespace with an
ingest token. wrk (Debian package) posts the same body through a Lua script (``deploy/wrk-post.lua``) with
the same threads, connections and duration to each; rounds alternate between the two so neither always
runs on a warmer machine. A round counts only if every answer was 2xx. What "accepted" means differs and
is printed: Alertmanager holds the alerts in memory; Stormwatch answers after RabbitMQ confirmed the
message on a durable quorum queue. The namespace is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from stormwatch.config import Settings
from stormwatch.namespace import delete_namespace

LUA = Path(__file__).resolve().parents[2] / "deploy" / "wrk-post.lua"  # stormwatch/tools/ -> the checkout
AM_CONFIG = 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'
TOKEN = "bench-" + uuid.uuid4().hex  # lives only for this run


class BenchUnavailable(Exception):
    """A tool is missing; the message says how to install it."""


@dataclass
class Round:
    server: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # answers that were not 2xx, plus socket errors
    socket_errors: int = 0  # of which connect, read, write errors and timeouts (wrk's 2 s)


@dataclass
class HttpBenchResult:
    alerts_per_body: int
    connections: int
    threads: int
    seconds: int
    consume: bool
    processes: int
    rounds: list[Round] = field(default_factory=list)

    def best(self, server: str) -> float:
        return max((r.requests_per_s for r in self.rounds if r.server == server and r.non_2xx == 0), default=0.0)

    def median(self, server: str) -> float:
        values = [r.requests_per_s for r in self.rounds if r.server == server and r.non_2xx == 0]
        return statistics.median(values) if values else 0.0


def bench_body(alerts: int) -> bytes:
    return orjson.dumps([
        {"labels": {"alertname": f"Bench{i % 5}", "service": f"svc-{i % 5}", "instance": f"pod-{i}",
                    "severity": "critical"},
         "annotations": {"summary": "bench"}, "startsAt": "2026-11-21T10:00:00Z",
         "generatorURL": "http://prometheus:9090/graph"}
        for i in range(alerts)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise BenchUnavailable(f"{names[0]} is not installed: apt-get install wrk prometheus-alertmanager "
                           "(or `make bench-http` / `bash deploy/dev.sh bench --against alertmanager`, which "
                           "install them)")


async def _wait_ready(url: str, process: asyncio.subprocess.Process, log: Path, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient() as client:
        while loop.time() < deadline:
            if process.returncode is not None:
                raise BenchUnavailable(f"{url} exited with {process.returncode}:\n{log.read_text()[-2000:]}")  # noqa: ASYNC240
            try:
                if (await client.get(url, timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise BenchUnavailable(f"{url} not ready after {timeout}s:\n{log.read_text()[-2000:]}")  # noqa: ASYNC240


async def _wrk(wrk: str, url: str, body: Path, token: str, threads: int, connections: int, seconds: int,
               *, lines: bool = False) -> Round:
    """One wrk run posting ``body`` (``lines``: one body per line of the file, in turn)."""
    env = os.environ | {"BODY": str(body), "TOKEN": token} | ({"BODIES": "1"} if lines else {})
    proc = await asyncio.create_subprocess_exec(
        wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(LUA), url,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await proc.communicate())[0].decode()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise BenchUnavailable(f"wrk output not understood:\n{out}")
    non_2xx = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    socket_errors = sum(int(x) for x in re.findall(r"errors: (\d+)", out))
    return Round("", float(rps.group(1)), _ms(out, "50%"), _ms(out, "99%"), non_2xx + socket_errors, socket_errors)


def _ms(out: str, pct: str) -> float:
    m = re.search(rf"^\s+{re.escape(pct)}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if m is None:
        return 0.0
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def run_http_bench(settings: Settings, console: Console, *, alerts: int = 50, seconds: int = 10,
                         connections: int = 32, threads: int = 2, rounds: int = 2, consume: bool = False,
                         processes: int = 1, as_json: bool = False) -> HttpBenchResult:
    wrk = _tool("wrk")
    am = _tool("prometheus-alertmanager", "alertmanager")
    stormwatch = shutil.which("stormwatch", path=str(Path(sys.executable).parent)) or _tool("stormwatch")
    result = HttpBenchResult(alerts, connections, threads, seconds, consume, processes)
    namespace = f"bench-http-{uuid.uuid4().hex[:8]}"
    procs: list[asyncio.subprocess.Process] = []
    with tempfile.TemporaryDirectory(prefix="stormwatch-bench-http-") as tmp:
        tmpdir = Path(tmp)
        body = tmpdir / "body.json"
        body.write_bytes(bench_body(alerts))
        (tmpdir / "am.yml").write_text(AM_CONFIG)
        am_port, sw_port = _free_port(), _free_port()
        try:
            am_log = tmpdir / "alertmanager.log"
            with am_log.open("wb") as out:
                procs.append(await asyncio.create_subprocess_exec(
                    am, f"--config.file={tmpdir / 'am.yml'}", f"--web.listen-address=127.0.0.1:{am_port}",
                    f"--storage.path={tmpdir / 'am-data'}", "--cluster.listen-address=",
                    stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL))
            sw_log = tmpdir / "stormwatch.log"
            env = os.environ | {
                "STORMWATCH_NAMESPACE": namespace, "STORMWATCH_AMQP_URL": settings.amqp_url,
                "STORMWATCH_REDIS_URL": settings.redis_url, "STORMWATCH_HTTP_HOST": "127.0.0.1",
                "STORMWATCH_HTTP_PORT": str(sw_port), "STORMWATCH_API_TOKENS": f"bench:ingest:{TOKEN}",
                "STORMWATCH_CONSUME": "true" if consume else "false", "STORMWATCH_RULES": "none",
                "STORMWATCH_LOG_FORMAT": "json", "STORMWATCH_LOG_LEVEL": "warning",
                "STORMWATCH_HTTP_REUSE_PORT": "true" if processes > 1 else "false",
            }
            with sw_log.open("wb") as out:
                for _ in range(processes):  # several processes on one port (SO_REUSEPORT), as in production
                    procs.append(await asyncio.create_subprocess_exec(
                        stormwatch, "serve", env=env, stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL))
                    await _wait_ready(f"http://127.0.0.1:{sw_port}/readyz", procs[-1], sw_log)
            await _wait_ready(f"http://127.0.0.1:{am_port}/-/ready", procs[0], am_log)
            targets = {"alertmanager": (f"http://127.0.0.1:{am_port}/api/v2/alerts", ""),
                       "stormwatch": (f"http://127.0.0.1:{sw_port}/api/v2/alerts", TOKEN)}
            for url, token in targets.values():  # warm-up: connections, caches, JIT-free but fair
                await _wrk(wrk, url, body, token, threads, connections, 2)
            for n in range(rounds):
                order = list(targets) if n % 2 == 0 else list(reversed(targets))
                for name in order:
                    url, token = targets[name]
                    r = await _wrk(wrk, url, body, token, threads, connections, seconds)
                    r.server = name
                    result.rounds.append(r)
                    if not as_json:
                        console.print(f"round {n + 1} {name}: {r.requests_per_s:,.0f} req/s "
                                      f"(p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, non-2xx {r.non_2xx})")
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        await asyncio.wait_for(proc.wait(), timeout=15)
                    except TimeoutError:
                        proc.kill()
                        await proc.wait()
            await delete_namespace(settings.model_copy(update={"namespace": namespace}))
    _print(console, result, as_json)
    return result


def _print(console: Console, result: HttpBenchResult, as_json: bool) -> None:
    am, sw = result.median("alertmanager"), result.median("stormwatch")
    if as_json:
        doc: dict[str, Any] = asdict(result) | {"alertmanager_median": am, "stormwatch_median": sw,
                                                "ratio": sw / am if am else None}
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        return
    table = Table(title=f"POST /api/v2/alerts, {result.alerts_per_body} alerts per body, wrk -t{result.threads} "
                        f"-c{result.connections} -d{result.seconds}s, median of {len(result.rounds) // 2} rounds, "
                        f"{result.processes} stormwatch process(es)")
    for col in ("server", "requests/s", "alerts/s", "accepted means"):
        table.add_column(col)
    table.add_row("alertmanager", f"{am:,.0f}", f"{am * result.alerts_per_body:,.0f}", "held in memory")
    table.add_row("stormwatch", f"{sw:,.0f}", f"{sw * result.alerts_per_body:,.0f}",
                  "confirmed by RabbitMQ (durable quorum queue)" + (", correlated in the same process"
                                                                   if result.consume else ""))
    console.print(table)
    console.print(f"stormwatch / alertmanager: {sw / am:.2f}x" if am else "alertmanager: no clean round")
