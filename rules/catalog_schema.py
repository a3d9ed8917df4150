"""The service catalog in rule files: catalog entries, teams, business services, binding rules and recurring change
windows (``topology:``; docs/services.md, docs/changes.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (Field, PlainValidator,
                      model_validator)

from rules.scalars import _fail
from rules.schema_types import (Matchers, Name, RequiredMatchers, RuleModel, _web_link)
from rules.calendar_schema import (MaintenanceWindow)


class RecurringChangeWindow(MaintenanceWindow):
    """A change window that recurs (``docs/changes.md``): on ``weekdays`` from ``start`` to ``end``, covering
    ``services`` (through the catalog's binding) and/or the alerts ``match`` matches; ``mode`` mute or annotate."""

    match: Matchers = ()
    services: tuple[Name, ...] = ()
    mode: Literal["mute", "annotate"] = "mute"

    @model_validator(mode="after")
    def _covers_something(self) -> RecurringChangeWindow:
        if not self.services and not self.match:
            raise _fail("covers nothing: give services, match, or both")
        return self



class ServiceLinks(RuleModel):
    """Where people go for a service: its runbook, dashboard and source repository (http or https URLs)."""

    runbook: Annotated[str, PlainValidator(_web_link)] = ""
    dashboard: Annotated[str, PlainValidator(_web_link)] = ""
    repository: Annotated[str, PlainValidator(_web_link)] = ""


class Service(RuleModel):
    """A catalog entry (``docs/services.md``): ``depends_on`` is the one dependency graph; the rest describes it.
    ``owner`` names a team of ``topology.teams``, ``business_services`` names entries of
    ``topology.business_services``, ``support_hours`` a calendar (checked when the rule set has ``calendars``)."""

    depends_on: tuple[Name, ...] = ()
    description: str = ""
    owner: Name | None = None
    tier: Annotated[int, Field(ge=1, le=4)] | None = None
    business_services: tuple[Name, ...] = ()
    links: ServiceLinks = ServiceLinks()
    support_hours: Name | None = None


class Team(RuleModel):
    """An owner team; it becomes the assignment group of its services' incidents whose group rule names none."""

    description: str = ""
    contact: str = ""


class BusinessService(RuleModel):
    """What the business sees (``checkout``, ``payouts``): supported by catalog services."""

    description: str = ""
    owner: Name | None = None


class ServiceBinding(RuleModel):
    """Binds the alerts its matchers match to ``service``; binding rules are tried in order, first match wins,
    before the service label."""

    name: Name
    match: RequiredMatchers
    service: Name

