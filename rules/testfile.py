"""Rule test files (``stormwatch rules test``): input alerts at times, expected incidents at checkpoints.

In the spirit of ``promtool test rules``, but with state and time:

    rules: ../examples                 # the rules directory under test, relative to this file
    tests:
      - name: a database outage is one P1 incident for the DBAs
        alerts:
          - {at: 0s,  labels: {alertname: PostgresDown, service: orders-db, severity: critical}}
          - {at: 90s, labels: {alertname: PostgresDown, service: orders-db, severity: critical}, status: resolved}
        silences:
          - {matchers: ['service="checkout"'], from: 0s, until: 1h}
        expect:
          - at: 60s
            incidents:
              - {title: "database-outage: orders-db", status: open, priority: P1, team: dba, alerts: 1}
            muted: 0

Each checkpoint lists every incident that exists at that time (so a missing or an extra incident fails); an
expected incident gives only the fields it cares about. ``muted`` (optional) counts firing notifications kept out
of incidents by silences and maintenance windows so far.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from rules.schema import parse_duration


def _seconds(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return parse_duration(value)


Seconds = Annotated[float, BeforeValidator(_seconds)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputAlert(Strict):
    at: Seconds
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    status: Literal["firing", "resolved"] = "firing"
    starts_at: Seconds | None = None  # default: the first time this label set fired in the test


class TestSilence(Strict):
    matchers: list[str] = Field(min_length=1)
    from_: Seconds = Field(default=0.0, alias="from")
    until: Seconds
    comment: str = "rule test"


class ExpectedIncident(Strict):
    title: str
    status: Literal["open", "acknowledged", "resolved"] | None = None
    priority: str | None = None
    team: str | None = None
    severity: str | None = None
    rule: str | None = None
    alerts: int | None = None
    firing: int | None = None
    occurrences: int | None = None


class Checkpoint(Strict):
    at: Seconds
    incidents: list[ExpectedIncident] = []
    muted: int | None = None


class RuleTest(Strict):
    name: str
    alerts: list[InputAlert] = []
    silences: list[TestSilence] = []
    expect: list[Checkpoint] = Field(min_length=1)


class RuleTestFile(Strict):
    rules: str = "../examples"
    group_by: list[str] = ["alertname", "service"]
    tests: list[RuleTest] = Field(min_length=1)
