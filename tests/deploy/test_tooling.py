"""Lint and type checks: pinned in the test extra (installed from the lock), run by `make test` before pytest."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def test_ruff_mypy_and_stubs_are_pinned_exactly_in_the_test_extra():
    test_extra = _pyproject()["project"]["optional-dependencies"]["test"]
    for tool in ("ruff", "mypy", "types-PyYAML"):
        pins = [r for r in test_extra if re.match(rf"{re.escape(tool)}\s*==\s*\S+$", r)]
        assert len(pins) == 1, f"{tool} must be pinned with == in the test extra, found {test_extra}"


def test_whole_suite_run_is_linted_first():
    script = (ROOT / "deploy" / "dev.sh").read_text()
    lint = script[script.index("cmd_lint() {"):]
    lint = lint[: lint.index("\n}\n")]
    assert '"$VENV/bin/ruff" check .' in lint and '"$VENV/bin/mypy"' in lint and "die" in lint
    test = script[script.index("cmd_test() {"):]
    test = test[: test.index("\n}\n")]
    assert test.index("cmd_lint") < test.index("-m pytest"), "make test (no arguments) lints before pytest"
    assert "lint)     cmd_lint ;;" in script
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")


def test_pure_core_is_checked_with_every_strict_flag():
    mypy = _pyproject()["tool"]["mypy"]
    assert "strict" not in mypy, "strict in any section applies to every module (see docs/development.md)"
    # the section whose module patterns cover the engine (listed by name, or by a pattern such as correlation.core.*)
    core = [o for o in mypy["overrides"] if any(fnmatch.fnmatchcase("correlation.core.engine", m) for m in o["module"])]
    assert len(core) == 1
    flags = {k for k, v in core[0].items() if v is True}
    assert {"disallow_any_generics", "disallow_subclassing_any", "disallow_untyped_calls", "disallow_untyped_defs",
            "disallow_incomplete_defs", "disallow_untyped_decorators", "warn_return_any", "no_implicit_reexport",
            "extra_checks"} <= flags
    assert {"check_untyped_defs", "warn_unused_ignores", "warn_redundant_casts", "strict_equality"} <= {
        k for k, v in mypy.items() if v is True}
