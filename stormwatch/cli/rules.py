"""``stormwatch rules check`` (validate a rules directory) and ``stormwatch rules test`` (run rule test files)."""

from __future__ import annotations

from pathlib import Path

import typer

from stormwatch.cli import context
from stormwatch.cli.output import console, err

rules_app = typer.Typer(no_args_is_help=True, help="Check rule files.")


@rules_app.command("check")
def rules_check(directory: Path = typer.Argument(..., exists=True, file_okay=False, help="A rules directory.")) -> None:
    """Validate every rule file in DIRECTORY; exit 1 listing each error as file:line: field: message.
    Warnings (valid, but probably not meant) are listed as "warning: file:line: field: message" and do not fail."""
    from rules.loader import lint_directory
    from stormwatch.rules_admin import rule_file_limits

    errors, warnings = lint_directory(directory, rule_file_limits(context.settings(log_level="warning")))
    for warning in warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if errors:
        for error in errors:
            err.print(str(error), markup=False, highlight=False, soft_wrap=True)
        err.print(f"{len(errors)} error(s) in {directory}", markup=False)
        raise typer.Exit(1)
    console.print(f"{directory}: rules OK" + (f" ({len(warnings)} warning(s))" if warnings else ""), highlight=False)


@rules_app.command("test")
def rules_test(files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Rule test files.")) -> None:
    """Run rule test files: alerts at times in, expected incidents at checkpoints; exit 1 on any difference."""
    from replay.rule_tests import run_file

    failed = passed = 0
    for path in files:
        for result in run_file(path):
            if result.passed:
                passed += 1
                console.print(f"PASS {path}: {result.name}", highlight=False)
                continue
            failed += 1
            err.print(f"FAIL {path}: {result.name}", markup=False, highlight=False)
            for problem in result.problems:
                err.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"{passed} passed, {failed} failed", highlight=False)
    if failed:
        raise typer.Exit(1)


@rules_app.command("suggest")
def rules_suggest(
    recordings: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Recorded alert streams."),
    out: Path | None = typer.Option(None, "--out", file_okay=False,
                                    help="Write the draft rule file to OUT/suggested.yaml (a rules directory)."),
    window: str = typer.Option("5m", help="Episode starts within this of each other co-occur."),
    end_window: str = typer.Option("2m", help="A symptom's end at most this after its cause's."),
    min_support: int = typer.Option(2, min=1, help="Least supporting episodes per candidate."),
    min_confidence: float = typer.Option(0.7, min=0.0, max=1.0,
                                         help="Least confidence (the larger of confidence and cause confidence)."),
    min_lift: float = typer.Option(2.0, min=0.0, help="Least confidence over chance."),
    refire: str = typer.Option("5m", help="An alert firing again this soon after resolving is one incident."),
    service_label: str | None = typer.Option(None, help="The label naming the service (default: service; with "
                                                        "--rules, the rule set's topology's)."),
    rules: Path | None = typer.Option(None, "--rules", exists=True, file_okay=False,
                                      help="An existing rules directory: bind alerts through its catalog, list what "
                                           "it already says as already known, draft only the rest to go next to it."),
    json_out: bool = typer.Option(False, "--json", help="Every candidate with its figures and evidence."),
) -> None:
    """Mine recordings for candidate topology edges, inhibit, group and problem rules, each with its support,
    confidence, lift and evidence (docs/quality.md); write a draft that `rules check` accepts (with --rules, one
    that `rules check` accepts next to that rule set's files)."""
    import sys

    import orjson

    from replay.known import KnownRules
    from replay.recordings import RecordingError, read_notifications
    from replay.suggest import Settings, suggest
    from replay.suggest_draft import render
    from rules.loader import RuleSetInvalid, load_rule_set
    from rules.schema import parse_duration
    from stormwatch.rules_admin import rule_file_limits

    known = None
    if rules is not None:
        try:
            known = KnownRules(load_rule_set(rules, rule_file_limits(context.settings(log_level="warning"))))
        except RuleSetInvalid as exc:
            for error in exc.errors:
                err.print(str(error), markup=False, highlight=False, soft_wrap=True)
            err.print(f"{len(exc.errors)} error(s) in {rules}: fix them (stormwatch rules check {rules})", markup=False)
            raise typer.Exit(2) from None
        if service_label is not None and service_label != known.service_label:
            err.print(f"--service-label {service_label!r} differs from the service_label of {rules} "
                      f"({known.service_label!r}): with --rules the rule set's binds alerts", markup=False)
            raise typer.Exit(2)
    try:
        settings = Settings(window=parse_duration(window), end_window=parse_duration(end_window),
                            min_support=min_support, min_confidence=min_confidence, min_lift=min_lift,
                            refire=parse_duration(refire), service_label=service_label or "service")
        notifications = read_notifications(recordings)
    except (RecordingError, ValueError) as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    found = suggest(notifications, settings, known)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "suggested.yaml").write_text(render(found))
    if json_out:
        doc = {"hold": found.hold, "candidates": [c.public() for c in found.all()],
               "known": [c.public() for c in found.known],
               "set_aside": [c.public() for c in found.set_aside], "rules": str(rules) if rules is not None else None,
               "draft": str(out / "suggested.yaml") if out is not None else None}
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        return
    for c in found.all():
        console.print(f"{c.kind:8} {c.name}: support {c.support}, confidence {c.confidence:.2f}, lift {c.lift:.1f}; "
                      f"evidence {', '.join(c.evidence)}", highlight=False, soft_wrap=True)
    for c in found.known:
        console.print(f"already known: {c.kind} {c.name} ({c.known}): support {c.support}, confidence "
                      f"{c.confidence:.2f}, lift {c.lift:.1f}", highlight=False, soft_wrap=True)
    for c in found.set_aside:
        console.print(f"set aside: {c.kind} {c.name} (a common cause explains it: "
                      f"{', '.join(c.detail['explained_by'])}): support {c.support}, confidence {c.confidence:.2f}, "
                      f"lift {c.lift:.1f}", highlight=False, soft_wrap=True)
    console.print(f"{len(found.topology)} topology edge(s), {len(found.inhibit)} inhibit rule(s), "
                  f"{len(found.groups)} group rule(s), {len(found.problems)} problem rule(s) "
                  + (f"new to {rules} ({len(found.known)} already known) " if rules is not None else "")
                  + (f"({len(found.set_aside)} candidate(s) set aside) " if found.set_aside else "")
                  + f"from {len(notifications)} notifications"
                  + (f"; draft written to {out / 'suggested.yaml'}" if out is not None else ""), highlight=False)
