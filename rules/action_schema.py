"""Typed configuration of remediation actions, and the triggers group and problem rules name them with.

``rules/schema.py``'s ``Action`` keeps the YAML shape ``{name, type, description, config, <policies>}``; its
``config`` is validated by the model for its ``type`` (below), strictly (unknown keys are errors). Secrets are
never written in rule files: a value that must stay secret is ``{secret_env: NAME}``, read from the worker's
environment when the action runs and masked in every log and audit record.

The shared scalars (durations, names) come from ``rules.scalars``; ``rules.schema`` imports this module, never the
reverse.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, PlainValidator,
                      model_validator)
from pydantic_core import PydanticCustomError

from rules.scalars import _name, parse_duration
from rules.schema_types import PriorityName


def _fail(message: str) -> PydanticCustomError:
    return PydanticCustomError("rule", "{message}", {"message": message})


class ActionModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise _fail("must be longer than 0s")
    return seconds


PositiveDuration = Annotated[float, PlainValidator(_duration)]
ActionName = Annotated[str, PlainValidator(_name)]
Priority = PriorityName
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

# One environment for checking template syntax at load time (the runner renders with its own sandbox).
_SYNTAX = SandboxedEnvironment()


def _template(value: object) -> str:
    if not isinstance(value, str):
        raise _fail(f"expected a string (a template), got {value!r}")
    try:
        _SYNTAX.parse(value)
    except TemplateSyntaxError as exc:
        raise _fail(f"invalid template {value!r}: {exc.message} (line {exc.lineno})") from None
    return value


#: a Jinja2 template rendered (sandboxed) from the incident and its alerts when the action runs
Template = Annotated[str, PlainValidator(_template)]


def _env_name(value: object) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise _fail(f"invalid environment variable name {value!r}")
    return value


class SecretRef(ActionModel):
    """``{secret_env: ITSM_TOKEN}``: the value of that environment variable of the worker, read at run time."""

    secret_env: Annotated[str, PlainValidator(_env_name)]


def _value(value: object) -> str | SecretRef:
    if isinstance(value, SecretRef):
        return value
    if isinstance(value, dict):
        return SecretRef.model_validate(value)
    if isinstance(value, str):
        return _template(value)
    raise _fail(f"expected a string (a template) or {{secret_env: NAME}}, got {value!r}")


def _dump_value(value: str | SecretRef | None) -> Any:
    return value.model_dump() if isinstance(value, SecretRef) else value


#: a literal (template) or a secret reference
Value = Annotated[str | SecretRef, PlainValidator(_value), PlainSerializer(_dump_value)]


#: headers that carry credentials: their value must be a secret reference, never literal text in a rule file
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token",
                                "private-token", "cookie"})


def _header_names(value: dict[str, Any]) -> dict[str, Any]:
    for name, item in value.items():
        if not _HEADER_NAME.fullmatch(name):
            raise _fail(f"invalid header name {name!r}")
        if name.lower() in CREDENTIAL_HEADERS and not isinstance(item, SecretRef):
            raise _fail(f"header {name} carries a credential: write {{secret_env: NAME}}, never the value itself")
    return value


Headers = Annotated[dict[str, Value], AfterValidator(_header_names)]


def _target_url(value: object) -> str:
    """An http(s) URL whose scheme, host and port are literal: label data can change the path, never the target."""
    text = _template(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _fail(f"invalid url {value!r}: use http:// or https:// with a host")
    if "{" in parts.scheme + parts.netloc or "%" in parts.netloc:
        raise _fail(f"invalid url {value!r}: the host and port must be literal (templates only after the host)")
    if parts.username or parts.password:
        raise _fail(f"invalid url {value!r}: no credentials in URLs; use headers with {{secret_env: NAME}}")
    return text


TargetUrl = Annotated[str, PlainValidator(_target_url)]


class HttpConfig(ActionModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: TargetUrl
    headers: Headers = {}
    body: Template | None = None  # rendered; sent with content_type
    content_type: str = "application/json"
    timeout: PositiveDuration = 10.0


class CommandConfig(ActionModel):
    """A program run directly (never through a shell): each argv item is rendered to exactly one argument."""

    argv: Annotated[tuple[Template, ...], Field(min_length=1)]
    cwd: str | None = None
    env: dict[Annotated[str, PlainValidator(_env_name)], Value] = {}
    inherit_env: tuple[Annotated[str, PlainValidator(_env_name)], ...] = ("PATH",)  # allowlist from the worker
    timeout: PositiveDuration = 30.0
    max_output: Annotated[int, Field(ge=0, le=1 << 20)] = 16384  # bytes of stdout and of stderr kept

    @model_validator(mode="after")
    def _literal_program(self) -> CommandConfig:
        if "{" in self.argv[0]:
            raise _fail("argv[0] (the program) must be literal")
        return self


class RunbookConfig(ActionModel):
    """A request published to the runbook queue; an executor's reply on the results queue completes the run."""

    runbook: Annotated[str, Field(min_length=1, max_length=200)]
    params: dict[str, Template] = {}
    timeout: PositiveDuration = 600.0  # no reply by then: the run failed (timeout)


def _url_or_secret(value: object) -> str | SecretRef:
    if isinstance(value, dict):
        return _value(value)
    if isinstance(value, str) and urlsplit(value).scheme in ("smtp", "smtps"):
        return _smtp_url(value)
    return _target_url(value)


def _smtp_url(value: str) -> str:
    """``smtp://host:port`` (or ``smtps://``): literal, with its port, no credentials (those are secrets)."""
    parts = urlsplit(value)
    if "{" in value or "%" in parts.netloc or not parts.hostname:
        raise _fail(f"invalid url {value!r}: an SMTP server is literal: smtp://host:port")
    if parts.username or parts.password:
        raise _fail(f"invalid url {value!r}: no credentials in URLs; use username/password with {{secret_env: NAME}}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        raise _fail(f"invalid url {value!r}: name the port (smtp://host:25, :587; smtps://host:465)")
    if parts.path not in ("", "/") or parts.query:
        raise _fail(f"invalid url {value!r}: an SMTP URL has no path")
    return value


#: an e-mail address: a local part and a domain, no display name, no spaces or control characters
EmailAddress = Annotated[str, Field(pattern=r"^[^\s@<>()\[\],;:\\\"\x00-\x1f\x7f]+@[A-Za-z0-9.-]+$", max_length=254)]


class NotifyConfig(ActionModel):
    """Slack-compatible webhook, PagerDuty Events v2 (dedup_key = incident id), or a generic webhook (incident
    JSON). Webhook URLs are often secrets themselves: ``url`` may be ``{secret_env: NAME}``."""

    channel: Literal["slack", "pagerduty", "webhook", "email"]
    url: Annotated[str | SecretRef | None, PlainValidator(_url_or_secret),
                   PlainSerializer(_dump_value)] = None  # pagerduty: defaults to the Events v2 endpoint
    routing_key: SecretRef | None = None  # pagerduty integration key
    text: Template = "[{{ incident.priority or '-' }}] {{ incident.title }} ({{ incident.status }})"
    headers: Headers = {}
    timeout: PositiveDuration = 10.0
    # email (issue 21): url smtp://host:port or smtps://host:port, through the URL guard like every target
    to: tuple[EmailAddress, ...] = ()
    sender: EmailAddress | None = None  # the From address
    subject: Template = "[{{ incident.priority or '-' }}] {{ incident.id }}: {{ incident.title }}"
    username: SecretRef | None = None
    password: SecretRef | None = None
    starttls: bool = False  # smtp:// then STARTTLS (smtps:// is TLS from the start)

    @model_validator(mode="after")
    def _target(self) -> NotifyConfig:
        if self.channel == "pagerduty" and self.routing_key is None:
            raise _fail("pagerduty needs routing_key: {secret_env: NAME}")
        if self.channel != "pagerduty" and self.url is None:
            raise _fail(f"{self.channel} needs url")
        smtp = isinstance(self.url, str) and urlsplit(self.url).scheme in ("smtp", "smtps")
        if self.channel == "email":
            if not smtp:
                raise _fail("email needs url: smtp://host:port or smtps://host:port")
            if not self.to or self.sender is None:
                raise _fail("email needs to (one address or more) and sender")
            if (self.username is None) != (self.password is None):
                raise _fail("email: give username and password together (each {secret_env: NAME})")
        elif smtp:
            raise _fail(f"{self.channel} needs an http(s) url")
        return self


class TicketConfig(ActionModel):
    """A ticket in the organisation's ticketing system (issue 21): created when the incident opens (or is
    promoted), updated on acknowledge, priority change, comment, resolve and reopen; one per incident."""

    system: Literal["rt", "servicenow", "jira"]
    url: TargetUrl  # the system's base URL (https://rt.example.com, https://acme.service-now.com, https://acme.atlassian.net)
    queue: Annotated[str, Field(min_length=1, max_length=200)] = "General"  # RT queue, Jira project key, SN group
    issue_type: Annotated[str, Field(min_length=1, max_length=100)] = "Incident"  # Jira
    resolve_transition: str | None = None  # Jira: the transition id that resolves an issue (none: comment only)
    reopen_transition: str | None = None  # Jira: the transition id that reopens it
    user: Annotated[str, Field(max_length=200)] = ""  # the account Stormwatch writes as: its changes are echoes
    headers: Headers = {}  # the credential, e.g. Authorization: {secret_env: RT_TOKEN}
    timeout: PositiveDuration = 10.0

    @model_validator(mode="after")
    def _host_literal(self) -> TicketConfig:
        if "{" in self.url:
            raise _fail("ticket url: a literal base URL (no template)")
        return self


PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
CONFIG_TYPES: dict[str, type[ActionModel]] = {
    "http": HttpConfig, "command": CommandConfig, "runbook": RunbookConfig, "notify": NotifyConfig,
    "ticket": TicketConfig,
}
#: the config of any type (validated by :func:`config_for` for the action's type, dumped as what it is)
ActionConfig = Annotated[HttpConfig | CommandConfig | RunbookConfig | NotifyConfig | TicketConfig,
                         PlainSerializer(lambda c: c.model_dump(mode="json"))]


def config_for(type_name: str, value: object) -> ActionModel:
    """Validate ``config`` with the model of the action's type (errors keep their path under ``config``)."""
    if value is None:
        value = {}
    if isinstance(value, ActionModel):
        return value
    return CONFIG_TYPES[type_name].model_validate(value)


# --- policies ---------------------------------------------------------------------------------------------------

class RateLimit(ActionModel):
    """At most ``max`` runs within ``window``, per rendered ``per`` key (no ``per``: across the whole fleet)."""

    max: Annotated[int, Field(ge=1)]
    window: PositiveDuration
    per: Template = ""


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, dict) else value


class Breaker(ActionModel):
    """After ``failures`` consecutive failed runs, runs are skipped for ``cooldown``; then runs are allowed again
    (and ``failures`` more consecutive failures open it again)."""

    failures: Annotated[int, Field(ge=1)] = 5
    cooldown: PositiveDuration = 600.0


class Retry(ActionModel):
    """Retryable failures (connection errors, timeouts, HTTP 5xx and 429) are tried again with backoff."""

    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    backoff: PositiveDuration = 1.0
    max_backoff: PositiveDuration = 30.0


class Verify(ActionModel):
    """If the incident is not resolved ``within`` after a successful run, it is escalated."""

    within: PositiveDuration


class ActionPolicies(ActionModel):
    """The safety fields every action has, whatever its type."""

    approval: Literal["none", "required"] = "none"
    approval_expires: PositiveDuration = 3600.0
    dry_run: bool = False
    rate_limit: Annotated[tuple[RateLimit, ...], BeforeValidator(_one_or_many)] = ()
    breaker: Breaker = Breaker()
    retry: Retry = Retry()
    verify: Verify | None = None
    #: the people's time one successful run saves (a duration, e.g. ``15m``): the reports' "time saved"
    saves: PositiveDuration | None = None


# --- triggers on group rules ----------------------------------------------------------------------------------------

TriggerOn = Literal["created", "updated", "resolved", "escalated", "merged", "promoted", "status_update",
                    "acknowledged", "reopened", "commented", "priority_changed"]


def _some(value: tuple[Any, ...]) -> tuple[Any, ...]:
    if not value:
        raise _fail("needs at least one of: created, updated, resolved, escalated, merged, promoted, status_update, "
                    "acknowledged, reopened, commented, priority_changed")
    return value


class _TriggerSpec(ActionModel):
    action: ActionName
    on: Annotated[tuple[TriggerOn, ...], AfterValidator(_some)] = ("created",)
    min_priority: Priority | None = None


class ActionTrigger(str):
    """A group rule's action: ``- page-dba`` (on created) or ``- {action: page-dba, on: [created, escalated],
    min_priority: P2}``. It is the action's name (a ``str``, so name checks and lookups need nothing new) carrying
    when it triggers."""

    on: tuple[str, ...]
    min_priority: str | None

    @classmethod
    def of(cls, name: str, on: tuple[str, ...] = ("created",), min_priority: str | None = None) -> ActionTrigger:
        trigger = cls(name)
        trigger.on, trigger.min_priority = tuple(on), min_priority
        return trigger

    def spec(self) -> dict[str, Any]:
        return {"action": str(self), "on": list(self.on), "min_priority": self.min_priority}


def _spec(model: type[ActionModel], value: object) -> Any:
    """A bare name or a trigger mapping, validated by ``model``."""
    if isinstance(value, dict) and True in value:  # YAML 1.1 reads an unquoted `on:` key as the boolean true
        value = {("on" if k is True else k): v for k, v in value.items()}
    return model.model_validate({"action": value} if isinstance(value, str) else value)


def _trigger(value: object) -> ActionTrigger:
    if isinstance(value, ActionTrigger):
        return value
    spec = _spec(_TriggerSpec, value)
    return ActionTrigger.of(spec.action, spec.on, spec.min_priority)


#: a group rule's ``actions`` item: a bare action name or a trigger mapping
ActionTriggerItem = Annotated[ActionTrigger, PlainValidator(_trigger),
                              PlainSerializer(lambda t: t.spec(), when_used="json")]


# --- triggers on problem rules ------------------------------------------------------------------------------------

ProblemTriggerOn = Literal["created", "updated", "known_error", "resolved"]


def _some_problem(value: tuple[Any, ...]) -> tuple[Any, ...]:
    if not value:
        raise _fail("needs at least one of: created, updated, known_error, resolved")
    return value


class _ProblemTriggerSpec(ActionModel):
    action: ActionName
    on: Annotated[tuple[ProblemTriggerOn, ...], AfterValidator(_some_problem)] = ("created",)


def _problem_trigger(value: object) -> ActionTrigger:
    """A problem rule's action: ``- open-ticket`` (on created) or ``- {action: open-ticket, on: [created,
    resolved]}``. Problems have no priority, so there is no ``min_priority``."""
    if isinstance(value, ActionTrigger):
        return value
    spec = _spec(_ProblemTriggerSpec, value)
    return ActionTrigger.of(spec.action, spec.on)


#: a problem rule's ``actions`` item: a bare action name or ``{action, on: [created|updated|known_error|resolved]}``
ProblemTriggerItem = Annotated[ActionTrigger, PlainValidator(_problem_trigger),
                               PlainSerializer(lambda t: {"action": str(t), "on": list(t.on)}, when_used="json")]
