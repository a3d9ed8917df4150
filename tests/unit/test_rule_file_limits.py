"""Rule files under limits: a YAML bomb, too many aliases, deep nesting, recursion and size are refused with the
file, the line and the limit, before anything expands them; ordinary anchors still load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rules.loader import check_directory, load_rule_set
from rules.yaml_lines import YamlLimitExceeded, YamlLimits, parse_yaml
from stormwatch.config import SettingsError, load_settings

STORMWATCH = str(Path(sys.executable).parent / "stormwatch")


def bomb(levels: int = 9, width: int = 10) -> str:
    """The "billion laughs": ``width ** levels`` strings from a few hundred bytes."""
    lines = ['l0: &l0 ["lol"' + ',"lol"' * (width - 1) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * width) + "]")
    lines.append(f"groups: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def _errors(tmp_path: Path, text: str, limits: YamlLimits = YamlLimits()) -> list[str]:
    (tmp_path / "rules.yaml").write_text(text, encoding="utf-8")
    return [str(e) for e in check_directory(tmp_path, limits)]


def test_a_yaml_bomb_is_refused_at_its_line_naming_the_limit(tmp_path: Path) -> None:
    text = bomb()
    assert len(text) < 500  # 10^9 strings
    errors = _errors(tmp_path, text)
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path}/rules.yaml:5: refused: aliases expand the document to more than "
                                "100000 nodes (STORMWATCH_RULES_MAX_NODES)")


def test_too_many_aliases_are_refused(tmp_path: Path) -> None:
    text = "x: &x a\nitems: [" + ", ".join(["*x"] * 1001) + "]\n"
    (error,) = _errors(tmp_path, text)
    assert error == f"{tmp_path}/rules.yaml:2: refused: more than 1000 aliases (*name) in one rule file"


@pytest.mark.parametrize("depth", [65, 200, 100_000])
def test_deep_nesting_is_refused_without_recursing(tmp_path: Path, depth: int) -> None:
    (error,) = _errors(tmp_path, "[" * depth + "]" * depth)
    assert error == f"{tmp_path}/rules.yaml:1: refused: nested deeper than 64 levels"


def test_nesting_through_aliases_is_refused(tmp_path: Path) -> None:
    text = "k0: &k0 [1]\n" + "".join(f"k{i}: &k{i} [*k{i - 1}]\n" for i in range(1, 100))
    (error,) = _errors(tmp_path, text)
    assert "refused: aliases nest the document deeper than 64 levels" in error


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    (error,) = _errors(tmp_path, "groups: &g\n  - *g\n")
    assert error == f"{tmp_path}/rules.yaml:1: refused: a recursive alias (a node that contains itself)"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    text = "groups: []\n" + "# padding\n" * 200
    (error,) = _errors(tmp_path, text, YamlLimits(max_bytes=1024))
    assert error == (f"{tmp_path}/rules.yaml: refused: the file is {len(text)} bytes, more than the limit of 1024 "
                     "bytes (STORMWATCH_RULES_MAX_BYTES)")
    assert _errors(tmp_path, text) == []


def test_the_node_limit_is_a_setting(tmp_path: Path) -> None:
    text = "x: &x [" + ", ".join(["a"] * 30) + "]\ny: [" + ", ".join(["*x"] * 50) + "]\n"  # ~1,600 nodes
    assert _errors(tmp_path, text, YamlLimits(max_nodes=1_000))[0].endswith(
        "refused: aliases expand the document to more than 1000 nodes (STORMWATCH_RULES_MAX_NODES)")
    errors = _errors(tmp_path, text)  # under the default limit: only the unknown sections x and y are reported
    assert len(errors) == 2 and all("unknown section" in e for e in errors)


def test_ordinary_anchors_and_merge_keys_still_load(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("""
groups:
  - name: api
    match: &api ['service="api"']
    group_by: &by [alertname]
  - name: api-page
    match: *api
    group_by: *by
""")
    rule_set = load_rule_set(tmp_path)
    assert [g.name for g in rule_set.groups] == ["api", "api-page"]
    assert rule_set.groups[0].match == rule_set.groups[1].match
    data, lines, _ = parse_yaml("base: &b {a: 1}\nderived:\n  <<: *b\n  c: 2\n")
    assert data["derived"] == {"a": 1, "c": 2} and lines[("derived", "c")] == 4


def test_parse_yaml_raises_a_limit_error() -> None:
    with pytest.raises(YamlLimitExceeded) as info:
        parse_yaml(bomb())
    assert info.value.line == 5  # l4: 10^5 strings


def test_rules_check_refuses_a_bomb_naming_file_line_and_limit(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(bomb())
    result = subprocess.run([STORMWATCH, "rules", "check", str(tmp_path)], capture_output=True, text=True,
                            timeout=60, env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert f"{tmp_path}/bomb.yaml:5: refused: aliases expand the document to more than 100000 nodes" in result.stderr
    assert "STORMWATCH_RULES_MAX_NODES" in result.stderr and len(result.stderr) < 2_000


def test_rules_check_uses_the_size_setting(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("groups: []\n" + "# padding\n" * 200)
    env = {"COLUMNS": "300", "PATH": "/usr/bin:/bin", "STORMWATCH_RULES_MAX_BYTES": "1024"}
    result = subprocess.run([STORMWATCH, "rules", "check", str(tmp_path)], capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode == 1 and "STORMWATCH_RULES_MAX_BYTES" in result.stderr


def test_limit_settings_are_validated() -> None:
    assert load_settings(rules_max_bytes=4096, rules_max_nodes=5_000).rules_max_nodes == 5_000
    with pytest.raises(SettingsError, match="STORMWATCH_RULES_MAX_NODES"):
        load_settings(rules_max_nodes=10)
