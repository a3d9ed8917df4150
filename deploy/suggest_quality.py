"""The topology edges ``rules suggest`` drafts from a generated large storm, against the storm's own topology.

    .venv/bin/python deploy/suggest_quality.py [NOTIFICATIONS] [SEED ...]      # defaults: 30000, seeds 1 5 3

For each seed: ``replay.storms.large_storm``; the edges the draft keeps, each *direct* (a dependency of the
storm's topology), *transitive* (implied by it) or *wrong* (neither); how many candidates were set aside as
explained by a common cause; and the ``backtest --truth`` score of the default grouping plus the draft
(docs/quality.md, "Set aside: what a common cause explains").
"""

import sys
import tempfile
from pathlib import Path

import yaml

from replay.placement import replay
from replay.recordings import Notification
from replay.storms import large_storm
from replay.suggest import suggest
from replay.suggest_draft import render
from rules.loader import load_rule_set


def _closure(depends: dict[str, set[str]]) -> dict[str, set[str]]:
    out = {}
    for service in depends:
        seen: set[str] = set()
        todo = list(depends[service])
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo += depends.get(d, ())
        out[service] = seen
    return out


def main(notifications: int, seeds: list[int]) -> None:
    for seed in seeds:
        storm = large_storm(notifications, seed=seed)
        stream = [Notification(n.at, n.alert, f"large:{i + 1}", n.truth) for i, n in enumerate(storm.ordered())]
        services = yaml.safe_load(storm.rules)["topology"]["services"]
        true = {name: set(spec.get("depends_on", [])) for name, spec in services.items()}
        implied = _closure(true)
        found = suggest(stream)
        edges = [(c.detail["service"], c.detail["depends_on"]) for c in found.topology]
        direct = sum(1 for s, d in edges if d in true.get(s, ()))
        transitive = sum(1 for s, d in edges if d in implied.get(s, ()) and d not in true.get(s, ()))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "suggested.yaml").write_text(render(found))
            score = replay(load_rule_set(Path(tmp)), stream).score()
        print(f"seed {seed}, {len(stream):,} notifications: {len(edges)} edges kept (direct {direct}, transitive "
              f"{transitive}, wrong {len(edges) - direct - transitive}), {len(found.set_aside)} set aside; "
              f"F1 {score.f1:.3f} (precision {score.precision:.3f}, recall {score.recall:.3f})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000, [int(a) for a in sys.argv[2:]] or [1, 5, 3])
