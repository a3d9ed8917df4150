"""Replay speed: the generated large storm through the backtest's replay, in notifications per second.

    .venv/bin/python deploy/replay_bench.py [NOTIFICATIONS] [--runs N]

Builds ``replay.storms.large_storm`` (100,000 notifications by default, seeded), then replays it through
``replay.placement.replay`` (the engine, causes, problems and the per-notification placement that
``backtest --truth`` scores) with no rules (the default grouping) and with the storm's topology, best of ``--runs``
(3) each, CPU time of this process; then scores each replay, and mines the storm with ``rules suggest``. The
figures are in docs/performance.md. Target: 50,000 notifications/s.
"""
import argparse
import tempfile
import time
from pathlib import Path

from replay.placement import replay
from replay.recordings import Notification
from replay.storms import large_storm
from replay.suggest import suggest
from replay.suggest_draft import render
from rules.loader import load_rule_set


def best(runs, work):
    times, result = [], None
    for _ in range(runs):
        start = time.process_time()
        result = work()
        times.append(time.process_time() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("notifications", nargs="?", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    storm = large_storm(args.notifications)
    stream = [Notification(n.at, n.alert, f"large:{i + 1}", n.truth) for i, n in enumerate(storm.ordered())]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "topology.yaml").write_text(storm.rules)
        topology = load_rule_set(Path(tmp))
        seconds, found = best(1, lambda: suggest(stream))
        (Path(tmp) / "topology.yaml").write_text(render(found))
        suggested = load_rule_set(Path(tmp))
    print(f"{len(stream)} notifications, {len({n.truth for n in stream})} labelled incidents; "
          f"rules suggest: {seconds:.2f} s CPU")
    for name, rules in (("default grouping", None), ("the storm's topology", topology), ("suggested", suggested)):
        seconds, result = best(args.runs, lambda rules=rules: replay(rules, stream))
        start = time.process_time()
        score = result.score()
        scoring = time.process_time() - start
        print(f"{name:22} replay {seconds:6.2f} s CPU  {len(stream) / seconds:8,.0f} notifications/s   "
              f"score {scoring:.2f} s   incidents {score.incidents}  F1 {score.f1:.3f} "
              f"(P {score.precision:.3f}, R {score.recall:.3f})")


if __name__ == "__main__":
    main()
