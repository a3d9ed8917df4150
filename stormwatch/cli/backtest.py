"""``stormwatch backtest``: a candidate rule set against the current one, on a recorded alert stream."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.table import Table

from replay.scoring import Score

from stormwatch.cli import context
from stormwatch.cli.output import console, err


def backtest_command(
    recordings: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                            help="Recorded alert streams (STORMWATCH_RECORD files)."),
    rules: Path = typer.Option(..., "--rules", exists=True, file_okay=False, help="The candidate rules directory."),
    baseline: str | None = typer.Option(
        None, help="The rule set to compare with: a directory, 'examples' or 'none' (default: STORMWATCH_RULES)."),
    settle: str = typer.Option("1h", help="Simulated time to run on after the last alert (holds, quiet periods)."),
    truth: bool = typer.Option(
        False, "--truth", help="Score both against the truth ids the recordings carry (docs/quality.md): pairwise "
                               "precision, recall and F1, compression and its ideal, splits, merges, problems."),
    changes: Path | None = typer.Option(
        None, "--changes", exists=True, dir_okay=False,
        help="Change events to replay beside the alerts: a JSON list or JSON lines of POST /api/v1/changes bodies "
             "(the change events the recordings hold are replayed too)."),
    change_windows: Path | None = typer.Option(
        None, "--change-windows", exists=True, dir_okay=False,
        help="One-off change windows to replay: a JSON list as `stormwatch changes windows --expired --json` prints "
             "it (the rule sets' recurring windows apply anyway)."),
    json_out: bool = typer.Option(False, "--json", help="Every figure, and every incident with its notifications "
                                                        "(file:line), symptoms and their paths, and problems."),
) -> None:
    """Replay recordings through the candidate and the current rule set at full speed; compare what they do."""
    from replay.placement import replay
    from replay.recordings import RecordingError, read_changes as read_recorded_changes, read_notifications
    from rules.loader import RuleSetInvalid, load_rule_set
    from rules.schema import parse_duration
    from stormwatch.rules_admin import rule_file_limits
    from stormwatch.rules_source import RulesInvalid, load_rules

    settings = context.settings(log_level="warning")
    limits = rule_file_limits(settings)
    try:
        candidate = load_rule_set(rules, limits)
        current = load_rules(baseline or settings.rules, limits)
        settle_seconds = parse_duration(settle)
        stream = read_notifications(recordings, truth=truth)
        change_docs = read_recorded_changes(recordings) + (read_changes(changes) if changes is not None else [])
        windows = read_change_windows(change_windows) if change_windows is not None else []
    except RuleSetInvalid as exc:
        lines = ["candidate rules are invalid:", *(str(e) for e in exc.errors)]  # RuleError: file:line: field: ...
        err.print("\n".join(lines), markup=False, highlight=False)
        raise typer.Exit(2) from None
    except (RulesInvalid, RecordingError, ValueError) as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    replays = {
        "current": replay(current, stream, default_group_by=settings.group_by, settle=settle_seconds,
                          changes=change_docs, change_windows=windows),
        "candidate": replay(candidate, stream, default_group_by=settings.group_by, settle=settle_seconds,
                            changes=change_docs, change_windows=windows),
    }
    if json_out:
        doc = {}
        for side, r in replays.items():
            doc[side] = r.summary.public() | {"incident_list": r.incident_docs(), "problem_list": r.problem_docs(),
                                              "unplaced": r.unplaced()}
            if truth:
                doc[side]["score"] = r.score().public()
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        return
    cur, cand = replays["current"].summary, replays["candidate"].summary
    table = Table(title=f"backtest: {len(stream)} recorded notifications")
    for col in ("", f"current ({baseline or settings.rules})", f"candidate ({rules})"):
        table.add_column(col, justify="right")
    rows = [
        ("incidents (each pages)", cur.incidents, cand.incidents),
        *((f"  paged at {p}", cur.paged_by_priority.get(p, 0), cand.paged_by_priority.get(p, 0))
          for p in sorted(set(cur.paged_by_priority) | set(cand.paged_by_priority))),
        ("open at the end", cur.open_at_end, cand.open_at_end),
        ("problems", cur.problems, cand.problems),
        ("symptoms (attached, not paged)", cur.symptoms, cand.symptoms),
        ("merged into a late cause's incident", cur.merged, cand.merged),
        ("muted (silence, maintenance, change window)", cur.muted, cand.muted),
        *((("  by change windows", cur.muted_by_change_windows, cand.muted_by_change_windows),)
          if cur.muted_by_change_windows or cand.muted_by_change_windows else ()),
        ("compression (notifications per incident)", f"{cur.compression:.1f}x", f"{cand.compression:.1f}x"),
        *((("incidents with a probable cause (change)", cur.incidents_with_changes, cand.incidents_with_changes),)
          if change_docs else ()),
    ]
    for name, a, b in rows:
        table.add_row(name, str(a), str(b))
    console.print(table)
    if truth:
        print_scores(f"current ({baseline or settings.rules})", replays["current"].score(),
                     f"candidate ({rules})", replays["candidate"].score())
    only_cand = cand.titles - cur.titles
    only_cur = cur.titles - cand.titles
    for label, diff in (("only with the candidate", only_cand), ("only with the current set", only_cur)):
        if diff:
            console.print(f"incidents {label}:", highlight=False)
            for title, n in diff.most_common(20):
                console.print(f"  {n} x {title}", highlight=False)


def print_scores(name_a: str, a: Score, name_b: str, b: Score) -> None:
    """The truth figures of two replays side by side, then each one's worst splits and merges."""
    table = Table(title=f"against the truth: {a.notifications} notifications, {a.truths} labelled incidents")
    for col in ("", name_a, name_b):
        table.add_column(col, justify="right")
    rows = [
        ("pairwise precision", f"{a.precision:.3f}", f"{b.precision:.3f}"),
        ("pairwise recall", f"{a.recall:.3f}", f"{b.recall:.3f}"),
        ("pairwise F1", f"{a.f1:.3f}", f"{b.f1:.3f}"),
        ("compression (ideal)", f"{a.compression:.1f}x ({a.ideal_compression:.1f}x)",
         f"{b.compression:.1f}x ({b.ideal_compression:.1f}x)"),
        ("splits (extra incidents for one truth)", str(a.splits), str(b.splits)),
        ("merges (extra truths in one incident)", str(a.merges), str(b.merges)),
        ("unplaced notifications", str(a.unplaced), str(b.unplaced)),
        ("problems found / labelled", f"{a.problems.found} / {a.problems.labelled}",
         f"{b.problems.found} / {b.problems.labelled}"),
        ("labelled problems matched", str(a.problems.matched), str(b.problems.matched)),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for name, s in ((name_a, a), (name_b, b)):
        for split in s.worst_splits:
            console.print(f"{name}: split: truth {split.truth} went to {len(split.incidents)} incidents: "
                          f"{', '.join(split.incidents)}", highlight=False, soft_wrap=True)
        for merge in s.worst_merges:
            console.print(f"{name}: merge: {merge.incident} ({merge.title}) holds {len(merge.truths)} truths: "
                          f"{', '.join(merge.truths)}", highlight=False, soft_wrap=True)


def read_changes(path: Path) -> list[dict[str, Any]]:
    """Change events from a file: a JSON list, or one JSON object per line; each validated as ``POST /api/v1/changes``
    validates it (``ItemError`` naming the line or item and the field), and each must say when it happened."""
    from ingest.formats import ItemError
    from ingest.formats.change import parse

    text = path.read_bytes()
    try:
        items = orjson.loads(text) if text.lstrip()[:1] == b"[" else [orjson.loads(x) for x in text.splitlines()
                                                                        if x.strip()]
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON or JSON lines: {exc}") from None
    out = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or "at" not in item:
            raise ValueError(f"{path}: change {n}: needs an object with at (when it happened)")
        try:
            out.append(parse(item, "change", 0.0).public())
        except ItemError as exc:
            raise ValueError(f"{path}: change {n}: {exc.path}: {exc.message}") from None
    return out


def read_change_windows(path: Path) -> list[Any]:
    """Change windows from a JSON list (or ``{"items": [...]}``) of window documents (``ChangeWindow.public()``: id,
    starts_at, ends_at, mode, services, matchers); each checked as the API checks a new one."""
    from correlation.core.change_windows import ChangeWindow
    from rules.matchers import MatcherError, parse_matcher

    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    items = doc.get("items") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ValueError(f"{path}: a JSON list of change windows")
    out = []
    for n, item in enumerate(items, 1):
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            out.append(ChangeWindow.create(
                str(item["id"]), float(item["starts_at"]), float(item["ends_at"]), mode=item.get("mode", "mute"),
                services=[str(x) for x in item.get("services") or ()],
                matchers=[parse_matcher(m) for m in item.get("matchers") or ()], summary=str(item.get("summary", "")),
                created_by=str(item.get("created_by", "")), now=float(item.get("created_at") or 0.0)))
        except KeyError as exc:
            raise ValueError(f"{path}: change window {n}: {exc.args[0]}: required") from None
        except (TypeError, ValueError, MatcherError) as exc:
            raise ValueError(f"{path}: change window {n}: {exc}") from None
    return out
