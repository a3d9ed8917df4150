"""The rule language's scalar types (durations, label names, names, matchers, levels) and the strict base model every
rule section builds on (``rules/schema.py`` composes the sections)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer, PlainValidator)

from rules import label_names
from rules.matchers import Matcher, MatcherError, matcher_from_obj, parse_matchers
from rules.scalars import _fail, _name
from rules.scalars import parse_duration

# --- scalar types -------------------------------------------------------------------------------------------

def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise _fail("must be longer than 0s")
    return seconds


#: seconds, >= 0 (a hold of 0s means no hold)
Duration = Annotated[float, PlainValidator(parse_duration)]
#: seconds, > 0
PositiveDuration = Annotated[float, PlainValidator(parse_duration), AfterValidator(_positive)]

def _label_name(value: object) -> str:
    """A label name valid under the process's scheme (``rules.label_names``: UTF-8 by default, or classic)."""
    if not isinstance(value, str):
        raise _fail(f"invalid label name {value!r}: expected a string")
    why = label_names.problem(value)
    if why is not None:
        raise _fail(f"invalid label name {value!r}: it {why}")
    return value


LabelName = Annotated[str, PlainValidator(_label_name)]


def _web_link(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^\s]+", value):
        raise _fail(f"invalid link {value!r}: use an http:// or https:// URL")
    return value
#: a rule, action or service name, e.g. ``database-outage``
Name = Annotated[str, PlainValidator(_name)]


def _matcher(value: object) -> Matcher:
    try:
        return matcher_from_obj(value)
    except MatcherError as exc:
        raise _fail(str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise _fail(f"invalid matcher {value!r}: {exc}") from None


def _matcher_list(value: object) -> object:
    if isinstance(value, str):  # '{alertname="PostgresDown", severity="critical"}'
        try:
            return parse_matchers(value)
        except MatcherError as exc:
            raise _fail(str(exc)) from None
    if isinstance(value, dict):
        raise _fail('expected a list of matchers, e.g. [alertname="PostgresDown", {severity: critical}]')
    return value


MatcherItem = Annotated[Matcher, PlainValidator(_matcher), PlainSerializer(str, when_used="json")]
#: a list of matchers, each a string (``severity=~"critical|page"``), ``{label: value}`` or ``{name, op, value}``
Matchers = Annotated[tuple[MatcherItem, ...], BeforeValidator(_matcher_list)]


def _non_empty(value: tuple[Any, ...]) -> tuple[Any, ...]:
    if not value:
        raise _fail("needs at least one matcher (an empty list would match every alert)")
    return value


RequiredMatchers = Annotated[Matchers, AfterValidator(_non_empty)]

Level = Literal["high", "medium", "low"]
LEVELS: tuple[str, ...] = ("high", "medium", "low")
PriorityName = Literal["P1", "P2", "P3", "P4", "P5"]
PRIORITIES: tuple[str, ...] = get_args(PriorityName)  # the ITIL priorities, most urgent first: their one home


class RuleModel(BaseModel):
    """Strict (unknown keys are errors) and frozen: a rule is a value."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

