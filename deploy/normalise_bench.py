"""Alerts per second of ``ingest.normalise`` alone, over the bench's Prometheus-shaped bodies (CPU time, best of 5).

    .venv/bin/python deploy/normalise_bench.py [ALERTS_PER_MESSAGE] [DISTINCT]

DISTINCT label sets among 60,000 alerts (default 5,000: a repeat-heavy storm; 60000: every label set new, so the
fingerprint memo misses). Detected format (as the worker sees it), the format named, and ``orjson.loads`` alone.
Run two checkouts alternately from their own directories (``PYTHONPATH=.``) to compare.
"""
import sys
import time

import orjson

from ingest.normalise import LabelGuard, normalise
from stormwatch.tools.bench import make_bodies

ALERTS = 60_000


def main(per_message: int, distinct: int) -> None:
    bodies = make_bodies(ALERTS, per_message, 500, distinct=distinct)
    now = time.time()

    def run(parse) -> float:
        best = float("inf")
        for _ in range(5):
            guard = LabelGuard()  # a fresh memo each round: DISTINCT decides the hits, not the earlier rounds
            for body in bodies[:1]:
                normalise(body, now=now, limits=guard)
            started = time.process_time()
            for body in bodies:
                parse(body, guard)
            best = min(best, time.process_time() - started)
        return ALERTS / best

    print(f"normalise (detect)  {run(lambda b, g: normalise(b, now=now, limits=g)):>10,.0f} alerts/s")
    print(f"normalise (v2)      {run(lambda b, g: normalise(b, now=now, limits=g, format='alertmanager_v2')):>10,.0f}"
          " alerts/s")
    print(f"orjson.loads alone  {run(lambda b, g: orjson.loads(b)):>10,.0f} alerts/s")


main(int(sys.argv[1]) if len(sys.argv) > 1 else 50, int(sys.argv[2]) if len(sys.argv) > 2 else 5000)
