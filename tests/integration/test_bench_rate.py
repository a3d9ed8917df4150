"""``stormwatch bench --rate``: the latency phase publishes at the asked rate (issue 20: p99 at a given rate)."""

from __future__ import annotations

import orjson

from tests.integration.helpers import run_cli


async def test_bench_latency_phase_runs_at_the_given_rate(clean):
    code, out, err = await run_cli(clean, "bench", "--alerts", "400", "--batch", "1", "--rate", "150", "--json")
    assert code == 0, err
    (result,) = orjson.loads(out)
    assert result["latency_rate_msgs_per_s"] == 150
    assert result["messages"] == 400 and result["latency_p50_ms"] > 0 and result["latency_p99_ms"] >= result[
        "latency_p50_ms"]
