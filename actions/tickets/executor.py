"""The ``ticket`` action (issue 21): one ticket per incident in the organisation's ticketing system.

On the first run for an incident (``created``, ``promoted``, or any later event when no ticket exists yet) the
executor claims the incident's ticket (``TicketRefs.claim``, a lease: one worker creates at a time), asks the
system for a ticket carrying the incident id (``find``: a worker killed after creating but before storing the
reference left one), creates one only if there is none, and stores the reference on the incident. Later runs update
it: acknowledge, priority change, comment, resolve, reopen (``adapters.UPDATE_KINDS``). Every request goes through
the URL guard and the guarded resolver, like the HTTP action's; the credential headers are secret references.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp
import orjson
from rules.action_schema import TicketConfig
from rules.schema import Action

from actions.executor import Attempt, Prepared, truncate
from actions.http_executor import HttpExecutor, _headers, retryable_status
from actions.model import Outcome
from actions.templates import Renderer, Secrets
from actions.tickets.adapters import Call, Settings, UPDATE_KINDS, adapter
from actions.urlguard import UrlRefused

CREATING = ("created", "promoted")


class TicketRefs(Protocol):
    """Where an incident's ticket reference lives (the shell's, on the incident; ``stormwatch.ticket_refs``)."""

    async def ref(self, incident_id: str, system: str) -> str | None: ...
    async def claim(self, incident_id: str, system: str, holder: str, lease: float) -> bool: ...
    async def store(self, incident_id: str, system: str, ref: str) -> None: ...


class TicketFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


def settings_of(config: TicketConfig) -> Settings:
    return Settings(queue=config.queue, issue_type=config.issue_type, resolve_transition=config.resolve_transition,
                    reopen_transition=config.reopen_transition, user=config.user)


class TicketExecutor:
    def __init__(self, http: HttpExecutor, refs: TicketRefs, *, claim_lease: float = 60.0) -> None:
        self.http = http
        self.refs = refs
        self.claim_lease = claim_lease

    def prepare(self, action: Action, ctx: Mapping[str, Any], renderer: Renderer, secrets: Secrets) -> Prepared:
        config = action.config
        assert isinstance(config, TicketConfig)
        headers, shown_headers = _headers(config.headers, renderer, ctx, secrets)
        event = ctx["event"]
        kind = str(event.get("type") or "").removeprefix("incident.")
        real = {"system": config.system, "base": config.url.rstrip("/"), "headers": headers, "kind": kind,
                "reason": event.get("reason") or "", "incident": dict(ctx["incident"]), "config": config}
        shown = {"system": config.system, "base": real["base"], "headers": shown_headers, "kind": kind,
                 "incident": ctx["incident"].get("id")}
        return Prepared(real, shown, config.timeout)

    async def run(self, prepared: Prepared, attempt: Attempt) -> Outcome:
        r = prepared.real
        tickets = adapter(r["system"], settings_of(r["config"]))
        incident = r["incident"]
        iid, system, kind = incident["id"], r["system"], r["kind"]
        try:
            ref = await self.refs.ref(iid, system)
            if ref is None:
                if not await self.refs.claim(iid, system, attempt.run_id, self.claim_lease):
                    return Outcome(False, "another worker is creating this incident's ticket", retryable=True)
                ref = tickets.found(await self._send(r, tickets.find(iid), prepared.timeout))
                made = ref is None
                if ref is None:
                    ref = tickets.created(await self._send(r, tickets.create(incident), prepared.timeout))
                await self.refs.store(iid, system, ref)
                if kind in CREATING or kind not in UPDATE_KINDS:
                    return Outcome(True, f"ticket {ref} {'created' if made else 'found'}", output={"ticket": ref})
            elif kind in CREATING or kind not in UPDATE_KINDS:
                return Outcome(True, f"ticket {ref} exists", output={"ticket": ref})
            for call in tickets.update(ref, kind, incident, r["reason"]):
                await self._send(r, call, prepared.timeout)
            return Outcome(True, f"ticket {ref} updated ({kind})", output={"ticket": ref})
        except TicketFailed as exc:
            return exc.outcome
        except (KeyError, TypeError, ValueError) as exc:
            return Outcome(False, f"unexpected answer from {system}: {exc!r}")

    async def _send(self, r: Mapping[str, Any], call: Call, timeout: float) -> Any:
        url = r["base"] + call.path
        try:
            self.http.policy.check_url(url)
        except UrlRefused as exc:
            raise TicketFailed(Outcome(False, f"refused by the URL guard: {exc}")) from None
        headers = dict(r["headers"]) | {"Accept": "application/json"}
        data = None
        if call.body is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(call.body)
        try:
            async with self.http._client().request(call.method, url, headers=headers, data=data,
                                                   allow_redirects=False,
                                                   timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                text = (await response.content.read(1 << 20)).decode("utf-8", "replace")
                status = response.status
        except TimeoutError:
            raise TicketFailed(Outcome(False, f"timed out after {timeout}s", retryable=True)) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(getattr(exc, "os_error", None), UrlRefused):
                raise TicketFailed(Outcome(False, f"refused by the URL guard: {exc.os_error}")) from None
            raise TicketFailed(Outcome(False, f"connection failed: {exc}", retryable=True)) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise TicketFailed(Outcome(False, f"request failed: {exc!r}", retryable=True)) from None
        if not 200 <= status < 300:
            raise TicketFailed(Outcome(False, f"{call.method} {call.path.split('?')[0]}: HTTP {status}",
                                       retryable=retryable_status(status),
                                       output={"status": status, "response": truncate(text, 2000)}))
        try:
            return orjson.loads(text) if text.strip() else None
        except orjson.JSONDecodeError:
            raise TicketFailed(Outcome(False, f"{call.method} {call.path.split('?')[0]}: not JSON",
                                       output={"response": truncate(text, 2000)})) from None
