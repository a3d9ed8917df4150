"""Process-level tuning for the long-running commands (``serve``, the benchmarks), applied once after start-up.

The worker allocates many short-lived containers per alert (parsed JSON, label dicts, decisions). With Python's
default thresholds (700, 10, 10) the cyclic collector runs every 700 net allocations and, every hundredth time, walks
every tracked object of the process; in a 3,000 msg/s run that was 13-14 full collections in 10 s finding almost
no garbage. ``gc.freeze()`` after start-up moves the objects of imports, rules and connections out of those walks,
and a first threshold of 10,000 makes young collections rarer. CPU per alert (deploy/cpu_per_alert.py, 50-alert
messages, alternating): ~58 us with Python's defaults, ~44 us tuned. Tests keep Python's defaults (they never call
this).

The third threshold, 100 (Python's: 10), makes full collections rare. What reaches the oldest generation in a worker
is the memos' entries, incidents' state and connection buffers: live, or freed by reference counting when dropped.
A full collection walked 125,000-254,000 such objects for 56-157 ms and found no garbage, 16 times over 1,000,000
alerts; with 100 it ran once (docs/performance.md, issue 20). The bound: a reference cycle that reaches the oldest
generation waits for at most 101 collections of the middle one (about 11 million net container allocations at
10,000 and 10), instead of 11.
"""

from __future__ import annotations

import gc

import structlog

from stormwatch.config import Settings

log = structlog.get_logger("stormwatch.runtime")


def tune_gc(settings: Settings) -> None:
    if not settings.gc_threshold:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*settings.gc_threshold)
    log.info("gc_tuned", threshold=settings.gc_threshold, frozen=gc.get_freeze_count())
