"""Command actions: a program started directly from an argv list (never a shell), with a minimal environment.

Each rendered argv item is exactly one argument, whatever it contains (``$(rm -rf /)`` is an inert string). The
environment holds only the names in ``inherit_env`` copied from the worker and the ``env`` the action sets.
stdin is closed; stdout and stderr are captured and truncated; on timeout the whole process group is killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any
from collections.abc import Mapping

from rules.action_schema import CommandConfig
from rules.schema import Action

from actions.executor import Attempt, Prepared
from actions.model import Outcome
from actions.templates import Renderer, Secrets, value


class CommandExecutor:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def prepare(self, action: Action, ctx: Mapping[str, Any], renderer: Renderer, secrets: Secrets) -> Prepared:
        config = action.config
        assert isinstance(config, CommandConfig)
        argv = [renderer.render(item, ctx) for item in config.argv]
        env = {name: self.environ[name] for name in config.inherit_env if name in self.environ}
        shown_env = {name: "<inherited>" for name in env}
        for name, item in config.env.items():
            env[name], shown_env[name] = value(item, renderer, ctx, secrets)
        real = {"argv": argv, "env": env, "cwd": config.cwd, "max_output": config.max_output}
        shown = {"argv": argv, "env": shown_env, "cwd": config.cwd}
        return Prepared(real, shown, config.timeout)

    async def run(self, prepared: Prepared, attempt: Attempt) -> Outcome:
        r = prepared.real
        env = dict(r["env"]) | {"STORMWATCH_RUN_ID": attempt.run_id}
        try:
            process = await asyncio.create_subprocess_exec(
                *r["argv"], cwd=r["cwd"], env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
            )
        except OSError as exc:  # not found, not executable, bad cwd: the same next time
            return Outcome(False, f"cannot start {r['argv'][0]!r}: {exc.strerror or exc}")
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=prepared.timeout)
        except TimeoutError:
            _kill_group(process)
            await process.wait()
            return Outcome(False, f"timed out after {prepared.timeout}s (killed)", retryable=True)
        except asyncio.CancelledError:
            _kill_group(process)
            raise
        limit = r["max_output"]
        output = {"exit_code": process.returncode, "stdout": _cut(stdout, limit), "stderr": _cut(stderr, limit)}
        if process.returncode == 0:
            return Outcome(True, "exit 0", output=output)
        return Outcome(False, f"exit {process.returncode}", output=output)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _cut(data: bytes, limit: int) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return text + (f"... [{len(data) - limit} more bytes]" if len(data) > limit else "")
