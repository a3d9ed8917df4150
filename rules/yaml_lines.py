"""Rule-file YAML: a line for every key, and limits that refuse a hostile document before it is expanded.

The loader records the line of every mapping key and sequence item under its path (``("groups", 0, "match", 2)``),
collects duplicate keys (PyYAML would silently keep the last one) and reads ``22:00`` as a string (YAML 1.1 would
read the number 1320).

YAML aliases let a few hundred bytes stand for millions of nodes ("billion laughs"): nine levels of ten aliases
are 10^9 nodes. So the text is composed into nodes (aliases are shared, nothing is expanded yet) under limits on
the document's size, the number of aliases and the nesting depth, then the expanded size and depth are measured on
the shared nodes (linear in the document) and refused past :attr:`YamlLimits.max_nodes` before anything walks or
constructs the expanded tree. A refusal is a :class:`YamlLimitExceeded` with the line and the limit that was hit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["Loc", "YamlLimitExceeded", "YamlLimits", "parse_yaml"]

Loc = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class YamlLimits:
    """What one rule file may hold. ``max_bytes`` and ``max_nodes`` are settings (``STORMWATCH_RULES_MAX_*``)."""

    max_bytes: int = 1 << 20  # the file's size in UTF-8
    max_nodes: int = 100_000  # nodes after alias expansion (1,000 rules of ~30 keys and values are ~30,000)
    max_aliases: int = 1_000  # alias uses (*name, including merge keys)
    max_depth: int = 64  # nesting, after alias expansion (rule files nest about 8 deep)


class YamlLimitExceeded(yaml.YAMLError):
    """The document is over one of the limits; ``line`` (1-based) is where, ``str()`` says which limit."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's base-60 numbers, counting aliases and nesting while it composes."""

    def __init__(self, text: str, limits: YamlLimits) -> None:
        super().__init__(text)
        self.limits = limits
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # types-PyYAML leaves it unannotated
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise YamlLimitExceeded(f"more than {self.limits.max_aliases} aliases (*name) in one rule file",
                                        mark.line + 1)
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > self.limits.max_depth:
                raise YamlLimitExceeded(f"nested deeper than {self.limits.max_depth} levels", mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_INT, re.compile(
    r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT, re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))


def check_size(size: int, limits: YamlLimits) -> None:
    """:class:`YamlLimitExceeded` when a file of ``size`` bytes is over ``limits.max_bytes``."""
    if size > limits.max_bytes:
        raise YamlLimitExceeded(f"the file is {size} bytes, more than the limit of {limits.max_bytes} bytes "
                                "(STORMWATCH_RULES_MAX_BYTES)", None)


def parse_yaml(text: str, limits: YamlLimits = YamlLimits()) -> tuple[Any, dict[Loc, int], list[tuple[Loc, int, int]]]:
    """(data, {path: line}, [(path, line, first line) of each duplicate key]); lines count from 1.

    :class:`YamlLimitExceeded` when the document is over ``limits``; other ``yaml.YAMLError`` for bad syntax."""
    check_size(len(text.encode("utf-8", "surrogatepass")), limits)
    loader = _Loader(text, limits)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        _measure(node, limits)
        lines: dict[Loc, int] = {(): node.start_mark.line + 1}
        duplicates: list[tuple[Loc, int, int]] = []
        _walk(loader, node, (), lines, duplicates)
        return loader.construct_document(node), lines, duplicates
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        items: list[yaml.Node] = node.value
        return items
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _measure(root: yaml.Node, limits: YamlLimits) -> None:
    """Refuse a document whose alias expansion is over ``max_nodes`` nodes or ``max_depth`` levels, or recursive;
    each shared node is measured once, so this is linear in the composed document."""
    measured: dict[int, tuple[int, int]] = {}  # id -> (expanded nodes, expanded height)
    on_path: set[int] = set()

    def visit(node: yaml.Node, level: int) -> tuple[int, int]:
        if level > limits.max_depth:
            raise YamlLimitExceeded(f"aliases nest the document deeper than {limits.max_depth} levels",
                                    node.start_mark.line + 1)
        key = id(node)
        known = measured.get(key)
        if known is None:
            if key in on_path:
                raise YamlLimitExceeded("a recursive alias (a node that contains itself)", node.start_mark.line + 1)
            on_path.add(key)
            nodes, height = 1, 1
            for child in _children(node):
                child_nodes, child_height = visit(child, level + 1)
                nodes += child_nodes
                height = max(height, child_height + 1)
                if nodes > limits.max_nodes:
                    raise YamlLimitExceeded(
                        f"aliases expand the document to more than {limits.max_nodes} nodes "
                        "(STORMWATCH_RULES_MAX_NODES)", node.start_mark.line + 1)
            on_path.discard(key)
            known = measured[key] = (nodes, height)
        if level + known[1] - 1 > limits.max_depth:
            raise YamlLimitExceeded(f"aliases nest the document deeper than {limits.max_depth} levels",
                                    node.start_mark.line + 1)
        return known

    visit(root, 1)


def _walk(loader: _Loader, node: yaml.Node, loc: Loc, lines: dict[Loc, int],
          duplicates: list[tuple[Loc, int, int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE:
                continue
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in first_line:
                duplicates.append(((*loc, key), line, first_line[key]))
            first_line.setdefault(key, line)
            lines[(*loc, key)] = line
            _walk(loader, value_node, (*loc, key), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _walk(loader, item, (*loc, i), lines, duplicates)
