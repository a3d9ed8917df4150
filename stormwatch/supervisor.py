"""``stormwatch serve --processes N``: one supervisor over N worker processes on one machine (VMs, Compose, the
demo; Kubernetes keeps one process per pod).

* Each worker is an ordinary ``stormwatch serve`` child with ``STORMWATCH_HTTP_REUSE_PORT=true``: every child
  binds the same HTTP port with ``SO_REUSEPORT`` and the kernel spreads connections over them. They share the
  namespace's alerts queue like workers on separate machines, so every guarantee (idempotency markers,
  compare-and-set, timer claims) is the one between separate workers.
* A child that exits while the supervisor is not stopping is restarted, after a delay that doubles while it keeps
  dying young (1 s up to 30 s; back to 1 s once a child has run a minute). Its unacked messages go back to the
  queue when its connection drops, and the other children (or its successor) take them.
* SIGTERM and SIGINT are forwarded as SIGTERM (each child finishes and acks what it holds, then exits); the
  supervisor exits when every child has. SIGHUP is forwarded: each child reloads its rules.
* One ``/metrics`` for all: the children write their samples to ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
  multiprocess mode; a fresh directory the supervisor makes and removes unless the variable is set) and whichever
  child answers ``/metrics`` exports the sum over every child, living or dead (counters and histograms keep
  counting across restarts). Gauges are per process, labelled ``pid``; a dead child's gauges go with it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence

import structlog

log = structlog.get_logger("stormwatch.supervisor")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
RESTART_DELAY_MIN, RESTART_DELAY_MAX, HEALTHY_AFTER = 1.0, 30.0, 60.0


def process_count(value: str) -> int:
    """``--processes``: a positive integer, or ``auto`` for one per core this process may run on."""
    if value == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"--processes must be a positive integer or auto (got {value!r})")
    return count


class Supervisor:
    """Runs ``command`` ``processes`` times and keeps it running until told to stop."""

    def __init__(self, command: Sequence[str], processes: int, env: Mapping[str, str] | None = None) -> None:
        self.command = list(command)
        self.processes = processes
        self.env = dict(os.environ if env is None else env)
        self.children: dict[int, asyncio.subprocess.Process] = {}  # slot -> process
        self.stopping = asyncio.Event()
        self._own_dir: str | None = None

    def _prepare_metrics_dir(self) -> str:
        directory = self.env.get(MULTIPROC_ENV)
        if directory:
            os.makedirs(directory, exist_ok=True)
            for name in os.listdir(directory):  # samples of an earlier run would be added to this one's
                if name.endswith(".db"):
                    os.unlink(os.path.join(directory, name))
        else:
            directory = self._own_dir = tempfile.mkdtemp(prefix="stormwatch-metrics-")
        return directory

    async def _spawn(self, slot: int) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(*self.command, env=self.env, stdin=asyncio.subprocess.DEVNULL)
        self.children[slot] = process
        log.info("worker_process_started", slot=slot, pid=process.pid)
        return process

    async def _keep(self, slot: int) -> None:
        """One slot: start its child, restart it whenever it exits until the supervisor stops."""
        delay = RESTART_DELAY_MIN
        while not self.stopping.is_set():
            started = time.monotonic()
            process = await self._spawn(slot)
            if self.stopping.is_set():  # stopped while it was starting: it missed the forwarded SIGTERM
                process.send_signal(signal.SIGTERM)
            code = await process.wait()
            _mark_dead(process.pid, self.env[MULTIPROC_ENV])
            if self.stopping.is_set():
                log.info("worker_process_stopped", slot=slot, pid=process.pid, code=code)
                return
            delay = RESTART_DELAY_MIN if time.monotonic() - started >= HEALTHY_AFTER else delay
            log.warning("worker_process_exited", slot=slot, pid=process.pid, code=code, restart_in=delay)
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(RESTART_DELAY_MAX, delay * 2)

    def _forward(self, sig: signal.Signals) -> None:
        for process in self.children.values():
            if process.returncode is None:
                try:
                    process.send_signal(sig)
                except ProcessLookupError:  # exited between the check and the signal
                    pass

    def stop(self) -> None:
        if not self.stopping.is_set():
            log.info("supervisor_stopping", processes=len(self.children))
            self.stopping.set()
        self._forward(signal.SIGTERM)

    async def run(self) -> int:
        """Until SIGTERM or SIGINT; 0 once every child has exited."""
        self.env[MULTIPROC_ENV] = self._prepare_metrics_dir()
        self.env["STORMWATCH_HTTP_REUSE_PORT"] = "true"
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._forward, signal.SIGHUP)
        log.info("supervisor_started", processes=self.processes, metrics_dir=self.env[MULTIPROC_ENV])
        try:
            await asyncio.gather(*(self._keep(slot) for slot in range(self.processes)))
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            if self._own_dir is not None:
                shutil.rmtree(self._own_dir, ignore_errors=True)
        log.info("supervisor_stopped")
        return 0


def worker_command(args: Sequence[str]) -> list[str]:
    """The child's command line: this interpreter running ``stormwatch serve`` with ``args``."""
    return [sys.executable, "-m", "stormwatch.cli", "serve", *args]


def _mark_dead(pid: int, directory: str) -> None:
    """Drop a dead child's live gauges from the shared metrics directory."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)
