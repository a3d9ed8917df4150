"""Rule hot reload under a Kubernetes ConfigMap mount: the kubelet writes the new files into a fresh timestamped
directory and swaps the ``..data`` symlink atomically; the rule files are symlinks through it. The poll
(stormwatch/app.py `_rules_signature`) must see that swap even when a file keeps its size and the filesystem's
clock gives the new file the old mtime, and the loader must read the layout (no duplicates from the hidden dirs)."""

from __future__ import annotations

import os
from pathlib import Path

from stormwatch.app import _rules_signature, load_rules

RULES_V1 = """groups:
  - name: disk-space
    match: ['alertname="DiskFull"']
    group_by: [instance]
    team: core
"""
RULES_V2 = RULES_V1.replace("team: core", "team: dbas")  # the same size


def write_version(mount: Path, stamp: str, text: str, mtime_ns: int) -> None:
    """What the kubelet's atomic writer does: a new ..<timestamp> dir, then rename a new symlink over ..data."""
    version = mount / f"..{stamp}"
    version.mkdir()
    (version / "rules.yaml").write_text(text)
    os.utime(version / "rules.yaml", ns=(mtime_ns, mtime_ns))
    (mount / "..data_tmp").symlink_to(version.name)
    os.replace(mount / "..data_tmp", mount / "..data")
    if not (mount / "rules.yaml").is_symlink():
        (mount / "rules.yaml").symlink_to("..data/rules.yaml")


def test_a_configmap_symlink_swap_changes_the_signature_and_reloads_the_new_rules(tmp_path):
    assert len(RULES_V1) == len(RULES_V2)
    same_mtime = 1_700_000_000_000_000_000
    write_version(tmp_path, "2026_12_06_10_00_00.1", RULES_V1, same_mtime)
    before = _rules_signature(str(tmp_path))
    assert [name for name, *_ in before] == ["rules.yaml"], "the hidden ..data and ..<timestamp> entries are not rules"
    assert [g.team for g in load_rules(str(tmp_path)).groups] == ["core"]

    write_version(tmp_path, "2026_12_06_10_01_00.2", RULES_V2, same_mtime)
    after = _rules_signature(str(tmp_path))
    assert after != before, "a same-size, same-mtime ConfigMap update must still be seen"
    assert [g.team for g in load_rules(str(tmp_path)).groups] == ["dbas"]


def test_an_unchanged_mount_keeps_its_signature(tmp_path):
    write_version(tmp_path, "2026_12_06_10_00_00.1", RULES_V1, 1_700_000_000_000_000_000)
    assert _rules_signature(str(tmp_path)) == _rules_signature(str(tmp_path))
