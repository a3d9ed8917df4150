"""Settings: built once by the shell from ``STORMWATCH_*`` environment variables, then passed down.

There is no module-level settings object; ``load_settings()`` builds one and turns pydantic's errors into a
message that names each bad variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


#: settings whose values may hold credentials: never echoed in error messages
_SECRET_FIELDS = frozenset({"amqp_url", "redis_url"})


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STORMWATCH_", extra="forbid", frozen=True)

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    namespace: str = "stormwatch"
    metrics_host: str = "127.0.0.1"
    metrics_enabled: bool = True
    metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0: any free port
    prefetch: int = Field(default=512, ge=1, le=65535)
    batch_size: int = Field(default=256, ge=1, le=10_000)
    batch_wait_ms: float = Field(default=2.0, ge=0, le=10_000)
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    delivery_limit: int = Field(default=20, ge=1, le=10_000)
    group_by: Annotated[tuple[str, ...], NoDecode] = ("alertname", "service")  # for alerts no group rule matches
    rules: str = "examples"  # a rules directory; "examples": the shipped examples; "none": no rules
    rules_poll_seconds: float = Field(default=2.0, ge=0)  # reload when a rule file changes; 0: only on SIGHUP
    timer_poll_seconds: float = Field(default=1.0, gt=0)  # how often a worker looks for due timers
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
    timeline_max_entries: int = Field(default=1000, ge=10)
    redis_retry_max_seconds: float = Field(default=10.0, gt=0)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("amqp_url")
    @classmethod
    def _amqp_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise ValueError("must look like amqp://user:password@host:5672/vhost")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
            raise ValueError("must look like redis://host:6379/0")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _NAMESPACE.match(value):
            raise ValueError("must be 1-63 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit")
        return value

    @field_validator("rules")
    @classmethod
    def _rules(cls, value: str) -> str:
        if value in ("examples", "none"):
            return value
        if not Path(value).is_dir():
            raise ValueError("must be a rules directory, 'examples' (the shipped examples) or 'none'")
        return value

    @field_validator("group_by", mode="before")
    @classmethod
    def _split_group_by(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one label name")
        for name in value:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid label name")
        return value


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and overrides); raise SettingsError naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "?"
            env = f"STORMWATCH_{field.upper()}"
            shown = "" if field in _SECRET_FIELDS else f" (got {error.get('input')!r})"
            lines.append(f"{env}: {error['msg']}{shown}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


def redact_url(url: str) -> str:
    """A URL with its password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
