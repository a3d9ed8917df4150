"""What every route shares: the services it may use, JSON answers, errors, auth, bounded bodies, metrics."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from collections.abc import Awaitable, Callable, Collection, Mapping

import orjson
import structlog
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from actions.run_record import ActionRun
from correlation.store.alert_queries import AlertQueries
from actions.tickets.adapters import Settings as TicketSettings
from correlation.store.declared_incidents import DeclaredIncidents
from correlation.core.catalog import Catalog
from correlation.store.change_windows import ChangeWindowStore
from correlation.store.changes import ChangeStore
from correlation.store.incident_commands import IncidentCommands
from correlation.store.incident_queries import IncidentQueries
from correlation.store.links import Links
from correlation.store.silences import SilenceStore
from events.publisher import EventPublisher
from ingest.limits import LabelGuard
from ingest.integrations import Integrations
from stormwatch.auth import AuthError, Authenticator, Principal
from stormwatch.auth_limiter import AuthFailureLimiter, ClientAddress
from stormwatch.history.queries import HistoryQueries
from stormwatch.http_protocol import TIMEOUT_SCOPE_KEY
from stormwatch.metrics import Metrics

log = structlog.get_logger("stormwatch.http")

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]
LivenessCheck = Callable[[], dict[str, bool]]
Handler = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)
CLIENT_CLOSED = 499  # the status counted for a request whose client went away (nginx's convention)


class AlertSink(Protocol):
    """Where accepted ingest bodies go; returns once they are durable (stormwatch.api.publishing.AlertPublisher).
    Raises IngestUnavailable when they could not be made durable."""

    async def publish(self, body: bytes, fmt: str, *, routing_key: str, message_id: str | None = None) -> None: ...
    async def publish_list(self, body: bytes, fmt: str, *, routing_key: str) -> None: ...


class ActionRuns(Protocol):
    """Action runs as people see and decide them (actions.state.ActionState)."""

    async def runs(self, incident_id: str | None = None, limit: int = 100, problem_id: str | None = None
                   ) -> list[dict[str, str]]: ...
    async def decide(self, run_id: str, decision: str, who: str, now: float) -> str: ...
    async def run(self, run_id: str) -> dict[str, str] | None: ...
    async def load(self, run_id: str) -> ActionRun | None: ...
    async def stored_many(self, incident_id: str | None = None, limit: int = 100, problem_id: str | None = None,
                          states: Collection[str] = (), most: int | None = None) -> list[dict[str, str]]: ...


class Teams(Protocol):
    """Alertmanager's receivers: the teams (stormwatch.team_directory.TeamDirectory)."""

    def teams(self) -> list[str]: ...
    def team_of(self, labels: Mapping[str, str]) -> str: ...
    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]: ...


class EventFeed(Protocol):
    """Live events for browsers (stormwatch.api.stream.EventStream): each subscriber gets its own queue."""

    def subscribe(self) -> Any: ...
    def unsubscribe(self, queue: Any) -> None: ...


class ReportSource(Protocol):
    """Reports over the history (stormwatch.reports.source.HistoryReports); raises HistoryUnavailable."""

    async def report(self, window: Any) -> dict[str, Any]: ...


class ChangesIntake(Protocol):
    """Change events (stormwatch.changes_service.ChangesService): put on RabbitMQ, and the store to list them."""

    store: ChangeStore

    async def publish(self, body: bytes, fmt: str, message_id: str) -> None: ...


class RulesControl(Protocol):
    """The running worker's rules (the shell's Worker implements it)."""

    def rules_summary(self) -> dict[str, Any]: ...
    async def reload_rules_checked(self) -> list[str]: ...
    def validate_rule_file(self, name: str, text: str) -> list[str]: ...  # blocking: run it in a thread


class TicketIndex(Protocol):
    async def incident_of(self, system: str, ref: str) -> str | None: ...


@dataclass
class ApiServices:
    """Everything the routes use; a part left None is not served (404), so ops-only servers stay small."""

    metrics: Metrics
    readiness: ReadinessCheck
    liveness: LivenessCheck | None = None  # /healthz: 503 naming what is stuck
    clock: Callable[[], float] = time.time
    auth: Authenticator | None = None
    publisher: AlertSink | None = None
    queries: IncidentQueries | None = None
    commands: IncidentCommands | None = None
    declared: DeclaredIncidents | None = None  # people's declared incidents, attached alerts (issue 21)
    events: EventPublisher | None = None  # events.amqp.AmqpEventPublisher: the confirmed publisher
    silences: SilenceStore | None = None
    rules: RulesControl | None = None
    links: Links | None = None  # problems, symptoms
    actions: ActionRuns | None = None
    stream: EventFeed | None = None
    reports: ReportSource | None = None  # the history's reports (served when the worker has a history database)
    console: bool = False  # serve the web console's static files at /console/
    max_body_bytes: int = 1 << 20
    auth_limiter: AuthFailureLimiter | None = None  # failed authentications per client address (429 past them)
    client_address: ClientAddress = field(default_factory=ClientAddress)
    label_guard: LabelGuard | None = None  # ingest: label limits (alerts over them refused naming the field) + memo
    integrations: Integrations | None = None  # PagerDuty integration keys (/v2/enqueue's routing_key as credential)
    metrics_token: str = ""  # GET /metrics needs it as a bearer token when set
    history: HistoryQueries | None = None  # incident search over the history database (docs/history.md)
    alerts: AlertQueries | None = None  # Alertmanager API v2: the firing alerts (with teams: its read routes)
    teams: Teams | None = None
    status_page_secret: str = ""  # signs status pages' read tokens (empty: no status pages)
    ticket_webhook_secret: str = ""  # HMAC of the ticketing systems' webhooks (empty: off)
    ticket_refs: TicketIndex | None = None  # ticket -> incident (stormwatch.ticket_refs)
    ticket_settings: Callable[[str], TicketSettings] | None = None  # a system's ticket action settings (echoes)
    catalog: Callable[[], Catalog] | None = None  # the running rule set's service catalog (services routes)
    changes: ChangesIntake | None = None  # change events: publish (ingest), the store (listing)
    change_windows: ChangeWindowStore | None = None


def stormwatch_version() -> str:
    try:
        return version("stormwatch")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


async def publish_event(services: ApiServices, event: dict[str, Any], subject: str) -> bool:
    """Publish one people's-change event (built by ``events.builders``) to ``<ns>.events`` through the confirmed
    publisher; False (and a warning naming ``subject``) when it could not be: the change itself is already made and
    stays made."""
    if services.events is None:
        return False
    try:
        await services.events.publish_events([event])
        return True
    except Exception as exc:  # noqa: BLE001 - the change is made; say the event is not
        log.warning("event_not_published", type=event.get("type"), subject=subject, error=repr(exc))
        return False


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None, reason: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.field, self.headers = status, error, detail, field, headers
        self.reason = reason  #: why auth refused (stormwatch.auth.REFUSALS), for machines; None otherwise

    def response(self) -> Response:
        doc: dict[str, Any] = {"error": self.error, "detail": self.detail}
        if self.field is not None:
            doc["field"] = self.field
        if self.reason is not None:
            doc["reason"] = self.reason
        return json_response(doc, self.status, self.headers)


def query_set(request: Request, name: str) -> frozenset[str]:
    """A filter's values: repeated and/or comma-separated (``?status=open,acknowledged&status=resolved``)."""
    return frozenset(v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip())


def query_choices(request: Request, name: str, allowed: frozenset[str]) -> frozenset[str]:
    values = query_set(request, name)
    if values - allowed:
        raise ApiError(400, "bad_query", f"{name}: one of {', '.join(sorted(allowed))}", field=name)
    return values


def query_int(request: Request, name: str, default: int, least: int, most: int) -> int:
    """An integer query parameter from ``least`` to ``most``; 400 naming it otherwise. ASCII digits only:
    ``str.isdigit`` also says yes to "²" and "٣", which ``int`` then refuses (a 500) or reads."""
    raw = request.query_params.get(name, str(default))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or not least <= int(raw) <= most:
        raise ApiError(400, "bad_query", f"{name}: an integer from {least} to {most}", field=name)
    return int(raw)


def query_limit(request: Request, default: int, most: int) -> int:
    return query_int(request, "limit", default, 1, most)


def json_response(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(doc), status, headers, media_type="application/json")


def authorise(services: ApiServices, request: Request, capability: str) -> Principal:
    """The bearer-token caller allowed to do ``capability``; ApiError 401/403 otherwise, whose body's ``reason``
    says which refusal it is (stormwatch.auth.REFUSALS)."""
    auth = services.auth
    if auth is None or not auth.configured:
        raise refusal(services, request, 401, "no_tokens_configured",
                      "no API tokens are configured (STORMWATCH_API_TOKENS); the API and ingest endpoints refuse "
                      "every request")
    try:
        principal = auth.bearer(request.headers, capability)
    except AuthError as exc:
        raise refusal(services, request, exc.status, exc.reason, exc.message) from None
    if principal is None:
        raise refusal(services, request, 401, "missing_token", "send Authorization: Bearer <token>")
    return principal


def refusal(services: ApiServices, request: Request, status: int, reason: str, detail: str) -> ApiError:
    """The 401/403 answer for an auth refusal, counted and logged (reason and path, never the credential)."""
    refuse(services, request, reason)
    return ApiError(status, "unauthorized" if status == 401 else "forbidden", detail, reason=reason,
                    headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


#: refusals that are not a failed guess: no credentials sent, none configured, a valid token without the role
NOT_A_FAILURE = frozenset({"missing_token", "no_tokens_configured", "role"})


def client_of(services: ApiServices, request: Request) -> str:
    peer = request.client.host if request.client else ""
    return services.client_address.of(peer, request.headers.get("x-forwarded-for"))


def refuse(services: ApiServices, request: Request, reason: str) -> None:
    """Count and log one refused request. A failed authentication also takes from its client address's budget:
    past it, raises ApiError 429 with Retry-After (logged once when the address becomes limited, not per try)."""
    client = client_of(services, request)
    limiter = services.auth_limiter
    limited = limiter.failed(client) if limiter is not None and reason not in NOT_A_FAILURE else None
    if limited is not None:
        services.metrics.auth_rate_limited.inc()
        if limited.first:
            log.warning("auth_rate_limited", client=client, reason=reason, path=request.url.path,
                        retry_after=limited.retry_after)
        raise ApiError(429, "too_many_failures", "too many failed authentications from this address; retry later",
                       headers={"Retry-After": limited.retry_after}, reason="too_many_failures")
    services.metrics.auth_refused.labels(reason).inc()
    log.info("auth_refused", reason=reason, path=request.url.path, method=request.method, client=client)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (413 beyond, before reading it when the length is declared)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, "bad_request", "Content-Length is not a number", field="Content-Length") from None
        if size > limit:
            raise ApiError(413, "too_large", f"body: {size} bytes, more than the limit of {limit}", field="body")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise ApiError(413, "too_large", f"body: more than the limit of {limit} bytes", field="body")
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def parse_model(request: Request, model: type[M], *, optional: bool = False) -> M:
    """A JSON body validated by a strict model; 422 naming the field."""
    body = await read_body(request, 1 << 20)
    if not body.strip() and optional:
        return model()
    return decode_model(body, model)


def decode_model(raw: bytes, model: type[M], *, am_wording: bool = False) -> M:
    """``raw`` parsed as JSON and validated by ``model``, or refused: 400 when it is not JSON, 422 naming the first
    field that does not validate. ``am_wording``: the wording and status of Alertmanager's API instead (400,
    "<field> in body: ...", and the JSON refusal names UTF-8)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        what = "not valid JSON (UTF-8)" if am_wording else "not valid JSON"
        raise ApiError(400, "invalid_json", f"body: {what}: {exc}", field="body") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        if am_wording:
            raise ApiError(400, "invalid", f"{where} in body: {first['msg']}", field=where) from None
        raise ApiError(422, "invalid", f"{where}: {first['msg']}", field=where) from None


def instrument(services: ApiServices, route: str, handler: Handler) -> Handler:
    """Count and time every answer of a route; turn ApiError into its JSON answer and a client that went away
    mid-body into one log line."""
    requests = services.metrics.http_requests
    latency = services.metrics.http_latency.labels(route)
    counters: dict[int, Any] = {}

    disconnects = services.metrics.http_client_disconnects.labels(route)

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
            if exc.field is not None:  # a refused request names what was wrong: one line saying which
                log.info("http_refused", route=route, status=exc.status, field=exc.field, detail=exc.detail[:200])
        except ClientDisconnect:  # gone mid-body: one line (none when the server cut it: that has its own line)
            disconnects.inc()
            if TIMEOUT_SCOPE_KEY not in request.scope:
                log.info("http_client_disconnected", route=route, method=request.method,
                         client=client_of(services, request))
            response = Response(status_code=CLIENT_CLOSED)  # nobody reads it: counted as 499, like nginx
        code = response.status_code
        counter = counters.get(code)
        if counter is None:
            counter = counters[code] = requests.labels(route, str(code))
        counter.inc()
        latency.observe(time.perf_counter() - started)
        return response

    return endpoint
