"""The latency figures of `stormwatch bench --workers`, read from the workers' histograms."""

from __future__ import annotations

import math

from stormwatch.tools.bench_workers import latency_buckets, quantile_at_most

BEFORE = """# HELP stormwatch_processing_latency_seconds x
stormwatch_processing_latency_seconds_bucket{le="0.01"} 5.0
stormwatch_processing_latency_seconds_bucket{le="0.025"} 5.0
stormwatch_processing_latency_seconds_bucket{le="0.1"} 10.0
stormwatch_processing_latency_seconds_bucket{le="+Inf"} 10.0
stormwatch_processing_latency_seconds_count 10.0
"""
AFTER = """stormwatch_processing_latency_seconds_bucket{le="0.01"} 55.0
stormwatch_processing_latency_seconds_bucket{le="0.025"} 103.0
stormwatch_processing_latency_seconds_bucket{le="0.1"} 109.0
stormwatch_processing_latency_seconds_bucket{le="+Inf"} 110.0
"""


def test_quantiles_are_the_bucket_bounds_of_the_observations_between_two_scrapes() -> None:
    before, after = latency_buckets(BEFORE), latency_buckets(AFTER)
    assert before == {"0.01": 5.0, "0.025": 5.0, "0.1": 10.0, "+Inf": 10.0}
    # 100 new observations: 50 at most 10 ms, 48 more at most 25 ms, 1 more at most 100 ms, 1 beyond
    assert quantile_at_most(before, after, 0.5) == 0.01
    assert quantile_at_most(before, after, 0.98) == 0.025
    assert quantile_at_most(before, after, 0.99) == 0.1
    assert quantile_at_most(before, after, 1.0) == math.inf
    assert math.isnan(quantile_at_most(after, after, 0.5))  # nothing observed
