"""deploy/systemd/stormwatch.service: `systemd-analyze verify` (Debian's systemd) finds nothing, the hardening
options are there and `systemd-analyze security --offline` rates the result."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.deploy.tools import DEPLOY, run, tool

UNIT = DEPLOY / "systemd" / "stormwatch.service"


def installed_copy(tmp_path: Path) -> Path:
    """The unit as installed on this machine: /opt/stormwatch/venv is this test's venv (verify checks that
    ExecStart= and friends are executable)."""
    venv = Path(sys.executable).parent.parent
    path = tmp_path / "stormwatch.service"
    path.write_text(UNIT.read_text().replace("/opt/stormwatch/venv", str(venv)))
    return path


def settings(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_analyze_verify_finds_nothing(tmp_path):
    unit = installed_copy(tmp_path)
    result = run(tool("systemd-analyze", "systemd"), "verify", unit)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if unit.name in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


def test_verify_is_a_real_check(tmp_path):
    unit = installed_copy(tmp_path)
    unit.write_text(unit.read_text().replace("Restart=on-failure", "Restart=on-failure\nRestartt=always"))
    result = run(tool("systemd-analyze", "systemd"), "verify", unit)
    assert "Unknown key" in result.stdout + result.stderr


def test_readiness_wait_restart_policy_and_hardening():
    s = settings(UNIT.read_text())
    assert s["Type"] == ["exec"]
    assert "/readyz" in s["ExecStartPost"][0], "start waits for /readyz (the app has no sd_notify)"
    assert s["Restart"] == ["on-failure"] and s["StartLimitBurst"] and s["StartLimitIntervalSec"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "CapabilityBoundingSet": "", "SystemCallFilter": "@system-service",
                       "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX"}.items():
        assert value in s[key], f"{key}={value}"


def test_systemd_analyze_security_rates_the_unit_ok(tmp_path):
    unit = installed_copy(tmp_path)
    result = run(tool("systemd-analyze", "systemd"), "security", "--offline=true", unit)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    if match is None:
        pytest.skip(f"this systemd-analyze has no offline security report: {result.stderr.strip()[:200]}")
    assert float(match[1]) <= 2.0, result.stdout
