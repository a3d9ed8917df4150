"""Rules as the API shows them: a summary of the running set, and validation of a candidate file."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from rules.loader import check_directory
from rules.schema import RuleSet
from rules.yaml_lines import YamlLimits
from stormwatch.config import Settings

SECTIONS = ("groups", "inhibit", "maintenance", "flapping", "problems", "enrichment", "actions")
#: the kinds the start-up line, GET /api/v1/rules and ``stormwatch_rules_loaded{kind}`` report
KINDS = ("group", "cause", "problem", "action")
#: what ``actions_mode`` can answer (``stormwatch_actions_mode{mode}``)
ACTION_MODES = ("none", "live", "shadow", "dry-run")


def rule_file_limits(settings: Settings) -> YamlLimits:
    """What one rule file may hold (STORMWATCH_RULES_MAX_BYTES, STORMWATCH_RULES_MAX_NODES)."""
    return YamlLimits(max_bytes=settings.rules_max_bytes, max_nodes=settings.rules_max_nodes)


def rule_kinds(rule_set: RuleSet | None) -> dict[str, int]:
    """Rules by kind: group; cause (inhibit rules plus topology services); problem; action."""
    if rule_set is None:
        return {kind: 0 for kind in KINDS}
    return {"group": len(rule_set.groups), "cause": len(rule_set.inhibit) + len(rule_set.topology.services),
            "problem": len(rule_set.problems), "action": len(rule_set.actions)}


def actions_mode(rule_set: RuleSet | None, shadow: bool) -> dict[str, Any]:
    """Whether the rule set's actions would run: ``none`` (no action rules), ``shadow`` (STORMWATCH_ACTIONS_SHADOW:
    recorded, nothing runs), ``dry-run`` (every action has ``dry_run: true``) or ``live`` (at least one runs for
    real). ``summary`` names a mixed set: ``live (2 dry-run)``."""
    actions = rule_set.actions if rule_set is not None else ()
    dry = sum(1 for a in actions if a.dry_run)
    if not actions:
        mode = "none"
    elif shadow:
        mode = "shadow"
    elif dry == len(actions):
        mode = "dry-run"
    else:
        mode = "live"
    summary = f"live ({dry} dry-run)" if mode == "live" and dry else mode
    return {"mode": mode, "summary": summary, "actions": len(actions), "dry_run": dry}


def rules_summary(rule_set: RuleSet | None, source: str, *, shadow: bool = False) -> dict[str, Any]:
    """What is loaded: ``source`` is STORMWATCH_RULES (none, examples or a directory)."""
    base = {"source": source, "kinds": rule_kinds(rule_set), "actions_mode": actions_mode(rule_set, shadow)}
    if rule_set is None:
        return base | {"files": [], "groups": [], "counts": {name: 0 for name in SECTIONS}}
    return base | {
        "files": [Path(f).name for f in rule_set.files],
        "groups": [{"name": g.name, "team": getattr(g, "team", None)} for g in rule_set.groups],
        "counts": {name: len(getattr(rule_set, name, ())) for name in SECTIONS},
    }


def validate_candidate(directory: Path | None, name: str, text: str, limits: YamlLimits = YamlLimits()) -> list[str]:
    """Errors of the rules directory with ``text`` as its file ``name`` (added, or replacing that file);
    ``directory`` None validates the file alone. File names in errors are the bare names. Blocking (reads and
    parses YAML under ``limits``): call it off the event loop."""
    with tempfile.TemporaryDirectory(prefix="stormwatch-rules-") as tmp:
        scratch = Path(tmp)
        if directory is not None and directory.is_dir():
            for path in directory.iterdir():
                if path.suffix in (".yaml", ".yml") and path.is_file() and path.name != name:
                    shutil.copyfile(path, scratch / path.name)
        (scratch / name).write_text(text, encoding="utf-8")
        return [str(e).replace(f"{scratch}/", "") for e in check_directory(scratch, limits)]
