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


async def test_bench_rounds_alternate_and_report_medians(clean):
    """``--rounds 2``: the ceiling and the drain twice each, every round in the JSON, the medians as the figures;
    each drain in a fresh namespace, so the second is not a drain of repeats."""
    code, out, err = await run_cli(clean, "bench", "--alerts", "300", "--batch", "1", "--rounds", "2", "--rate", "150",
                                   "--json")
    assert code == 0, err
    (result,) = orjson.loads(out)
    assert len(result["bare_rounds"]) == 2 and len(result["stormwatch_rounds"]) == 2
    assert all(x > 0 for x in result["bare_rounds"] + result["stormwatch_rounds"])
    assert result["bare_msgs_per_s"] == sum(result["bare_rounds"]) / 2  # the median of two
    assert result["stormwatch_msgs_per_s"] == sum(result["stormwatch_rounds"]) / 2
    assert result["ratio"] == result["stormwatch_msgs_per_s"] / result["bare_msgs_per_s"]
