"""What the Alertmanager API v2 routes share: its error shape, its times, its query parameters.

Alertmanager answers a refused request with a JSON string (``"failed to parse matchers: ..."``, its OpenAPI
``BadRequest`` response), which amtool prints after the status. These routes answer the same way, auth refusals
(401/403/429, with their reason in the text) included. Every refusal is counted by the route's
``stormwatch_http_requests_total{code}`` and logged once (``am_api_refused``: route, status, detail).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from rules.matchers import Matcher, MatcherError, parse_matcher
from stormwatch.api.common import ApiError, ApiServices, Handler, instrument, json_response, log

#: Alertmanager's version strings for fields Stormwatch has no value for (versionInfo)
UNKNOWN = "unknown"


def am_route(services: ApiServices, route: str, handler: Handler) -> Handler:
    """``instrument`` (count, time) over ``handler`` with refusals turned into Alertmanager's JSON-string body."""

    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            text = exc.detail if exc.reason is None else f"{exc.detail} (reason: {exc.reason})"
            if exc.status < 500 and exc.status not in (401, 403, 429):  # auth refusals have their own log line
                log.info("am_api_refused", route=route, method=request.method, status=exc.status, detail=text[:300])
            return json_response(text, exc.status, exc.headers)

    return instrument(services, route, answer)


@lru_cache(maxsize=4096)  # alerts of one storm share their times
def am_time(epoch: float) -> str:
    """An RFC 3339 time in UTC with milliseconds, as Alertmanager writes them (``2026-12-06T16:00:00.000Z``)."""
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_am_time(value: object, name: str) -> float:
    """Epoch seconds of an RFC 3339 time; ApiError 400 naming the field otherwise."""
    if not isinstance(value, str) or not value:
        raise ApiError(400, "invalid", f"{name} in body must be of type date-time: {value!r}", field=name)
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid", f"{name} in body must be of type date-time: {value!r}", field=name) from None
    if parsed.tzinfo is None:
        raise ApiError(400, "invalid", f"{name} in body must be of type date-time with a time zone: {value!r}",
                       field=name)
    return parsed.timestamp()


class Query:
    """The query parameters, decoded strictly: a parameter that is not valid UTF-8 once percent-decoded is refused
    (Starlette would replace the bad bytes with U+FFFD, and a matcher on that name would silently match nothing)."""

    def __init__(self, request: Request) -> None:
        raw = request.scope.get("query_string", b"").decode("latin-1")
        try:
            pairs = parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise ApiError(400, "bad_query", f"query: not valid UTF-8 ({exc.reason} at byte {exc.start})",
                           field="query") from None
        self.values: dict[str, list[str]] = {}
        for name, value in pairs:
            self.values.setdefault(name, []).append(value)

    def flag(self, name: str, default: bool = True) -> bool:
        """A boolean parameter as go-swagger reads one (true/false, 1/0...)."""
        values = self.values.get(name)
        if not values:
            return default
        value = values[-1].strip().lower()
        if value in ("true", "1", "yes", "y", "t", "on"):
            return True
        if value in ("false", "0", "no", "n", "f", "off"):
            return False
        raise ApiError(400, "bad_query", f"{name} in query must be of type boolean: {values[-1]!r}", field=name)

    def text(self, name: str) -> str | None:
        values = self.values.get(name)
        return values[-1] if values else None

    def matchers(self, name: str = "filter") -> list[Matcher]:
        """Every ``filter`` value, one matcher each (Alertmanager's ``parseFilter``), through Stormwatch's matcher
        parser; ApiError 400 with the parser's reason."""
        found = []
        for text in self.values.get(name, []):
            try:
                found.append(parse_matcher(text))
            except MatcherError as exc:
                raise ApiError(400, "bad_query", f"bad matcher {text!r} in {name}: {exc}", field=name) from None
        return found
