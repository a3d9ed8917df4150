"""``stormwatch bench --against alertmanager``: one small run end to end, with the real Alertmanager and wrk."""

from __future__ import annotations

import os
import shutil

import orjson
import pytest

from tests.integration.helpers import run_cli


def require_tools() -> None:
    missing = [tool for tool in ("wrk", "prometheus-alertmanager") if shutil.which(tool) is None]
    if missing:
        message = f"bench --against alertmanager needs {', '.join(missing)} on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


async def test_bench_against_alertmanager_prints_both_sides_and_the_ratio(clean):
    require_tools()
    code, out, err = await run_cli(clean, "bench", "--against", "alertmanager", "--alerts", "2000", "--batch", "50",
                                   "--processes", "2", "--rounds", "1", "--seconds", "2", "--json")
    assert code == 0, err
    result = orjson.loads(out)
    assert result["processes"] == 2 and result["per_message"] == 50 and result["alerts"] == 2000
    sides = {r["side"]: r for r in result["rounds"]}
    assert set(sides) == {"stormwatch", "alertmanager"}
    assert all(r["alerts_per_s"] > 0 and r["load_average"] >= 0 for r in sides.values())
    assert result["ratio"] == pytest.approx(sides["stormwatch"]["alerts_per_s"] / sides["alertmanager"]["alerts_per_s"])


async def test_bench_against_something_else_is_refused(clean):
    code, _, err = await run_cli(clean, "bench", "--against", "nagios")
    assert code == 2 and "--against knows only alertmanager" in err
