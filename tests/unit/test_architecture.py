"""Import arrows between Stormwatch's packages, checked by reading source (ast), never by importing.

Order, top to bottom: ingest -> correlation -> actions -> rules -> events. A package may import only packages
below it (plus stdlib and third-party); the shell ``stormwatch`` may import all of them, and none of them may import
the shell. ``events`` (the event contract) is at the bottom: it imports no first-party package. The correlation
engine (``correlation/engine*.py`` or ``correlation/engine/``) stays pure: no broker or Redis client, and no reading
the wall clock.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ORDER = ("ingest", "correlation", "actions", "rules", "events")
SHELL = "stormwatch"
PACKAGES = (*ORDER, SHELL)

# package -> the first-party packages it must not import
FORBIDDEN: dict[str, frozenset[str]] = {
    pkg: frozenset(ORDER[: ORDER.index(pkg)]) | {SHELL} for pkg in ORDER
}
FORBIDDEN[SHELL] = frozenset()

ENGINE_FORBIDDEN_IMPORTS = frozenset({"aio_pika", "aiormq", "redis"})


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in the tree; relative imports resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.lineno, node.module or ""
                continue
            package = module_name(path, root).split(".")
            if path.name != "__init__.py":
                package.pop()  # a module's package is its parent
            up = node.level - 1
            if up >= len(package):
                yield node.lineno, f"<relative import beyond top level: {'.' * node.level}{node.module or ''}>"
                continue
            base = package[: len(package) - up]
            if node.module:
                yield node.lineno, ".".join([*base, node.module])
            else:  # from . import a, b
                for alias in node.names:
                    yield node.lineno, ".".join([*base, alias.name])


def is_engine(path: Path, root: Path) -> bool:
    rel = path.relative_to(root).parts
    return len(rel) >= 2 and rel[0] == "correlation" and rel[1].startswith("engine")


def wall_clock_calls(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """time.time(), datetime.now()/utcnow()/today(), date.today(), and `from time import time`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "time" and node.level == 0:
            for alias in node.names:
                if alias.name == "time":
                    yield node.lineno, "from time import time"
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        attr, owner = node.func.attr, node.func.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
        if (owner_name, attr) == ("time", "time") or (
            owner_name in {"datetime", "date"} and attr in {"now", "utcnow", "today"}
        ):
            yield node.lineno, f"{owner_name}.{attr}()"


def violations(root: Path) -> list[str]:
    found: list[str] = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root)
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
            except SyntaxError as exc:
                found.append(f"{rel}:{exc.lineno}: cannot parse: {exc.msg}")
                continue
            engine = is_engine(path, root)
            for line, mod in imported_modules(tree, path, root):
                top = mod.split(".")[0]
                if mod.startswith("<"):
                    found.append(f"{rel}:{line}: {mod}")
                elif top in FORBIDDEN[pkg]:
                    found.append(f"{rel}:{line}: {pkg} must not import {top} (imports {mod})")
                elif engine and top in ENGINE_FORBIDDEN_IMPORTS:
                    found.append(f"{rel}:{line}: the correlation engine must stay pure, but imports {mod}")
            if engine:
                for line, what in wall_clock_calls(tree):
                    found.append(f"{rel}:{line}: the correlation engine reads the wall clock ({what}); take `now` as an argument")
    return found


def test_no_forbidden_import_arrows() -> None:
    found = violations(ROOT)
    assert not found, "forbidden imports (allowed order: ingest -> correlation -> actions -> rules -> events; " \
        "stormwatch may import all, none may import stormwatch):\n  " + "\n  ".join(found)


# The checker itself, on a made-up tree, so the test above cannot pass by seeing nothing.

def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("rel", "text", "expected"),
    [
        ("rules/schema.py", "import correlation.dedup\n", "rules must not import correlation"),
        ("rules/schema.py", "from stormwatch import cli\n", "rules must not import stormwatch"),
        ("actions/http.py", "from ingest.amqp import x\n", "actions must not import ingest"),
        ("correlation/dedup.py", "if True:\n    import ingest\n", "correlation/dedup.py:2: correlation must not import ingest"),
        ("ingest/amqp.py", "import stormwatch.settings\n", "ingest must not import stormwatch"),
        ("rules/sub/m.py", "from ...ingest import a\n", "relative import beyond top level: ...ingest"),
        ("rules/sub/__init__.py", "from .. import x\nfrom ... import y\n", "relative import beyond top level"),
        ("correlation/engine.py", "import aio_pika\n", "engine must stay pure, but imports aio_pika"),
        ("correlation/engine/core.py", "from redis.asyncio import Redis\n", "imports redis.asyncio"),
        ("correlation/engine_grouping.py", "import time\nt = time.time()\n", "wall clock (time.time())"),
        ("correlation/engine.py", "from datetime import datetime\nnow = datetime.now()\n", "datetime.now()"),
        ("correlation/engine.py", "import datetime\nnow = datetime.datetime.utcnow()\n", "datetime.utcnow()"),
        ("events/models.py", "from actions.model import IncidentEvent\n", "events must not import actions"),
        ("events/amqp.py", "import ingest.topology\n", "events must not import ingest"),
        ("events/builders.py", "from correlation.model import Incident\n", "events must not import correlation"),
        ("events/types.py", "from rules.schema import RuleSet\n", "events must not import rules"),
        ("events/names.py", "from stormwatch.config import Settings\n", "events must not import stormwatch"),
    ],
)
def test_checker_catches(tmp_path: Path, rel: str, text: str, expected: str) -> None:
    _write(tmp_path, rel, text)
    found = violations(tmp_path)
    assert any(expected in line for line in found), found


def test_checker_allows(tmp_path: Path) -> None:
    _write(tmp_path, "stormwatch/cli.py",
           "import ingest, correlation, actions, rules, events\nfrom rules.alert import Alert\n")
    _write(tmp_path, "ingest/amqp.py", "import aio_pika\nfrom correlation import engine\nfrom rules import x\n")
    _write(tmp_path, "correlation/store.py", "import redis\nimport time\nt = time.time()\nfrom . import engine\n")
    _write(tmp_path, "correlation/engine.py", "from .fingerprint import f\nfrom rules.alert import Alert\n"
           '"""never call datetime.now() here"""\n')
    _write(tmp_path, "actions/http.py", "from .policy import p\nfrom rules import r\n")
    _write(tmp_path, "rules/alert.py", "from . import matchers\nfrom .matchers import m\nimport pydantic\n")
    _write(tmp_path, "rules/sub/m.py", "from .. import alert\nfrom ..ingest import a\n")  # rules.ingest, not ingest
    _write(tmp_path, "events/amqp.py", "import aio_pika\nfrom events.names import RUNNER_ROUTE\nfrom . import types\n")
    for above in ("ingest/a.py", "correlation/a.py", "actions/a.py", "rules/a.py", "stormwatch/a.py"):
        _write(tmp_path, above, "from events.builders import incident_event\n")  # everyone may use the contract
    assert violations(tmp_path) == []
