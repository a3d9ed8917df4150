"""HTTP and notify actions: one request through the URL guard, redirects never followed.

Values a template inserts are escaped for where they land (``escaping.py``): percent-encoded in URLs, Slack-escaped
(``&``, ``<``, ``>``) in a Slack message's text, HTML-escaped in a ``text/html`` body.

Notify builds its body per channel: Slack-compatible webhooks get ``{"text": ...}``; PagerDuty Events v2 gets
``trigger`` (``resolve`` for a resolved incident) with ``dedup_key`` = the incident id, so every run for the same
incident lands on the same PagerDuty alert; a generic webhook gets the incident JSON with the event and the text.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp
import orjson
from rules.action_schema import PAGERDUTY_EVENTS_URL, HttpConfig, NotifyConfig, SecretRef
from rules.schema import Action

from actions.escaping import Markup
from actions.executor import Attempt, Prepared, truncate
from actions.model import Outcome
from actions.templates import Renderer, Secrets, TemplateFailed, value
from actions.urlguard import GuardedResolver, UrlPolicy, UrlRefused

RESPONSE_KEEP = 2000  # characters of a response body kept in the audit
PD_SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}


def retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


class HttpExecutor:
    def __init__(self, policy: UrlPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.policy), limit=64, use_dns_cache=False)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # -- preparing -------------------------------------------------------------------------------------------

    def prepare(self, action: Action, ctx: Mapping[str, Any], renderer: Renderer, secrets: Secrets) -> Prepared:
        config = action.config
        if isinstance(config, NotifyConfig):
            return self._prepare_notify(config, ctx, renderer, secrets)
        assert isinstance(config, HttpConfig)
        url = _same_target(config.url, renderer.render_url(config.url, ctx))
        headers, shown_headers = _headers(config.headers, renderer, ctx, secrets)
        markup: Markup = "html" if _is_html(config.content_type) else "text"
        body = renderer.render(config.body, ctx, markup) if config.body is not None else None
        if body is not None:
            headers.setdefault("Content-Type", config.content_type)
        real = {"method": config.method, "url": url, "headers": headers, "body": body}
        shown = real | {"headers": shown_headers}
        return Prepared(real, shown, config.timeout)

    def _prepare_notify(self, config: NotifyConfig, ctx: Mapping[str, Any], renderer: Renderer, secrets: Secrets
                        ) -> Prepared:
        headers, shown_headers = _headers(config.headers, renderer, ctx, secrets)
        headers.setdefault("Content-Type", "application/json")
        text = renderer.render(config.text, ctx, "slack" if config.channel == "slack" else "text")
        incident = ctx["incident"]
        problem = ctx.get("problem")
        subject = problem or incident  # a problem rule's run pages (and resolves) the problem, not its incident
        if isinstance(config.url, SecretRef):
            url, shown_url = secrets.resolve(config.url), f"<secret:{config.url.secret_env}>"
        else:
            template = config.url or PAGERDUTY_EVENTS_URL
            url = shown_url = _same_target(template, renderer.render_url(template, ctx))
        if config.channel == "slack":
            payload: dict[str, Any] = {"text": text}
            shown_payload = payload
        elif config.channel == "pagerduty":
            assert config.routing_key is not None
            payload = {
                "routing_key": secrets.resolve(config.routing_key),
                "event_action": "resolve" if subject.get("status") == "resolved" else "trigger",
                "dedup_key": subject.get("id"),
                "payload": {"summary": text[:1024], "source": "stormwatch",
                            "severity": PD_SEVERITY.get(incident.get("priority", ""), "warning"),
                            "custom_details": {"incident": incident} | ({"problem": problem} if problem else {})},
            }
            shown_payload = payload | {"routing_key": f"<secret:{config.routing_key.secret_env}>"}
        else:
            payload = {"text": text, "event": ctx["event"], "incident": incident, "alerts": ctx["alerts"]}
            shown_payload = {"text": text, "event": ctx["event"], "incident": {"id": incident.get("id")}}
            if problem:
                payload["problem"] = problem
                shown_payload["problem"] = {"id": problem.get("id")}
        body = orjson.dumps(payload).decode()
        real = {"method": "POST", "url": url, "headers": headers, "body": body}
        shown = {"method": "POST", "url": shown_url, "headers": shown_headers, "body": shown_payload,
                 "channel": config.channel}
        return Prepared(real, shown, config.timeout)

    # -- running ---------------------------------------------------------------------------------------------

    async def run(self, prepared: Prepared, attempt: Attempt) -> Outcome:
        r = prepared.real
        try:
            self.policy.check_url(r["url"])
        except UrlRefused as exc:
            return Outcome(False, f"refused by the URL guard: {exc}")
        headers = dict(r["headers"]) | {"X-Stormwatch-Run": attempt.run_id}
        try:
            async with self._client().request(
                r["method"], r["url"], headers=headers, data=r["body"].encode() if r["body"] is not None else None,
                allow_redirects=False, timeout=aiohttp.ClientTimeout(total=prepared.timeout),
            ) as response:
                text = (await response.content.read(RESPONSE_KEEP + 1)).decode("utf-8", "replace")
                status = response.status
        except TimeoutError:
            return Outcome(False, f"timed out after {prepared.timeout}s", retryable=True)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(getattr(exc, "os_error", None), UrlRefused):
                return Outcome(False, f"refused by the URL guard: {exc.os_error}")
            return Outcome(False, f"connection failed: {exc}", retryable=True)
        except (aiohttp.ClientError, OSError) as exc:
            return Outcome(False, f"request failed: {exc!r}", retryable=True)
        except ValueError as exc:  # the client refuses the request as built (a control character in a header)
            return Outcome(False, f"request refused by the HTTP client: {exc}")
        output = {"status": status, "response": truncate(text, RESPONSE_KEEP)}
        if 200 <= status < 300:
            return Outcome(True, f"HTTP {status}", output=output)
        if 300 <= status < 400:
            return Outcome(False, f"HTTP {status}: redirect not followed", output=output)
        return Outcome(False, f"HTTP {status}", retryable=retryable_status(status), output=output)


def _same_target(template: str, url: str) -> str:
    """Defence in depth behind the schema's literal-host rule: rendering may change the path, never the target."""
    before, after = urlsplit(template), urlsplit(url)
    if (before.scheme, before.netloc) != (after.scheme, after.netloc):
        raise TemplateFailed(f"rendering changed the URL's target from {before.netloc!r} to {after.netloc!r}")
    return url


def _is_html(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")


def _headers(spec: Mapping[str, str | SecretRef], renderer: Renderer, ctx: Mapping[str, Any], secrets: Secrets
             ) -> tuple[dict[str, str], dict[str, str]]:
    real: dict[str, str] = {}
    shown: dict[str, str] = {}
    for name, item in spec.items():
        real[name], shown[name] = value(item, renderer, ctx, secrets)
    return real, shown
