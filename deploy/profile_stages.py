"""CPU of a worker by pipeline stage, from a py-spy profile of ``deploy/cpu_per_alert.py``.

    py-spy record --gil -r 250 -f raw -o /tmp/p.txt -- .venv/bin/python deploy/cpu_per_alert.py 100000 50 25000
    python deploy/profile_stages.py /tmp/p.txt 41.3      # 41.3: that run's CPU µs per alert, to scale the shares
    python deploy/profile_stages.py /tmp/p.txt 41.3 --by-owner

py-spy is not a dependency (``pip install --target /tmp/pyspy py-spy`` puts it in a scratch directory); ``--gil``
counts only samples holding the GIL, i.e. the worker's Python CPU. Start-up, the queue fill and the shutdown are
left out. Each sample goes to the innermost frame that names a stage, so "Redis client" is the client's own work
inside any stage's round trip, and "AMQP frames" is aiormq's reading and writing (deliveries, acks, confirms).

``--by-owner`` answers another question: if every line of Stormwatch's own code cost nothing, what would be left?
Each sample goes to the owner of its innermost frame: Stormwatch (this repository's packages, with the C they call
directly: orjson, hiredis's packer), the event loop (asyncio; uvloop's C loop, socket reads and writes included),
code Python generates (dataclass and namedtuple methods), or the package or module the frame is in (py-spy's short
paths do not tell the standard library from a dependency). Record it without ``--gil`` for the event loop's own C
time to count (docs/performance.md, "How much of a worker's CPU is Stormwatch's own").
"""

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

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


OWN = {p.name for p in Path(__file__).resolve().parent.parent.iterdir() if (p / "__init__.py").is_file()}


def owner(frame: str) -> str:
    """``name (path:line)`` -> who owns that code."""
    parts = Path(frame.rsplit("(", 1)[1].split(":", 1)[0]).parts if "(" in frame else ()
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1:]
    if not parts:
        return "unknown"
    if parts[0] in OWN:  # py-spy names a file relative to its sys.path entry: ``correlation/core/engine.py``
        return "Stormwatch"
    if parts[0] in ("asyncio", "uvloop"):
        return "event loop"
    if parts[0] == "<string>":
        return "generated (dataclass and namedtuple methods)"
    return f"module {parts[0]}" if parts[0].endswith(".py") else f"package {parts[0]}"


def _tally(lines: list[str], classify: Callable[[list[str]], str]) -> tuple[Counter[str], int]:
    """Samples per class of py-spy's raw lines (``frame;frame;... count``), start-up and shutdown left out."""
    counts: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, n = line.rstrip().rpartition(" ")
        if not stack or any(marker in stack for marker in LEFT_OUT):
            continue
        counts[classify(stack.split(";"))] += int(n)
        total += int(n)
    return counts, total


def _stage(frames: list[str]) -> str:
    """The stage of the innermost frame that names one."""
    for frame in reversed(frames):
        stage = next((name for name, marks in STAGES if any(m in frame for m in marks)), None)
        if stage:
            return stage
    return OTHER


def owners(lines: list[str]) -> tuple[Counter[str], int]:
    return _tally(lines, lambda frames: owner(frames[-1]))


def stages(lines: list[str]) -> tuple[Counter[str], int]:
    return _tally(lines, _stage)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--by-owner"]
    by_owner = len(args) < len(sys.argv) - 1
    with open(args[0]) as f:
        counts, total = (owners if by_owner else stages)(f.readlines())
    per_alert = float(args[1]) if len(args) > 1 else None
    print(f"{total} samples")
    names = [name for name, _ in counts.most_common()] if by_owner else [name for name, _ in STAGES] + [OTHER]
    for name in names:
        share = counts[name] / max(1, total)
        print(f"{share:6.1%}" + (f"  {share * per_alert:5.1f} µs/alert" if per_alert else "") + f"  {name}")
    if by_owner and per_alert:
        print(f"without Stormwatch's own code: {(1 - counts['Stormwatch'] / max(1, total)) * per_alert:.1f} µs/alert")


if __name__ == "__main__":
    main()
