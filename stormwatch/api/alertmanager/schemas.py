"""Alertmanager API v2's JSON shapes (its ``api/v2/openapi.yaml`` definitions, same names in camelCase): the
request body Stormwatch validates and the answers it documents in /openapi.json.

Unlike Stormwatch's own request bodies, the silence body ignores unknown keys, as Alertmanager does: clients
such as Grafana post a silence they read back (``status``, ``updatedAt``) to update it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AmMatcher(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, title="AmMatcher")

    name: str = Field(min_length=1, max_length=1024)
    value: str = Field(max_length=4096)
    isRegex: bool
    isEqual: bool = True


class AmPostableSilence(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, title="AmPostableSilence")

    id: str | None = Field(default=None, max_length=200, description="The silence to replace: it is expired and "
                                                                      "the new silence gets a new id.")
    matchers: list[AmMatcher] = Field(min_length=1, max_length=50)
    startsAt: str = Field(description="RFC 3339; a time in the past starts now.")
    endsAt: str = Field(description="RFC 3339, after startsAt and not in the past.")
    createdBy: str = Field(min_length=1, max_length=200)
    comment: str = Field(min_length=1, max_length=2000)
    annotations: dict[str, str] | None = Field(default=None, description="Not kept by Stormwatch: only an empty "
                                                                          "object is accepted.")


class AmSilenceStatus(BaseModel):
    state: Literal["expired", "active", "pending"]


class AmGettableSilence(BaseModel):
    id: str
    status: AmSilenceStatus
    updatedAt: str = Field(description="When it was created (Stormwatch keeps no other change time).")
    matchers: list[AmMatcher]
    startsAt: str
    endsAt: str
    createdBy: str
    comment: str
    annotations: dict[str, str]


class AmSilenceCreated(BaseModel):
    silenceID: str


class AmReceiver(BaseModel):
    name: str = Field(description="A team.")


class AmAlertStatus(BaseModel):
    state: Literal["unprocessed", "active", "suppressed"]
    silencedBy: list[str] = Field(description="Silence ids, maintenance:<window name>, or change:<change window id>.")
    inhibitedBy: list[str] = Field(description="A symptom: its cause's incident id; waiting for a cause: hold:<s>.")
    mutedBy: list[str]


class AmGettableAlert(BaseModel):
    labels: dict[str, str]
    annotations: dict[str, str]
    receivers: list[AmReceiver]
    fingerprint: str
    startsAt: str
    updatedAt: str
    endsAt: str
    generatorURL: str
    status: AmAlertStatus


class AmAlertGroup(BaseModel):
    labels: dict[str, str]
    routeLabels: dict[str, str]
    receiver: AmReceiver
    alerts: list[AmGettableAlert]


class AmPeerStatus(BaseModel):
    name: str
    address: str


class AmClusterStatus(BaseModel):
    name: str
    status: Literal["ready", "settling", "disabled"]
    peers: list[AmPeerStatus]


class AmVersionInfo(BaseModel):
    version: str
    revision: str
    branch: str
    buildUser: str
    buildDate: str
    goVersion: str = Field(description="The Python version (Stormwatch is not written in Go).")


class AmConfig(BaseModel):
    original: str = Field(description="A YAML summary of the running rule set (GET /api/v1/rules).")


class AmStatus(BaseModel):
    cluster: AmClusterStatus
    versionInfo: AmVersionInfo
    config: AmConfig
    uptime: str


MODELS: list[type[BaseModel]] = [AmMatcher, AmPostableSilence, AmSilenceStatus, AmGettableSilence, AmSilenceCreated,
                                 AmReceiver, AmAlertStatus, AmGettableAlert, AmAlertGroup, AmPeerStatus,
                                 AmClusterStatus, AmVersionInfo, AmConfig, AmStatus]
