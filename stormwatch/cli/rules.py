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
