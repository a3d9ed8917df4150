"""Reading a rule directory: YAML with a line for every key, pydantic errors turned into ``file:line: path: msg``.

Every ``*.yaml`` / ``*.yml`` file directly inside the directory is read, in name order. Each file is parsed
by ``rules.yaml_lines``: the line of every key, duplicate keys refused, ``22:00`` a string, and limits on size,
aliases, nesting and alias expansion (:class:`YamlLimits`) that refuse a YAML bomb with the line and the limit
before it is expanded. Each file is validated on its own, then the whole
set is checked (:func:`rules.checks.check_rule_set`). All errors are collected, never just the first.
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from rules.checks import check_rule_set, rule_set_warnings
from rules.catalog_schema import BusinessService, Service, Team
from rules.schema import NAMED_SECTIONS, RuleFile, RuleSet, Topology
from rules.yaml_lines import Loc, YamlLimitExceeded, YamlLimits, check_size, parse_yaml

#: the rule sets shipped with Stormwatch
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


@dataclass(frozen=True)
class RuleError:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class RuleSetInvalid(Exception):
    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} error(s) in the rule set:\n" + "\n".join(map(str, self.errors)))


def load_rule_set(directory: Path, limits: YamlLimits = YamlLimits()) -> RuleSet:
    """The merged, checked rule set; :class:`RuleSetInvalid` with every error when anything is wrong."""
    rule_set, errors = _load(Path(directory), limits)
    if errors or rule_set is None:
        raise RuleSetInvalid(errors)
    return rule_set


def check_directory(directory: Path, limits: YamlLimits = YamlLimits()) -> list[RuleError]:
    """Every error in the rule directory; ``[]`` when it is valid."""
    return _load(Path(directory), limits)[1]


def lint_directory(directory: Path, limits: YamlLimits = YamlLimits()) -> tuple[list[RuleError], list[RuleError]]:
    """(every error, every warning) of the rule directory: warnings are valid but probably not meant
    (:func:`rules.checks.rule_set_warnings`)."""
    warnings: list[RuleError] = []
    errors = _load(Path(directory), limits, warnings)[1]
    return errors, warnings


# --- the directory --------------------------------------------------------------------------------------------

def _load(directory: Path, limits: YamlLimits,
          warnings: list[RuleError] | None = None) -> tuple[RuleSet | None, list[RuleError]]:
    if not directory.is_dir():
        return None, [RuleError(str(directory), None, "", "not a directory")]
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    files: list[tuple[str, RuleFile]] = []
    lines_by_file: dict[str, dict[Loc, int]] = {}
    errors: list[RuleError] = []
    incomplete: set[str] = set()
    for path in paths:
        name = str(path)
        rule_file, lines, file_errors, lost = _load_file(path, name, limits)
        lines_by_file[name] = lines
        errors.extend(file_errors)
        incomplete |= lost
        if rule_file is not None:
            files.append((name, rule_file))
    for problem in check_rule_set(files, frozenset(incomplete)):
        errors.append(RuleError(problem.file, _line(lines_by_file[problem.file], problem.loc), _path(problem.loc),
                                problem.message))
    if warnings is not None:
        warnings.extend(RuleError(w.file, _line(lines_by_file[w.file], w.loc), _path(w.loc), w.message)
                        for w in rule_set_warnings(files))
        warnings.sort(key=lambda w: (w.file, w.line or 0))
    if errors:
        errors.sort(key=lambda e: (e.file, e.line or 0))
        return None, errors
    return RuleSet.merge(files), []


def _load_file(path: Path, name: str,
               limits: YamlLimits) -> tuple[RuleFile | None, dict[Loc, int], list[RuleError], set[str]]:
    """(the file, or what of it is valid; {path: line}; errors; sections that lost something)."""
    unknown = set(RuleFile.model_fields)  # a file we cannot read may define anything
    try:
        check_size(path.stat().st_size, limits)  # before reading it
        text = path.read_text(encoding="utf-8")
        data, lines, duplicates = parse_yaml(text, limits)
    except YamlLimitExceeded as exc:
        return None, {}, [RuleError(name, exc.line, "", f"refused: {exc}")], unknown
    except (OSError, UnicodeDecodeError) as exc:
        return None, {}, [RuleError(name, None, "", f"cannot read: {exc}")], unknown
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return None, {}, [RuleError(name, mark.line + 1 if mark else None, "", f"YAML syntax error: {what}")], unknown
    except yaml.YAMLError as exc:
        return None, {}, [RuleError(name, None, "", f"YAML syntax error: {exc}")], unknown
    errors = [RuleError(name, line, _path(loc), f"duplicate key {loc[-1]!r} (first at line {first}); "
                        "each key may appear once in a mapping") for loc, line, first in duplicates]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        allowed = ", ".join(RuleFile.model_fields)
        return None, lines, [*errors, RuleError(name, lines.get(()), "",
                                                f"a rule file is a mapping of sections ({allowed}), "
                                                f"not a {type(data).__name__}")], unknown
    try:
        return RuleFile.model_validate(data), lines, errors, set()
    except ValidationError as exc:
        errors.extend(RuleError(name, _line(lines, tuple(e["loc"])), _path(tuple(e["loc"])), _message(e))
                      for e in exc.errors(include_url=False))
    salvaged, lost = _salvage(data)
    return salvaged, lines, errors, lost


def _salvage(data: dict[Any, Any]) -> tuple[RuleFile, set[str]]:
    """What of a failed file is valid on its own, so the whole-set checks still see it: each section, else
    each rule of a list section (a rule that fails becomes ``None``, keeping indices), else each service of
    the topology. Also returns the sections that lost something."""
    parts: dict[str, Any] = {}
    lost: set[str] = set()
    for section, value in data.items():
        if section not in RuleFile.model_fields:
            continue
        try:
            parts[section] = getattr(RuleFile.model_validate({section: value}), section)
            continue
        except ValidationError:
            lost.add(section)
        if section in NAMED_SECTIONS and isinstance(value, list):
            parts[section] = tuple(_valid_or_none(section, item) for item in value)
        elif section == "topology" and isinstance(value, dict) and isinstance(value.get("services"), dict):
            services = {}  # a service that failed still exists, without dependencies, for the checks
            for name, service in value["services"].items():
                try:
                    services.update(Topology.model_validate({"services": {name: service}}).services)
                except ValidationError:
                    services[name] = Service()
            parts[section] = Topology.model_construct(services=services, **_salvage_catalog(value))
            if "service_label" not in value or isinstance(value.get("service_label"), str):
                lost.discard(section)
    return RuleFile.model_construct(**parts), lost


def _salvage_catalog(topology: dict[Any, Any]) -> dict[str, Any]:
    """The catalog around a failed topology's services: every team and business service (one that failed still
    exists, empty, so references to it are not reported as dangling), the bindings that are valid, and the edges
    when they are."""
    parts: dict[str, Any] = {}
    for key, empty in (("teams", Team()), ("business_services", BusinessService())):
        entries = topology.get(key)
        if isinstance(entries, dict):
            parts[key] = {name: _valid_entry(key, name, entry, empty) for name, entry in entries.items()
                          if isinstance(name, str)}
    try:  # the edges, whole or not at all: a lost one only means fewer dependencies checked
        parts["edges"] = Topology.model_validate({"edges": topology.get("edges")}).edges
    except ValidationError:
        pass
    bindings = topology.get("bindings")
    if isinstance(bindings, list):
        parts["bindings"] = tuple(b for b in (_valid_entry("bindings", None, item, None) for item in bindings) if b)
    return parts


def _valid_entry(key: str, name: str | None, entry: object, empty: Any) -> Any:
    try:
        found = getattr(Topology.model_validate({key: {name: entry} if name is not None else [entry]}), key)
    except ValidationError:
        return empty
    return found[name] if name is not None else found[0]


def _valid_or_none(section: str, item: object) -> Any:
    try:
        return getattr(RuleFile.model_validate({section: [item]}), section)[0]
    except ValidationError:
        return None


# --- pydantic errors as SREs read them ------------------------------------------------------------------------

def _line(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest recorded path that starts ``loc``."""
    clean = tuple(p for p in loc if p != "[key]")
    for n in range(len(clean), -1, -1):
        if clean[:n] in lines:
            return lines[clean[:n]]
    return None


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: Any) -> str:
    kind, loc, msg = error["type"], tuple(error["loc"]), str(error["msg"])
    if kind == "extra_forbidden":
        key = loc[-1]
        allowed = _allowed_keys(loc[:-1])
        what = "section" if len(loc) == 1 else "key"
        if not allowed:
            return f"unknown {what} {key!r}"
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown {what} {key!r}{hint}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    if kind in ("tuple_type", "list_type"):
        return "expected a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping"
    if "[key]" in loc:
        msg = f"invalid key: {msg}"
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _allowed_keys(loc: Loc) -> list[str]:
    """The field names of the model found at ``loc`` inside a rule file, or [] when there is none."""
    tp: Any = RuleFile
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            tp = field.annotation
            continue
        origin, args = get_origin(tp), get_args(tp)
        if origin in (tuple, list) and isinstance(part, int) and args:
            tp = args[0]
        elif origin is dict and len(args) == 2:
            tp = args[1]
        else:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp
