"""The shipped labelled corpus on disk (``replay/corpus/``) and its scores: what ``docs/quality.md`` reports.

``python -m replay.corpus write`` writes each storm of ``replay.storms`` to ``replay/corpus/<name>/``
(``recording.jsonl``, ``rules/rules.yaml``) and the corpus README; ``python -m replay.corpus table`` prints the score
table of ``docs/quality.md`` and ``python -m replay.corpus doc`` puts it there (the test suite checks both are
current). Every figure is computed by replaying the
files through ``replay.placement`` and scoring with ``replay.scoring``: nothing here knows a result.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from replay.known import KnownRules
from replay.placement import replay
from replay.recordings import read_notifications, recording_line
from replay.scoring import Score
from replay.storms import Storm, corpus
from replay.suggest import suggest
from replay.suggest_draft import render
from rules.loader import EXAMPLES_DIR, load_rule_set
from rules.schema import RuleSet

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
QUALITY_DOC = Path(__file__).resolve().parents[1] / "docs" / "quality.md"
RECORDING = "recording.jsonl"
TABLE_BEGIN = "<!-- corpus-scores: begin (python -m replay.corpus doc) -->"
TABLE_END = "<!-- corpus-scores: end -->"


def recording_bytes(storm: Storm) -> bytes:
    return b"".join(recording_line(n.at, n.alert, n.truth, n.problem) for n in storm.ordered())


def readme(storms: Sequence[Storm]) -> str:
    lines = ["# The labelled storm corpus", "",
             "Each directory holds a storm: `recording.jsonl` (a recording whose every line carries its `truth`, the",
             "incident an SRE says it belongs to, and for recurring failures its `problem`) and `rules/`, rules",
             "written from the storm's topology alone. Score one with",
             "`stormwatch backtest --truth --rules replay/corpus/<storm>/rules replay/corpus/<storm>/recording.jsonl`;",
             "the figures and their definitions are in [docs/quality.md](../../docs/quality.md). The files are",
             "written by `python -m replay.corpus write` from `replay/storms.py` (a test checks they are current).",
             "", "What makes each hard:", ""]
    lines += [f"- **{s.name}**: {s.hard}." for s in storms]
    lines += ["", "`replay.storms.large_storm` generates a storm of any size (100,000 notifications by default)",
              "for the benchmark (`deploy/replay_bench.py`) and the same scorer.", ""]
    return "\n".join(lines)


def write(directory: Path = CORPUS_DIR) -> None:
    storms = corpus()
    for storm in storms:
        target = directory / storm.name
        (target / "rules").mkdir(parents=True, exist_ok=True)
        (target / RECORDING).write_bytes(recording_bytes(storm))
        (target / "rules" / "rules.yaml").write_text(storm.rules)
    (directory / "README.md").write_text(readme(storms))


@dataclass(frozen=True)
class StormScore:
    storm: str
    rules: str  # which rule set: "storm" (its own rules/), "examples" (rules/examples), "none" (default grouping),
    # "suggested" (the draft alone), "storm+suggested" (its own rules plus the draft drafted against them)
    score: Score


def suggested_rules(directory: Path) -> RuleSet:
    """The default grouping plus every candidate ``stormwatch rules suggest`` drafts from the storm's recording,
    loaded as ``rules check`` loads it."""
    draft = render(suggest(read_notifications([directory / RECORDING])))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "suggested.yaml").write_text(draft)
        return load_rule_set(Path(tmp))


def rules_and_suggestions(directory: Path) -> RuleSet:
    """The storm's own rules plus what ``stormwatch rules suggest --rules`` drafts against them (only what they do
    not already say), the draft dropped next to the rule files and the directory loaded as ``rules check`` loads it:
    the workflow "topology + accepted suggestions"."""
    rules = directory / "rules"
    known = KnownRules(load_rule_set(rules))
    draft = render(suggest(read_notifications([directory / RECORDING]), known=known))
    with tempfile.TemporaryDirectory() as tmp:
        for path in rules.iterdir():
            if path.is_file():
                shutil.copy(path, tmp)
        (Path(tmp) / "suggested.yaml").write_text(draft)
        return load_rule_set(Path(tmp))


RULE_SETS: dict[str, Callable[[Path], RuleSet | None]] = {
    "none": lambda _: None,
    "examples": lambda _: load_rule_set(EXAMPLES_DIR),
    "storm": lambda d: load_rule_set(d / "rules"),
    "suggested": suggested_rules,
    "storm+suggested": rules_and_suggestions,
}


def score_storm(directory: Path, rules: str, group_by: Sequence[str] = ("alertname", "service")) -> Score:
    notifications = read_notifications([directory / RECORDING], truth=True)
    return replay(RULE_SETS[rules](directory), notifications, default_group_by=group_by).score()


def score_corpus(directory: Path = CORPUS_DIR) -> list[StormScore]:
    return [StormScore(d.name, rules, score_storm(d, rules))
            for d in sorted(p for p in directory.iterdir() if (p / RECORDING).is_file()) for rules in RULE_SETS]


def table(scores: Sequence[StormScore]) -> str:
    rows = ["| storm | rules | notifications | truths | incidents | precision | recall | F1 | compression (ideal) "
            "| splits | merges | unplaced | problems found / labelled |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in scores:
        c = s.score
        rows.append(f"| {s.storm} | {s.rules} | {c.notifications} | {c.truths} | {c.incidents} | {c.precision:.3f} "
                    f"| {c.recall:.3f} | {c.f1:.3f} | {c.compression:.1f}x ({c.ideal_compression:.1f}x) "
                    f"| {c.splits} | {c.merges} | {c.unplaced} | {c.problems.found} / {c.problems.labelled} |")
    return "\n".join(rows)


def write_doc(doc: Path = QUALITY_DOC) -> None:
    """Put the current table between the markers of docs/quality.md."""
    text = doc.read_text()
    begin, end = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    doc.write_text(f"{text[:begin]}\n{table(score_corpus())}\n{text[end:]}")


def main(argv: Sequence[str]) -> int:
    if argv == ["write"]:
        write()
        return 0
    if argv == ["table"]:
        print(table(score_corpus()))
        return 0
    if argv == ["doc"]:
        write_doc()
        return 0
    print("usage: python -m replay.corpus write|table|doc", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
