"""Where the running rule set comes from: ``STORMWATCH_RULES`` (``none``, ``examples`` or a directory), read and
validated as a whole, and the signature the rules poll compares to see a rule file change."""

from __future__ import annotations

from pathlib import Path

from rules.loader import EXAMPLES_DIR, RuleSetInvalid, load_rule_set
from rules.schema import RuleSet
from rules.yaml_lines import YamlLimits
from stormwatch.errors import RulesInvalid

__all__ = ["RulesInvalid", "load_rules", "rules_directory", "rules_signature"]


def rules_directory(setting: str) -> Path:
    """The directory named by STORMWATCH_RULES ("examples" or a path; "none" is handled by the callers)."""
    return EXAMPLES_DIR if setting == "examples" else Path(setting)


def load_rules(setting: str, limits: YamlLimits = YamlLimits()) -> RuleSet | None:
    """The rule set named by STORMWATCH_RULES ("examples", "none" or a directory)."""
    if setting == "none":
        return None
    try:
        return load_rule_set(rules_directory(setting), limits)
    except RuleSetInvalid as exc:
        lines = "\n  ".join(str(e) for e in exc.errors)
        raise RulesInvalid(f"STORMWATCH_RULES={setting}: {len(exc.errors)} error(s):\n  {lines}") from None


def rules_signature(setting: str) -> tuple[tuple[str, int, int, int], ...]:
    """What the rules poll compares: each rule file's name and its target's inode, mtime and size (stat follows
    symlinks). The inode catches a Kubernetes ConfigMap update, an atomic swap of the ``..data`` symlink to freshly
    written files, even when a file keeps its size and the filesystem's coarse clock gives it the same mtime."""
    try:
        stats = [(p.name, p.stat()) for p in rules_directory(setting).iterdir() if p.suffix in (".yaml", ".yml")]
        return tuple(sorted((name, st.st_ino, st.st_mtime_ns, st.st_size) for name, st in stats))
    except OSError:
        return ()
