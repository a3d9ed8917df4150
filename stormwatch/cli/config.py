"""``stormwatch config check``: the effective settings (secrets masked), then what is wrong or risky.

Exit codes, for scripts: 0 nothing to report; 1 risky or wrong findings (each named by a code); 2 the settings or
the rule set do not validate.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

EXIT_CLEAN, EXIT_FINDINGS, EXIT_INVALID = 0, 1, 2

config_app = typer.Typer(no_args_is_help=True, help="Look at the settings this process would run with.")


@config_app.command("check")
def check(json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout, for scripts.")) -> None:
    """Print the effective settings with secrets masked, then every risky or wrong finding; exit 0 when there is
    none, 1 with findings, 2 when the settings or the rules are invalid."""
    from stormwatch.config import SettingsError, load_settings
    from stormwatch.config_check import effective_settings, redis_findings, static_findings
    from stormwatch.rules_source import RulesInvalid, load_rules

    try:
        settings = load_settings()
        rule_set = load_rules(settings.rules)
    except (SettingsError, RulesInvalid) as exc:
        errors = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
        _invalid(str(exc), errors, json_out)
        raise typer.Exit(EXIT_INVALID) from None
    findings = static_findings(settings, rule_set) + asyncio.run(redis_findings(settings))
    shown = effective_settings(settings)
    if json_out:
        sys.stdout.write(orjson.dumps({"valid": True, "settings": shown,
                                       "findings": [f.as_dict() for f in findings]}).decode() + "\n")
    else:
        _print(shown, findings)
    raise typer.Exit(EXIT_FINDINGS if findings else EXIT_CLEAN)


def _invalid(message: str, errors: list[str], json_out: bool) -> None:
    if json_out:
        sys.stdout.write(orjson.dumps({"valid": False, "errors": errors, "findings": []}).decode() + "\n")
    else:
        Console(stderr=True).print(message, markup=False, highlight=False, soft_wrap=True)


def _print(shown: dict[str, Any], findings: list[Any]) -> None:
    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    table = Table(title="effective settings (secrets masked)")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    for name, value in shown.items():
        table.add_row(name, "(unset)" if value is None else str(value))
    console.print(table)
    if not findings:
        console.print("no findings: nothing wrong or risky")
        return
    console.print(f"{len(findings)} finding(s):")
    for f in findings:
        console.print(f"  [bold]{f.code}[/bold]: {f.message}\n    fix: {f.fix}", soft_wrap=True)
