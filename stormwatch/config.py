"""Settings: built once by the shell from ``STORMWATCH_*`` environment variables, then passed down.

There is no module-level settings object; ``load_settings()`` builds one and turns pydantic's errors into a
message that names each bad variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rules import label_names as label_name_scheme

_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


#: settings whose values may hold credentials: never echoed in error messages
_SECRET_FIELDS = frozenset(
    {"amqp_url", "redis_url", "api_tokens", "ingest_hmac_secret", "api_token", "metrics_token",
     "pagerduty_routing_keys", "history_url", "status_page_secret", "ticket_webhook_secret"})


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STORMWATCH_", extra="forbid", frozen=True, allow_inf_nan=False)

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster: bool = False  # the URL names one node of a Redis Cluster
    namespace: str = "stormwatch"
    metrics_host: str = "127.0.0.1"
    metrics_enabled: bool = True
    metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0: any free port
    # the one HTTP server (ingest, API, /metrics, /healthz, /readyz); unset: metrics_host / metrics_port, so
    # existing STORMWATCH_METRICS_* deployments keep their port. metrics_enabled switches the server.
    http_host: str | None = None
    http_port: int | None = Field(default=None, ge=0, le=65535)
    # the HTTP server's limits (stormwatch/http_protocol.py, docs/security.md): open sockets past the cap get a 503
    # and are closed at once; headers and bodies that do not arrive within their timeouts get a 408 and a close,
    # answers the client stops reading are aborted
    http_max_connections: int = Field(default=1000, ge=1, le=1_000_000)
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    http_idle_timeout_seconds: float = Field(default=5.0, gt=0, le=3600)  # a kept-alive connection with no request
    http_send_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)  # an answer the client does not read
    # X-Forwarded-For is believed (for the failed-auth limiter and logs) only from these proxies' addresses (CIDRs)
    http_trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    http_reuse_port: bool = False  # SO_REUSEPORT: several `stormwatch serve` processes share one HTTP port
    # TLS for the HTTP server (stormwatch/http.py): a PEM certificate (chain) and its private key; both or neither
    http_tls_cert_file: str = ""
    http_tls_key_file: str = ""
    api_tokens: str = ""  # "name:role:token,..." or a JSON list of {"name","role","token"}; see stormwatch/auth.py
    ingest_hmac_secret: str = ""  # X-Stormwatch-Signature on ingest endpoints (HMAC-SHA256 of "t.body")
    # PagerDuty integration keys: /v2/enqueue takes an event whose routing_key is one of them with no other credential
    # ("source:team:service:key,..." or a JSON list; ingest/integrations.py); a secret, never logged
    pagerduty_routing_keys: str = ""
    # which label names are valid (rules/label_names.py): "utf8" (Alertmanager 0.27+, Prometheus 3: any non-empty
    # UTF-8 name, e.g. service.name) or "classic" ([a-zA-Z_][a-zA-Z0-9_]*)
    label_names: Literal["utf8", "classic"] = "utf8"
    # what a sender can make this process hold (docs/security.md, "Ingest, metrics and memory")
    label_value_max_bytes: int = Field(default=16_384, ge=64, le=1 << 20)  # one label value, UTF-8 bytes
    labels_max_count: int = Field(default=128, ge=1, le=10_000)  # labels on one alert
    labels_max_bytes: int = Field(default=65_536, ge=256, le=16 << 20)  # one alert's names + values, UTF-8 bytes
    memo_max_bytes: int = Field(default=128 << 20, ge=1 << 20)  # estimated bytes per hot-path memo (rules/memo.py)
    stream_client_max_bytes: int = Field(default=4 << 20, ge=16_384)  # events queued for one stream client
    metrics_sources: Annotated[tuple[str, ...], NoDecode] = ()  # alert sources with their own metric label value
    ticket_webhook_secret: str = ""  # HMAC of POST /api/v1/webhooks/tickets/{system} (issue 21); empty: off
    status_page_secret: str = ""  # signs the read tokens of incident status pages (issue 21); empty: pages off
    metrics_token: str = ""  # when set, GET /metrics needs "Authorization: Bearer <it>"; empty: open (default)
    auth_disabled: bool = False  # development only: every request is "anonymous" with every role
    # failed authentications per client address (stormwatch/auth_limiter.py): a bucket of `burst`, refilled at
    # `per_minute`; past it, failures get 429 + Retry-After (0: no limit). Per process.
    auth_failures_per_minute: float = Field(default=30.0, ge=0, le=1_000_000)
    auth_failures_burst: int = Field(default=20, ge=1, le=1_000_000)
    consume: bool = True  # false: serve HTTP (ingest, API) only; another process correlates
    api_url: str = ""  # the CLI's API (incidents ack, ...); empty: http://<http host>:<http port>
    api_token: str = ""  # the CLI's bearer token
    prefetch: int = Field(default=512, ge=1, le=65535)
    batch_size: int = Field(default=256, ge=1, le=10_000)
    batch_wait_ms: float = Field(default=2.0, ge=0, le=10_000)
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    delivery_limit: int = Field(default=20, ge=1, le=10_000)
    group_by: Annotated[tuple[str, ...], NoDecode] = ("alertname", "service")  # for alerts no group rule matches
    # a rules directory; "none" (the default): no rules, the default grouping and no actions; "examples": the shipped
    # example rules, whose actions are live (the demo and the benchmarks ask for them explicitly)
    rules: str = "none"
    # an incident whose rule gives no priority: severity=priority pairs over the built-in ITIL defaults
    # (critical=P1,error=P2,warning=P3,info=P5,none=P3; "none": no or an unknown severity), e.g. "info=P4"
    default_priorities: Annotated[dict[str, str], NoDecode] = {}
    default_team: str = Field(default="unassigned", min_length=1, max_length=128)  # a team no rule or label gave
    rules_poll_seconds: float = Field(default=2.0, ge=0)  # reload when a rule file changes; 0: only on SIGHUP
    # limits on one rule file (rules/yaml_lines.py): its size, and its nodes after YAML alias expansion
    rules_max_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    rules_max_nodes: int = Field(default=100_000, ge=1_000, le=10_000_000)
    timer_poll_seconds: float = Field(default=1.0, gt=0)  # how often a worker looks for due timers
    # how long a worker holds a correlation, SLA or escalation timer it claimed before the timer falls due again for
    # any worker (kv/due.py): a worker that died holding one delays it this long; the SLA and escalation outbox waits
    # as long before publishing again what a publisher left
    timer_lease_seconds: float = Field(default=60.0, ge=1.0, le=3600)
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
    timeline_max_entries: int = Field(default=1000, ge=10)
    # change events (docs/changes.md): how long they are kept, and how many per service at most
    change_retention_seconds: int = Field(default=30 * 86_400, ge=3600)
    changes_per_service: int = Field(default=1000, ge=1, le=1_000_000)
    redis_retry_max_seconds: float = Field(default=10.0, gt=0)
    # a batch without progress for this long (no store answer, no retry, no confirm) fails /healthz so the process
    # is restarted and its unacked messages go to another worker; 0: never
    stalled_batch_seconds: float = Field(default=120.0, ge=0)
    # Python's cyclic GC for long-running processes (serve, bench): thresholds per generation; empty: Python's
    # defaults (700, 10, 10). The third, 100: a full collection at most every 101 collections of the middle
    # generation (issue 20). See stormwatch/runtime.py and docs/performance.md.
    gc_threshold: Annotated[tuple[int, ...], NoDecode] = (10_000, 10, 100)
    # record every valid alert this worker stored to a JSON-lines file, for `stormwatch backtest` ("" : off);
    # "{pid}" in the path becomes the process id, so several workers on one machine write separate files
    record: str = ""
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # remediation actions (docs/actions.md)
    actions_enabled: bool = True  # run the action runner in this worker
    actions_shadow: bool = False  # record what would run, run nothing
    actions_concurrency: int = Field(default=32, ge=1, le=10_000)  # events handled at once per worker
    actions_poll_seconds: float = Field(default=1.0, gt=0)  # approved runs, approval expiry, verification, retries
    actions_fleet_max: int = Field(default=120, ge=0)  # runs of all actions per window, all workers (0: no limit)
    actions_fleet_window_seconds: float = Field(default=60.0, gt=0)
    # a run's claim lease is one attempt's longest possible duration plus this: how long a run whose worker died waits
    # before another worker takes it over (the margin covers a live worker's event loop pausing past its attempt)
    actions_claim_margin_seconds: float = Field(default=30.0, ge=1.0, le=86_400)
    # the ticket action's creation claim (docs/service-desk.md): how long an incident whose worker died after asking
    # the ticketing system waits before another run may look its ticket up and store it
    ticket_claim_lease_seconds: float = Field(default=60.0, ge=1.0, le=86_400)
    actions_allowed_schemes: Annotated[tuple[str, ...], NoDecode] = ("https",)
    actions_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()  # empty: any host with public addresses
    actions_allowed_ports: Annotated[tuple[int, ...], NoDecode] = (80, 443)  # empty: any port
    actions_allowed_networks: Annotated[tuple[str, ...], NoDecode] = ()  # CIDRs exempt from the private refusal
    # the incident history (docs/history.md)
    history_enabled: bool = True  # run the history writer in `serve`
    history_url: str = ""  # postgresql://... (or sqlite:///path); empty: the SQLite file history_path
    history_path: str = "stormwatch-history.db"
    history_retention_days: float = Field(default=400.0, ge=0)  # 0: keep everything
    history_batch_size: int = Field(default=200, ge=1, le=10_000)  # events written per transaction
    history_retry_max_seconds: float = Field(default=30.0, gt=0)  # longest wait between writes while it is down
    # restore from the history by itself when Redis lost its data (its `whole` marker gone), checked this often
    history_auto_restore: bool = True
    history_restore_check_seconds: float = Field(default=5.0, gt=0, le=3600)
    # keep the report roll-ups of ended days warm (docs/reports.md "Roll-ups"): this often, at most this many days a
    # round (0 days: off; reports then compute stale days themselves)
    history_rollup_seconds: float = Field(default=30.0, gt=0, le=3600)
    history_rollup_days: int = Field(default=4, ge=0, le=1000)
    # reports (docs/reports.md): interruptions inside and outside these hours
    business_hours: str = "Mon-Fri 09:00-17:00 UTC"

    @field_validator("api_tokens")
    @classmethod
    def _api_tokens(cls, value: str) -> str:
        from stormwatch.auth import parse_tokens  # the format lives with the code that uses it

        parse_tokens(value)  # raises ValueError naming the bad entry, never echoing a token
        return value

    @field_validator("pagerduty_routing_keys")
    @classmethod
    def _pagerduty_routing_keys(cls, value: str) -> str:
        from ingest.integrations import parse_integrations  # the format lives with the code that uses it

        parse_integrations(value)  # raises ValueError naming the bad entry, never echoing a key
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if bool(self.http_tls_cert_file) != bool(self.http_tls_key_file):
            raise ValueError("STORMWATCH_HTTP_TLS_CERT_FILE and STORMWATCH_HTTP_TLS_KEY_FILE are set together "
                             "(both for https, neither for http)")
        return self

    @property
    def http_tls(self) -> bool:
        """Whether the HTTP server speaks https."""
        return bool(self.http_tls_cert_file)

    @property
    def http_address(self) -> tuple[str, int]:
        """Where the HTTP server listens (STORMWATCH_HTTP_* else STORMWATCH_METRICS_*)."""
        host = self.http_host if self.http_host is not None else self.metrics_host
        return host, self.http_port if self.http_port is not None else self.metrics_port

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

    @field_validator("history_url")
    @classmethod
    def _history_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme.partition("+")[0]
        if value and scheme not in ("postgresql", "postgres", "sqlite"):
            raise ValueError("must look like postgresql://user:password@host:5432/db or sqlite:///path/to/file.db")
        return value

    @field_validator("business_hours")
    @classmethod
    def _business_hours(cls, value: str) -> str:
        from stormwatch.reports.window import parse_business_hours  # the format lives with the code that uses it

        parse_business_hours(value)
        return value

    @property
    def history_database(self) -> str:
        """The history's database URL: STORMWATCH_HISTORY_URL, else the SQLite file STORMWATCH_HISTORY_PATH."""
        return self.history_url or f"sqlite:///{self.history_path}"

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

    @field_validator("default_priorities", mode="before")
    @classmethod
    def _parse_priorities(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for part in (p.strip() for p in value.split(",") if p.strip()):
            severity, sep, priority = part.partition("=")
            if not sep:
                raise ValueError(f"{part!r}: use severity=priority pairs, e.g. critical=P1,warning=P3")
            pairs[severity.strip()] = priority.strip()
        return pairs

    @field_validator("default_priorities")
    @classmethod
    def _priorities(cls, value: dict[str, str]) -> dict[str, str]:
        from rules.alert import SEVERITY_ORDER
        from rules.schema_types import PRIORITIES

        for severity, priority in value.items():
            if severity not in SEVERITY_ORDER:
                raise ValueError(f"{severity!r} is not a severity (use {', '.join(SEVERITY_ORDER)})")
            if priority not in PRIORITIES:
                raise ValueError(f"{severity}={priority!r}: a priority is P1 to P5")
        return value

    @property
    def incident_priorities(self) -> dict[str, str]:
        """Severity -> priority for incidents whose rule gives none: the built-in defaults, then the setting."""
        from rules.schema import DEFAULT_PRIORITIES

        return DEFAULT_PRIORITIES | self.default_priorities

    @field_validator("actions_allowed_networks", "http_trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not a network (use CIDR, e.g. 127.0.0.1/32)") from None
        return value

    @field_validator("metrics_sources")
    @classmethod
    def _metrics_sources(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > 1000:
            raise ValueError("at most 1000 sources (each is a metric series per format)")
        for name in value:
            if len(name) > 128:
                raise ValueError(f"{name[:32]!r}...: a source name is at most 128 characters")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("must be at least 16 characters (or empty: /metrics open)")
        return value

    @field_validator("status_page_secret", "ticket_webhook_secret")
    @classmethod
    def _status_page_secret(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("must be at least 16 characters (or empty: off)")
        return value

    @field_validator("group_by", "metrics_sources", "actions_allowed_schemes", "actions_allowed_hosts",
                     "actions_allowed_ports", "actions_allowed_networks", "http_trusted_proxies", "gc_threshold",
                     mode="before")
    @classmethod
    def _split_group_by(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("gc_threshold")
    @classmethod
    def _gc_threshold(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if value and (len(value) != 3 or value[0] < 1 or min(value) < 0):
            raise ValueError("three generation thresholds, e.g. 10000,10,100 (the first at least 1), or empty")
        return value

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one label name")
        classic = info.data.get("label_names") == "classic"  # declared before group_by: validated first
        for name in value:
            if classic and not _LABEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid label name (STORMWATCH_LABEL_NAMES=classic)")
        return value


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and overrides); raise SettingsError naming each bad variable.

    Applies the process-wide label name scheme (STORMWATCH_LABEL_NAMES, ``rules.label_names``), as Alertmanager's
    ``compat.InitFromFlags`` does, so every reader of label names (ingest, matchers, rules) agrees."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        label_name_scheme.set_scheme(settings.label_names)
        return settings
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "?"
            env = f"STORMWATCH_{field.upper()}" if error["loc"] else "settings"  # a rule across settings
            # a rule across settings has every setting as its input, secrets included: never shown
            shown = "" if field in _SECRET_FIELDS or not error["loc"] else f" (got {error.get('input')!r})"
            lines.append(f"{env}: {error['msg']}{shown}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


def redact_url(url: str) -> str:
    """A URL with its password replaced, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
