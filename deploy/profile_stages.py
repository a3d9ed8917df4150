"""CPU of a worker by pipeline stage, from a py-spy profile of ``deploy/cpu_per_alert.py``.

    py-spy record --gil -r 250 -f raw -o /tmp/p.txt -- .venv/bin/python deploy/cpu_per_alert.py 100000 50 25000
    python deploy/profile_stages.py /tmp/p.txt 41.3      # 41.3: that run's CPU µs per alert, to scale the shares

py-spy is not a dependency (``pip install --target /tmp/pyspy py-spy`` puts it in a scratch directory); ``--gil``
counts only samples holding the GIL, i.e. the worker's Python CPU. Start-up, the queue fill and the shutdown are
left out. Each sample goes to the innermost frame that names a stage, so "Redis client" is the client's own work
inside any stage's round trip, and "AMQP frames" is aiormq's reading and writing (deliveries, acks, confirms).
"""

import sys
from collections import Counter

STAGES = [  # (stage, substrings of a frame that mark it), innermost match wins
    ("fingerprint of a first-seen label set", ["FingerprintCache.__call__", "labels_to_signature"]),
    ("JSON decode (orjson)", ["loads (ingest/formats"]),
    ("normalise: detect, validate, build the Alert", ["normalise (ingest/normalise"]),
    ("repeat recognition", ["recognise_repeats"]),
    ("decide (engine and builder)", ["decide (correlation/core/engine"]),
    ("cause rules (lookups, analysis)", ["CauseRules", "lookup_keys", "Causes.__call__"]),
    ("enrichment, routing and catalog memos", ["Enricher.__call__", "Router.", "Catalog."]),
    ("Redis client (pack, send, parse)", ["Pipeline.execute", "Scripts.run_many", "Redis.execute_command"]),
    ("read groups (rows, incidents)", ["read_groups", "Incident.from_hash", "read_incident"]),
    ("build the writes (rows' JSON, arguments)", ["IncidentStore.apply", "_repeat_write", "_group_write"]),
    ("publish events (messages, confirms)", ["AmqpEventPublisher", "Exchange.publish"]),
    ("ack", ["_ack_all", "_settle"]),
    ("AMQP frames (deliveries, confirms)", ["Connection.__reader", "Channel._reader", "_on_delivery", "FrameReceiver",
                                            "Connection.__writer"]),
    ("SLA timers", ["SlaTimers"]),
    ("other timer loops", ["DueLoop", "DueTimers"]),
    ("submit loop (grouping, bookkeeping)", ["CorrelationPipeline.submit"]),
    ("consumer loop", ["AlertConsumer"]),
]
OTHER = "event loop and the rest"
LEFT_OUT = ["Worker.stop", "ConsoleRenderer", "make_bodies", "_fill", "importlib", "delete_namespace",
            "Worker.connect", "tune_gc"]


def stages(lines: list[str]) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, n = line.rstrip().rpartition(" ")
        if not stack or any(marker in stack for marker in LEFT_OUT):
            continue
        total += int(n)
        for frame in reversed(stack.split(";")):
            stage = next((name for name, marks in STAGES if any(m in frame for m in marks)), None)
            if stage:
                counts[stage] += int(n)
                break
        else:
            counts[OTHER] += int(n)
    return counts, total


def main() -> None:
    with open(sys.argv[1]) as f:
        counts, total = stages(f.readlines())
    per_alert = float(sys.argv[2]) if len(sys.argv) > 2 else None
    print(f"{total} samples")
    for name in [name for name, _ in STAGES] + [OTHER]:
        share = counts[name] / max(1, total)
        print(f"{share:6.1%}" + (f"  {share * per_alert:5.1f} µs/alert" if per_alert else "") + f"  {name}")


if __name__ == "__main__":
    main()
