"""CPU of the alert path's pure work for first-seen label sets, in this process: no broker, no Redis (issue 20).

    .venv/bin/python deploy/first_seen_cpu.py [DISTINCT] [ROUNDS]

The bench's label mix (``stormwatch.tools.bench.make_bodies``, DISTINCT label sets, default 25,000), each label set
seen once, through what a worker does to a new alert before its writes: normalise (decode, validate, fingerprint),
enrich and group, look up the cause keys, and decide it into its group (a new group state per group, the example
rules, an empty cause index). Fresh memos every round (a new label guard and router); the garbage collector tuned as
``stormwatch serve`` tunes it. Prints µs of CPU per alert by step, each round, for A/B comparisons of two trees
(``PYTHONPATH=<tree>``): unlike a drain through RabbitMQ and Redis, nothing else on the machine takes part.
"""

import gc
import sys
import time

from correlation.core.causes import Causes, lookup_keys
from correlation.core.engine import decide
from correlation.core.model import GroupState
from correlation.core.routing import Router
from ingest.normalise import LabelGuard, normalise
from stormwatch.rules_source import load_rules
from stormwatch.tools.bench import make_bodies


def main(distinct: int, rounds: int) -> None:
    rule_set = load_rules("examples")
    bodies = make_bodies(distinct, 50, 500, distinct=distinct)
    gc.set_threshold(10_000, 10, 100)
    gc.freeze()
    for _ in range(rounds):
        guard, router = LabelGuard(), Router(rule_set, ("alertname", "service"))
        now = time.time()
        t0 = time.process_time()
        alerts = [a for body in bodies for a in normalise(body, now=now, limits=guard).alerts]
        t1 = time.process_time()
        if hasattr(router, "placed"):
            placed = [router.placed(a) for a in alerts]
        else:  # a tree before Router.placed: enrichment and the group by fingerprint, as its pipeline did
            placed = [(e, router.by_fingerprint(e.fingerprint, e.labels)) for e in map(router.enrich, alerts)]
        t2 = time.process_time()
        causes = Causes(router.causes, {}) if router.causes else None
        if router.causes:
            lookup_keys(router.causes, [a.labels for a, _ in placed])
        t3 = time.process_time()
        by_group: dict[str, tuple[object, list]] = {}
        for alert, group in placed:
            by_group.setdefault(group.id, (group, []))[1].append(alert)
        for gid, (group, members) in by_group.items():
            state = GroupState(gid, group.key, group.labels, route=group.route)  # type: ignore[attr-defined]
            context = router.context(group.route, None, causes, {})  # type: ignore[attr-defined]
            for start in range(0, len(members), 50):
                decide(state, members[start:start + 50], now, context=context)
        t4 = time.process_time()
        n = len(alerts)
        steps = {"normalise": t1 - t0, "enrich+group": t2 - t1, "cause keys": t3 - t2, "decide": t4 - t3}
        print("  ".join(f"{name} {seconds / n * 1e6:.2f}" for name, seconds in steps.items())
              + f"  total {(t4 - t0) / n * 1e6:.2f} µs/alert")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 25_000, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
