"""Import arrows between Stormwatch's packages, checked by reading source (ast), never by importing.

Order, top to bottom: replay -> ingest -> correlation -> actions -> rules -> kv -> events. A package may import only
packages below it (plus stdlib and third-party), and correlation not actions either (only replay runs both); the
shell ``stormwatch`` may import all of them, and none of them may import the shell. ``events`` (the event contract)
is at the bottom: it imports no first-party package; ``kv`` (the shared Redis conventions) imports none but the
contract. The correlation core (every module under ``correlation/core/``) stays pure: no broker or Redis client (nor
``kv`` or ``correlation/store/``), no asyncio, no reading a clock and no randomness (a ``now`` or an id is an
argument).

No cycles: between any two first-party modules (every top-level package of the repository but ``tests``), the
imports form no loop, counting imports inside functions too (they close the loop at run time all the same);
only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ORDER = ("replay", "ingest", "correlation", "actions", "rules", "kv", "events")
SHELL = "stormwatch"
PACKAGES = (*ORDER, SHELL)

# package -> the first-party packages it must not import
FORBIDDEN: dict[str, frozenset[str]] = {
    pkg: frozenset(ORDER[: ORDER.index(pkg)]) | {SHELL} for pkg in ORDER
}
FORBIDDEN[SHELL] = frozenset()
# correlation decides; actions acts on its events (through the contract in events/). Only the offline tools in
# replay/ run both, so correlation imports neither replay nor actions.
FORBIDDEN["correlation"] |= {"actions"}

CORE_FORBIDDEN_IMPORTS = frozenset({"aio_pika", "aiormq", "redis", "asyncio", "random", "secrets", "kv"})
CORE_FORBIDDEN_MODULES = ("correlation.store",)  # the core's Redis adapters sit above it, not below


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def from_package(node: ast.ImportFrom, path: Path, root: Path) -> str | None:
    """The absolute name ``from X import ...`` takes names from (X, relative dots resolved); None beyond the top."""
    if node.level == 0:
        return node.module or ""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package.pop()  # a module's package is its parent
    up = node.level - 1
    if up >= len(package):
        return None
    return ".".join([*package[: len(package) - up], *([node.module] if node.module else [])])


def imported_modules(tree: ast.AST, path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in the tree; relative imports resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = from_package(node, path, root)
            if base is None:
                yield node.lineno, f"<relative import beyond top level: {'.' * node.level}{node.module or ''}>"
            elif node.level and not node.module:  # from . import a, b
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"
            else:
                yield node.lineno, base


def is_core(path: Path, root: Path) -> bool:
    rel = path.relative_to(root).parts
    return len(rel) >= 3 and rel[:2] == ("correlation", "core")


CLOCKS = frozenset({"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"})
RANDOM_IDS = frozenset({"uuid1", "uuid4"})  # uuid3/uuid5 are functions of their arguments


def hidden_input_calls(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Reading a clock or making a random id: time.time() and the other clocks of ``time``,
    datetime.now()/utcnow()/today(), date.today(), uuid.uuid1()/uuid4(), and importing those names from their
    modules."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in {"time", "uuid"}:
            for alias in node.names:
                if alias.name in (CLOCKS if node.module == "time" else RANDOM_IDS):
                    yield node.lineno, f"from {node.module} import {alias.name}"
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        attr, owner = node.func.attr, node.func.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
        if (owner_name == "time" and attr in CLOCKS) or (owner_name == "uuid" and attr in RANDOM_IDS) or (
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
            core = is_core(path, root)
            for line, mod in imported_modules(tree, path, root):
                top = mod.split(".")[0]
                if mod.startswith("<"):
                    found.append(f"{rel}:{line}: {mod}")
                elif top in FORBIDDEN[pkg]:
                    found.append(f"{rel}:{line}: {pkg} must not import {top} (imports {mod})")
                elif core and (top in CORE_FORBIDDEN_IMPORTS or mod.startswith(CORE_FORBIDDEN_MODULES)):
                    found.append(f"{rel}:{line}: the correlation core must stay pure, but imports {mod}")
            if core:
                for line, what in hidden_input_calls(tree):
                    found.append(f"{rel}:{line}: the correlation core reads a hidden input ({what}); "
                                 "take `now` or the id as an argument")
    return found


def test_no_forbidden_import_arrows() -> None:
    found = violations(ROOT)
    assert not found, "forbidden imports (allowed order: replay -> ingest -> correlation -> actions -> rules -> kv -> events, " \
        "but correlation never imports actions; stormwatch may import all, none may import stormwatch):\n  " + "\n  ".join(found)


# --- cycles between modules ------------------------------------------------------------------------------------

NOT_FIRST_PARTY = frozenset({"tests", "deploy", "docs"})


def first_party_modules(root: Path) -> dict[str, Path]:
    """module name -> file, for every .py file under a top-level package of ``root`` (a folder with __init__.py)."""
    modules: dict[str, Path] = {}
    for top in sorted(root.iterdir()):
        if top.name in NOT_FIRST_PARTY or top.name.startswith(".") or not (top / "__init__.py").is_file():
            continue
        for path in sorted(top.rglob("*.py")):
            modules[module_name(path, root)] = path
    return modules


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): they never run."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (getattr(node.test, "id", None) == "TYPE_CHECKING"
                                         or getattr(node.test, "attr", None) == "TYPE_CHECKING"):
            skipped.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return skipped


def import_edges(root: Path) -> dict[str, dict[str, int]]:
    """module -> {first-party module it imports: the first line doing so}. ``from pkg import name`` is an arrow to
    ``pkg.name`` when that is a module, else to ``pkg``; importing a submodule is not counted as importing its
    parent packages' ``__init__`` (the usual convention: a package's ``__init__`` may re-export its modules)."""
    modules = first_party_modules(root)
    edges: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skipped or not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets: Iterable[str]
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = from_package(node, path, root)
                if base is None:
                    continue  # reported by test_no_forbidden_import_arrows
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                while target and target not in modules:  # import a.b.c where only a.b is a module (or a name)
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges[name].setdefault(target, node.lineno)
    return edges


def strongly_connected(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return sorted(found)


def one_loop(component: list[str], edges: dict[str, dict[str, int]]) -> list[str]:
    """A shortest loop through the component's first module, as ``module:line -> module`` steps."""
    members, start = set(component), component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier and start not in came_from:
        following = []
        for node in frontier:
            for child in sorted(edges[node]):
                if child in members and child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    path, node = [start], start
    while True:
        node = came_from[node]
        path.append(node)
        if node == start:
            break
    path.reverse()
    return [f"{a}:{edges[a][b]} -> {b}" for a, b in itertools.pairwise(path)]


def import_cycles(root: Path) -> list[str]:
    """Each cycle: its modules, and one loop through them with the line of each import."""
    edges = import_edges(root)
    return [f"{len(component)} modules: {', '.join(component)}\n      loop: " + "; ".join(one_loop(component, edges))
            for component in strongly_connected(edges)]


def test_no_import_cycles() -> None:
    cycles = import_cycles(ROOT)
    assert not cycles, "import cycles between first-party modules (move the shared part into a module both import, " \
        "or invert one arrow; a function-local import does not break a cycle):\n  " + "\n  ".join(cycles)


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
        ("correlation/store/pipeline.py", "from actions.triggers import planned_runs\n", "correlation must not import actions"),
        ("correlation/core/engine.py", "import replay.simulation\n", "correlation must not import replay"),
        ("ingest/amqp.py", "import stormwatch.settings\n", "ingest must not import stormwatch"),
        ("rules/sub/m.py", "from ...ingest import a\n", "relative import beyond top level: ...ingest"),
        ("rules/sub/__init__.py", "from .. import x\nfrom ... import y\n", "relative import beyond top level"),
        ("correlation/core/engine.py", "import aio_pika\n", "core must stay pure, but imports aio_pika"),
        ("correlation/core/muting.py", "from redis.asyncio import Redis\n", "imports redis.asyncio"),
        ("correlation/core/sub/routing.py", "import aiormq\n", "core must stay pure, but imports aiormq"),
        ("correlation/core/lifecycle.py", "import asyncio\n", "core must stay pure, but imports asyncio"),
        ("correlation/core/problems.py", "import random\n", "core must stay pure, but imports random"),
        ("correlation/core/decision.py", "from correlation.store.keyspace import Keyspace\n",
         "core must stay pure, but imports correlation.store.keyspace"),
        ("correlation/core/decision.py", "from ..store import links\n", "but imports correlation.store"),
        ("correlation/core/engine.py", "from kv.scripts import Scripts\n", "core must stay pure, but imports kv"),
        ("correlation/core/causes.py", "import time\nt = time.time()\n", "hidden input (time.time())"),
        ("correlation/core/causes.py", "import time\nt = time.monotonic()\n", "hidden input (time.monotonic())"),
        ("correlation/core/engine.py", "from time import time\n", "hidden input (from time import time)"),
        ("correlation/core/engine.py", "from datetime import datetime\nnow = datetime.now()\n", "datetime.now()"),
        ("correlation/core/engine.py", "import datetime\nnow = datetime.datetime.utcnow()\n", "datetime.utcnow()"),
        ("correlation/core/muting.py", "import uuid\nsid = uuid.uuid4().hex\n", "hidden input (uuid.uuid4())"),
        ("correlation/core/muting.py", "from uuid import uuid4\n", "hidden input (from uuid import uuid4)"),
        ("events/models.py", "from actions.model import IncidentEvent\n", "events must not import actions"),
        ("events/amqp.py", "import ingest.topology\n", "events must not import ingest"),
        ("events/builders.py", "from correlation.core.model import Incident\n", "events must not import correlation"),
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
    _write(tmp_path, "correlation/store/store.py", "import redis\nimport time\nt = time.time()\n"
           "from ..core import engine\nimport uuid\ni = uuid.uuid4()\n")  # the store may touch all of it
    _write(tmp_path, "correlation/core/engine.py", "from .fingerprint import f\nfrom rules.alert import Alert\n"
           '"""never call datetime.now() here"""\nfrom datetime import datetime\n'
           "t = datetime.fromtimestamp(0.0)\nimport uuid\nu = uuid.uuid5(uuid.NAMESPACE_DNS, 'x')\n")
    _write(tmp_path, "actions/http.py", "from .policy import p\nfrom rules import r\n")
    _write(tmp_path, "rules/alert.py", "from . import matchers\nfrom .matchers import m\nimport pydantic\n")
    _write(tmp_path, "rules/sub/m.py", "from .. import alert\nfrom ..ingest import a\n")  # rules.ingest, not ingest
    _write(tmp_path, "events/amqp.py", "import aio_pika\nfrom events.names import RUNNER_ROUTE\nfrom . import types\n")
    _write(tmp_path, "replay/simulation.py", "from actions.triggers import planned_runs\nfrom correlation.core import engine\n")
    for above in ("ingest/a.py", "correlation/a.py", "actions/a.py", "rules/a.py", "stormwatch/a.py"):
        _write(tmp_path, above, "from events.builders import incident_event\n")  # everyone may use the contract
    assert violations(tmp_path) == []


def test_cycle_checker_finds_loops_through_function_local_and_relative_imports(tmp_path: Path) -> None:
    _write(tmp_path, "shell/__init__.py", "")
    _write(tmp_path, "shell/cli.py", "from shell import helpers\n")
    _write(tmp_path, "shell/helpers.py", "def f():\n    from shell.cli import console\n")  # function-local
    _write(tmp_path, "rules/__init__.py", "")
    _write(tmp_path, "rules/a.py", "from .b import x\n")
    _write(tmp_path, "rules/b.py", "from . import c\n")
    _write(tmp_path, "rules/c.py", "import rules.a.thing\n")  # a name inside rules.a
    found = import_cycles(tmp_path)
    assert len(found) == 2, found
    assert found[0].startswith("3 modules: rules.a, rules.b, rules.c"), found
    assert "rules.a:1 -> rules.b; rules.b:1 -> rules.c; rules.c:1 -> rules.a" in found[0], found
    assert found[1].startswith("2 modules: shell.cli, shell.helpers"), found
    assert "shell.helpers:2 -> shell.cli" in found[1], found


def test_cycle_checker_allows_trees_and_type_checking_imports(tmp_path: Path) -> None:
    _write(tmp_path, "shell/__init__.py", "from shell.app import main\n")  # a package re-exporting its module
    _write(tmp_path, "shell/app.py", "from shell import output\nfrom shell.output import console\n")
    _write(tmp_path, "shell/output.py", "import json\nfrom typing import TYPE_CHECKING\n"
           "if TYPE_CHECKING:\n    from shell.app import main\n")
    _write(tmp_path, "tests/test_x.py", "from shell.app import main\n")  # tests are not first-party modules
    _write(tmp_path, "tests/__init__.py", "import tests.test_x\n")
    assert import_cycles(tmp_path) == []
    assert import_edges(tmp_path)["shell.app"] == {"shell.output": 1}
