"""RSS growth of the hot-path memos (the ingest fingerprint memo and the router's) fed unique large label sets.

    .venv/bin/python deploy/memo_rss.py [BUDGET_BYTES] [LABEL_BYTES] [LABEL_SETS]

In this process, no services: builds a ``LabelGuard`` and a ``Router`` with ``STORMWATCH_MEMO_MAX_BYTES`` =
BUDGET_BYTES (default 128 MiB), fingerprints and routes LABEL_SETS (default 16,000) unique label sets with a
``service`` value of LABEL_BYTES (default 16,000), and prints VmRSS growth every 2,000: it climbs, then stays flat
once the memos turn their generations by bytes.
"""

import gc
import os
import sys

from correlation.core.routing import Router
from ingest.limits import LabelGuard
from stormwatch.tools.bench_workers import rss_mib



def main(budget: int, label_bytes: int, sets: int) -> None:
    guard = LabelGuard(max_bytes=budget)
    router = Router(None, ("alertname", "service"), memo_max_bytes=budget)
    start, out = rss_mib(os.getpid()), []
    for n in range(sets):
        labels = {"alertname": "Probe", "service": f"{n:06d}" + "x" * (label_bytes - 6)}
        guard.fingerprints(labels)
        router(labels)
        if n % 2000 == 1999:
            gc.collect()
            out.append(f"{n + 1}:{rss_mib(os.getpid()) - start:+.0f}")
    print(f"budget {budget / (1 << 20):g} MiB, {label_bytes} B label sets; RSS MiB growth after N sets: "
          + " ".join(out))


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*(args + [128 << 20, 16_000, 16_000][len(args):]))
