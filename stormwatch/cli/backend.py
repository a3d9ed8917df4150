"""Where the CLI's incident, problem, silence and action commands get and change things.

Two backends answer the same questions with the same documents (the HTTP API's JSON):

- ``ApiBackend``: the running service's HTTP API (``STORMWATCH_API_URL``, ``STORMWATCH_API_TOKEN``). Used whenever
  either setting is given. Changes are authorised by the token's role, recorded with the token's name and published
  as events by the server: the way people and scripts are meant to work.
- ``RedisBackend``: the namespace's Redis directly, with the same query code the API runs. Used when neither is
  set: the operator on the worker's machine, or break-glass when the API is down. Changes are recorded with
  ``--by`` (default: the login name) and their events published to RabbitMQ like the API's.

Errors are ``BackendError`` with the exit code the CLI uses: 1 for "no such thing / not now" (404, 409),
2 for "you or the request" (no answer, 401, 403, 4xx validation).
"""

from __future__ import annotations

import getpass
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol
from collections.abc import Awaitable, Callable

import orjson
import typer

from events.builders import action_decided, problem_status
from stormwatch.cli import context
from stormwatch.cli.output import err
from stormwatch.config import Settings


class BackendError(Exception):
    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Backend(Protocol):
    def incidents(self, statuses: frozenset[str], limit: int) -> list[dict[str, Any]]: ...
    def incident(self, incident_id: str) -> dict[str, Any]: ...
    def problems(self, open_only: bool, limit: int) -> list[dict[str, Any]]: ...
    def problem(self, problem_id: str) -> dict[str, Any]: ...
    def problem_status(self, problem_id: str, status: str, by: str | None, comment: str) -> dict[str, Any]: ...
    def silences(self, include_expired: bool) -> list[dict[str, Any]]: ...
    def add_silence(self, matchers: list[str], duration: str, author: str | None, comment: str) -> dict[str, Any]: ...
    def expire_silence(self, silence_id: str) -> dict[str, Any]: ...
    def action_runs(self, incident: str | None, problem: str | None, limit: int) -> list[dict[str, Any]]: ...
    def action_run(self, run_id: str) -> dict[str, Any]: ...
    def decide(self, run_id: str, decision: str, by: str | None) -> dict[str, Any]: ...
    def services(self) -> dict[str, Any]: ...
    def service(self, name: str) -> dict[str, Any]: ...
    def business_services(self) -> dict[str, Any]: ...
    def changes(self, service: str | None, limit: int) -> list[dict[str, Any]]: ...
    def add_change(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def change_windows(self, include_expired: bool) -> list[dict[str, Any]]: ...
    def add_change_window(self, body: dict[str, Any], by: str | None) -> dict[str, Any]: ...
    def end_change_window(self, window_id: str) -> dict[str, Any]: ...


def uses_api(settings: Settings) -> bool:
    return bool(settings.api_url or settings.api_token)


def backend(settings: Settings) -> Backend:
    return ApiBackend(settings) if uses_api(settings) else RedisBackend(settings)


def login(by: str | None = None) -> str:
    return by or os.environ.get("USER") or getpass.getuser()


# --- through the HTTP API ----------------------------------------------------------------------------------------

def api_url(settings: Settings) -> str:
    if settings.api_url:
        return settings.api_url.rstrip("/")
    host, port = settings.http_address
    scheme = "https" if settings.http_tls else "http"  # the server's own certificate: trust it (SSL_CERT_FILE)
    return f"{scheme}://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"  # noqa: S104 - a comparison


def call(settings: Settings, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """(status, parsed JSON) of one API request; status 0 when the server cannot be reached.
    Stdlib HTTP only: the CLI needs no extra dependency."""
    data = orjson.dumps(body) if body is not None else None
    request = urllib.request.Request(api_url(settings) + path, data=data, method=method,  # noqa: S310 - as below
                                     headers={"Content-Type": "application/json"})
    if settings.api_token:
        request.add_header("Authorization", f"Bearer {settings.api_token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the configured API URL
            return answer.status, orjson.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, orjson.loads(raw)
        except orjson.JSONDecodeError:
            return exc.code, {"error": "http", "detail": raw.decode("utf-8", "replace")[:300]}
    except (urllib.error.URLError, OSError) as exc:
        return 0, {"error": "unreachable", "detail": f"{api_url(settings)}: {getattr(exc, 'reason', exc)}"}


def ask(settings: Settings, method: str, path: str, body: dict[str, Any] | None, what: str) -> Any:
    """The answer's document on 2xx; BackendError (message naming ``what``, status and the API's detail) else."""
    status, doc = call(settings, method, path, body)
    if 200 <= status < 300:
        return doc
    detail = doc.get("detail") if isinstance(doc, dict) else doc
    hint = " (set STORMWATCH_API_TOKEN to a token with the right role)" if status in (401, 403) else ""
    raise BackendError(1 if status in (404, 409) else 2, f"{what}: {status or 'no answer'}: {detail}{hint}")


def _q(**params: Any) -> str:
    pairs = [(k, v) for k, v in params.items() if v not in (None, "")]
    return ("?" + urllib.parse.urlencode(pairs, doseq=True)) if pairs else ""


def _seg(value: str) -> str:
    return urllib.parse.quote(value, safe="")


@dataclass
class ApiBackend:
    settings: Settings

    def _ask(self, method: str, path: str, body: dict[str, Any] | None, what: str) -> Any:
        return ask(self.settings, method, path, body, what)

    def _pages(self, path: str, limit: int, what: str, **params: Any) -> list[dict[str, Any]]:
        """Follow ``next_cursor`` until ``limit`` items (the API pages at most 500 at a time)."""
        items: list[dict[str, Any]] = []
        cursor = None
        while len(items) < limit:
            doc = self._ask("GET", path + _q(limit=min(limit - len(items), 500), cursor=cursor, **params), None, what)
            items.extend(doc["items"])
            cursor = doc.get("next_cursor")
            if not cursor:
                break
        return items[:limit]

    def incidents(self, statuses: frozenset[str], limit: int) -> list[dict[str, Any]]:
        return self._pages("/api/v1/incidents", limit, "incidents", status=sorted(statuses))

    def incident(self, incident_id: str) -> dict[str, Any]:
        return self._ask("GET", f"/api/v1/incidents/{_seg(incident_id)}", None, incident_id)

    def problems(self, open_only: bool, limit: int) -> list[dict[str, Any]]:
        return self._pages("/api/v1/problems", limit, "problems",
                           status=["open", "known_error"] if open_only else None)

    def problem(self, problem_id: str) -> dict[str, Any]:
        return self._ask("GET", f"/api/v1/problems/{_seg(problem_id)}", None, problem_id)

    def problem_status(self, problem_id: str, status: str, by: str | None, comment: str) -> dict[str, Any]:
        verb = "known-error" if status == "known_error" else "resolve"
        return self._ask("POST", f"/api/v1/problems/{_seg(problem_id)}/{verb}", {"comment": comment},
                         f"{verb} {problem_id}")

    def silences(self, include_expired: bool) -> list[dict[str, Any]]:
        return self._ask("GET", "/api/v1/silences" + _q(expired="true" if include_expired else None), None,
                         "silences")

    def add_silence(self, matchers: list[str], duration: str, author: str | None, comment: str) -> dict[str, Any]:
        return self._ask("POST", "/api/v1/silences", {"matchers": matchers, "duration": duration, "comment": comment},
                         "silence")

    def expire_silence(self, silence_id: str) -> dict[str, Any]:
        return self._ask("DELETE", f"/api/v1/silences/{_seg(silence_id)}", None, f"expire {silence_id}")

    def action_runs(self, incident: str | None, problem: str | None, limit: int) -> list[dict[str, Any]]:
        return self._ask("GET", "/api/v1/actions" + _q(incident=incident, problem=problem, limit=min(limit, 1000)),
                         None, "actions")["items"]

    def action_run(self, run_id: str) -> dict[str, Any]:
        return self._ask("GET", f"/api/v1/actions/{_seg(run_id)}", None, run_id)

    def decide(self, run_id: str, decision: str, by: str | None) -> dict[str, Any]:
        verb = "approve" if decision == "approved" else "reject"
        return self._ask("POST", f"/api/v1/actions/{_seg(run_id)}/{verb}", {}, f"{verb} {run_id}")["run"]

    def services(self) -> dict[str, Any]:
        return self._ask("GET", "/api/v1/services", None, "services")

    def service(self, name: str) -> dict[str, Any]:
        return self._ask("GET", f"/api/v1/services/{_seg(name)}", None, name)

    def business_services(self) -> dict[str, Any]:
        return self._ask("GET", "/api/v1/business-services", None, "business services")

    def changes(self, service: str | None, limit: int) -> list[dict[str, Any]]:
        return self._ask("GET", "/api/v1/changes" + _q(service=service, limit=min(limit, 1000)), None,
                         "changes")["items"]

    def add_change(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._ask("POST", "/api/v1/changes", body, "change")

    def change_windows(self, include_expired: bool) -> list[dict[str, Any]]:
        return self._ask("GET", "/api/v1/change-windows" + _q(expired="true" if include_expired else None), None,
                         "change windows")

    def add_change_window(self, body: dict[str, Any], by: str | None) -> dict[str, Any]:
        return self._ask("POST", "/api/v1/change-windows", body, "change window")

    def end_change_window(self, window_id: str) -> dict[str, Any]:
        return self._ask("DELETE", f"/api/v1/change-windows/{_seg(window_id)}", None, f"end {window_id}")


# --- straight to Redis ----------------------------------------------------------------------------------------------

@dataclass
class RedisBackend:
    settings: Settings

    def _with(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        return context.run(context.with_store(fn))

    def incidents(self, statuses: frozenset[str], limit: int) -> list[dict[str, Any]]:
        from correlation.store.incident_queries import IncidentFilter, IncidentQueries

        async def run(store: Any) -> list[dict[str, Any]]:
            items, _ = await IncidentQueries(store.redis, store.keys).page(IncidentFilter(statuses), limit=limit)
            return items

        return self._with(run)

    def incident(self, incident_id: str) -> dict[str, Any]:
        from actions.state import ActionState
        from correlation.store.changes import ChangeStore
        from correlation.store.incident_document import incident_document
        from correlation.store.incident_queries import IncidentQueries
        from correlation.store.links import Links

        async def run(store: Any) -> dict[str, Any] | None:
            return await incident_document(IncidentQueries(store.redis, store.keys),
                                           Links(store.redis, store.keys, timeline_max=1),
                                           ActionState(store.redis, store.keys), incident_id,
                                           ChangeStore(store.redis, store.keys))

        return _found(self._with(run), f"no incident {incident_id!r}")

    def problems(self, open_only: bool, limit: int) -> list[dict[str, Any]]:
        from correlation.store.links import Links

        async def run(store: Any) -> list[dict[str, Any]]:
            links = Links(store.redis, store.keys, timeline_max=1)
            return [p.public() for p in await links.list_problems(open_only=open_only, limit=limit)]

        return self._with(run)

    def problem(self, problem_id: str) -> dict[str, Any]:
        from correlation.store.links import Links
        from correlation.store.problem_queries import is_problem_id

        async def run(store: Any) -> dict[str, Any] | None:
            links = Links(store.redis, store.keys, timeline_max=1)
            found = await links.problems([problem_id]) if is_problem_id(problem_id) else []
            return found[0].public() | {"timeline": await links.problem_timeline(problem_id)} if found else None

        return _found(self._with(run), f"no problem {problem_id!r}")

    def problem_status(self, problem_id: str, status: str, by: str | None, comment: str) -> dict[str, Any]:
        from correlation.store.links import Links
        from correlation.store.problem_queries import is_problem_id
        from stormwatch.publisher import publish_events

        if not is_problem_id(problem_id):
            raise BackendError(1, f"no problem {problem_id!r}")
        who, now = login(by), time.time()

        async def run(store: Any) -> tuple[str, Any]:
            return await Links(store.redis, store.keys, timeline_max=self.settings.timeline_max_entries
                               ).change_problem_status(problem_id, status, who, now, comment)

        outcome, problem = self._with(run)
        if problem is None:
            raise BackendError(1, f"no problem {problem_id!r}")
        if outcome == "resolved":
            raise BackendError(1, f"{problem_id} is resolved; its signature opens a new problem next time")
        changed = outcome == "changed"
        if changed:  # the same event the API publishes, so rules' problem actions start alike
            context.run(publish_events(self.settings, [problem_status(problem.public(), status, who, now)]))
        return {"problem": problem.public(), "changed": changed, "event_published": changed}

    def silences(self, include_expired: bool) -> list[dict[str, Any]]:
        now = time.time()
        found = self._with(lambda store: _silences(store).all())
        return [s.public(now) for s in found if include_expired or s.state(now) != "expired"]

    def add_silence(self, matchers: list[str], duration: str, author: str | None, comment: str) -> dict[str, Any]:
        from correlation.core.muting import Silence
        from correlation.store.silences import new_silence_id
        from rules.matchers import MatcherError, parse_matcher
        from rules.schema import parse_duration

        now = time.time()
        try:
            parsed = [parse_matcher(m) for m in matchers]
            silence = Silence.create(parsed, now, now + parse_duration(duration), login(author), comment, now,
                                     silence_id=new_silence_id())
        except (MatcherError, ValueError) as exc:
            raise BackendError(2, f"invalid silence: {exc}") from None
        self._with(lambda store: _silences(store).add(silence))
        return silence.public(now)

    def expire_silence(self, silence_id: str) -> dict[str, Any]:
        now = time.time()
        silence = self._with(lambda store: _silences(store).expire(silence_id, now))
        return _found(silence.public(now) if silence is not None else None, f"no silence {silence_id!r}")

    def action_runs(self, incident: str | None, problem: str | None, limit: int) -> list[dict[str, Any]]:
        from actions.state import ActionState

        return self._with(lambda store: ActionState(store.redis, store.keys).runs(incident, limit, problem_id=problem))

    def action_run(self, run_id: str) -> dict[str, Any]:
        from actions.state import ActionState

        return _found(self._with(lambda store: ActionState(store.redis, store.keys).run(run_id)),
                      f"no action run {run_id!r}")

    def decide(self, run_id: str, decision: str, by: str | None) -> dict[str, Any]:
        from actions.state import ActionState

        async def run(store: Any) -> tuple[str, Any]:
            state = ActionState(store.redis, store.keys)
            return await state.decide(run_id, decision, who, time.time()), await state.run(run_id)

        from stormwatch.publisher import publish_events

        who = login(by)
        result, run_doc = self._with(run)
        if result == "":
            raise BackendError(1, f"no action run {run_id!r}")
        if result != "ok":
            raise BackendError(1, f"run {run_id} is not waiting for approval (state: {result})")
        # the event the API publishes
        context.run(publish_events(self.settings, [action_decided(run_id, decision, run_doc, who, time.time())]))
        return run_doc

    def _catalog_view(self, build: Callable[[Any, list[dict[str, Any]], Any], Any],
                      changes_of: str | None = None) -> Any:
        """``build(catalog, open incidents, truncated or the recent changes of service changes_of)`` over
        STORMWATCH_RULES' catalog and the open incidents."""
        from correlation.core.catalog import Catalog
        from correlation.store.changes import ChangeStore
        from correlation.store.incident_queries import IncidentQueries
        from correlation.store.service_document import open_incidents
        from stormwatch.api.services import RECENT_CHANGES
        from stormwatch.rules_source import load_rules

        rule_set = load_rules(self.settings.rules)
        catalog = Catalog.from_rule_set(rule_set)

        async def run(store: Any) -> Any:
            incidents, truncated = await open_incidents(IncidentQueries(store.redis, store.keys))
            if changes_of is None:
                return build(catalog, incidents, truncated)
            return build(catalog, incidents, await ChangeStore(store.redis, store.keys).page(changes_of,
                                                                                            RECENT_CHANGES))

        return self._with(run)

    def services(self) -> dict[str, Any]:
        from correlation.store.service_document import services_overview

        return self._catalog_view(services_overview)

    def service(self, name: str) -> dict[str, Any]:
        from correlation.store.service_document import service_detail

        return _found(self._catalog_view(lambda catalog, incidents, changes: service_detail(
            catalog, name, incidents, changes), changes_of=name), f"no service {name!r} in the catalog or on an open "
            "incident")

    def business_services(self) -> dict[str, Any]:
        from correlation.store.service_document import business_overview

        return self._catalog_view(business_overview)

    def changes(self, service: str | None, limit: int) -> list[dict[str, Any]]:
        from correlation.store.changes import ChangeStore

        return self._with(lambda store: ChangeStore(store.redis, store.keys).page(service, limit))

    def add_change(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validated here as the API would (BackendError naming the field), then published to ``<ns>.changes``."""
        import time

        from ingest.changes import read_change
        from ingest.formats import ItemError
        from stormwatch.publisher import publish_change

        try:
            change = read_change(orjson.dumps(body), "change", time.time(), self.settings.max_body_bytes)
        except ItemError as exc:
            raise BackendError(2, f"change: {exc.path + ': ' if exc.path else ''}{exc.message}") from None
        context.run(publish_change(self.settings, orjson.dumps(change.body()), f"chg:{change.service}|{change.id}"))
        return {"status": "accepted", "id": change.id, "service": change.service}

    def change_windows(self, include_expired: bool) -> list[dict[str, Any]]:
        now = time.time()
        windows = self._with(lambda store: _windows(store).all())
        return [w.public(now) for w in windows if include_expired or w.state(now) != "expired"]

    def add_change_window(self, body: dict[str, Any], by: str | None) -> dict[str, Any]:
        from correlation.core.change_windows import ChangeWindow
        from correlation.store.change_windows import new_window_id
        from rules.matchers import MatcherError, parse_matcher
        from rules.schema import parse_duration

        now = time.time()
        try:
            starts = float(body.get("starts_at") or now)
            window = ChangeWindow.create(
                new_window_id(), starts, starts + parse_duration(body["duration"]), mode=body.get("mode", "mute"),
                services=body.get("services") or [], matchers=[parse_matcher(m) for m in body.get("matchers") or []],
                summary=body.get("summary", ""), created_by=login(by), now=now)
        except (ValueError, MatcherError) as exc:
            raise BackendError(2, f"change window: {exc}") from None
        return self._with(lambda store: _windows(store).add(window)).public(now)

    def end_change_window(self, window_id: str) -> dict[str, Any]:
        now = time.time()
        window = self._with(lambda store: _windows(store).expire(window_id, now))
        return _found(window.public(now) if window is not None else None, f"no change window {window_id!r}")


def _windows(store: Any) -> Any:
    from correlation.store.change_windows import ChangeWindowStore

    return ChangeWindowStore(store.redis, store.keys)


def _silences(store: Any) -> Any:
    from correlation.store.silences import SilenceStore

    return SilenceStore(store.redis, store.keys)


def _found(doc: Any, missing: str) -> Any:
    if doc is None:
        raise BackendError(1, missing)
    return doc


def answer(fn: Callable[[Backend], Any]) -> Any:
    """Run one backend question for a CLI command: its answer, or the error on stderr and the exit code."""
    try:
        return fn(backend(context.settings(log_level="warning")))
    except BackendError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None


def answer_api(method: str, path: str, body: dict[str, Any], what: str) -> Any:
    """One API request for a CLI command that only the API does: its answer, or the error and the exit code."""
    try:
        return ask(context.settings(log_level="warning"), method, path, body, what)
    except BackendError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(exc.exit_code) from None
