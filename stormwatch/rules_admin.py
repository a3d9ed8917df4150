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


def rule_file_limits(settings: Settings) -> YamlLimits:
    """What one rule file may hold (STORMWATCH_RULES_MAX_BYTES, STORMWATCH_RULES_MAX_NODES)."""
    return YamlLimits(max_bytes=settings.rules_max_bytes, max_nodes=settings.rules_max_nodes)


def rules_summary(rule_set: RuleSet | None, source: str) -> dict[str, Any]:
    if rule_set is None:
        return {"source": source, "files": [], "groups": [], "counts": {name: 0 for name in SECTIONS}}
    return {
        "source": source,
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
