"""Helpers for action tests: a real HTTP endpoint on loopback, workers with rules, alerts in, runs out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import orjson
from aiohttp import web

from ingest.topology import Names
from stormwatch.app import Worker
from stormwatch.config import Settings
from tests.conftest import eventually


@dataclass
class Hook:
    """An HTTP server on 127.0.0.1 (port 0) recording every request; ``script`` sets responses per path."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses, last one repeats
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> Hook:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append({"path": request.path, "method": request.method, "headers": dict(request.headers),
                              "body": body.decode()})
        statuses = self.script.get(request.path, [200])
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        if 300 <= status < 400:
            return web.Response(status=status, headers={"Location": "/redirected"})
        # echo the Authorization header back: what the audit keeps must be scrubbed of it
        return web.Response(status=status, text=f"seen auth={request.headers.get('Authorization', '')}")


def action_settings(settings: Settings, rules_dir: Path, **overrides: Any) -> Settings:
    """Loopback allowed for the test's own server; due work polled fast; no fleet limit unless asked."""
    return settings.model_copy(update={
        "rules": str(rules_dir), "actions_allowed_schemes": ("http",), "actions_allowed_ports": (),
        "actions_allowed_networks": ("127.0.0.0/8",), "actions_poll_seconds": 0.02, "actions_fleet_max": 0,
        "timer_poll_seconds": 0.05, **overrides})


def alert(alertname: str, resolved: bool = False, **labels: str) -> dict[str, Any]:
    a: dict[str, Any] = {"labels": {"alertname": alertname, "severity": "critical", **labels},
                         "annotations": {"summary": f"{alertname} is broken"}, "startsAt": "2026-11-21T10:00:00Z"}
    if resolved:
        a["endsAt"] = "2026-11-21T10:05:00Z"
    return a


async def runs(worker: Worker, incident: str | None = None) -> list[dict[str, str]]:
    return await worker.actions.state.runs(incident)


async def settled(worker: Worker, count: int, incident: str | None = None, what: str = "runs settled"
                  ) -> list[dict[str, str]]:
    async def check() -> list[dict[str, str]] | None:
        found = await runs(worker, incident)
        done = [r for r in found if r.get("state") not in ("running", "approved", "retrying")]
        if len(done) < count:
            return None
        # a run's audit and timeline entries are written just after its settled record: wait for those too
        audited = {(e.get("run_id"), e.get("outcome")) for e in await worker.actions.state.audit(100_000)}
        return found if all((r["run_id"], r["state"]) in audited for r in done) else None

    return await eventually(check, what=what)


async def publish_event(settings: Settings, body: bytes, routing_key: str = "incident.created",
                        message_id: str | None = None, to_runner: bool = True) -> None:
    """Publish an event body as a worker does: under its type, and BCC'd to the action runner (to_runner)."""
    from events.names import RUNNER_ROUTE

    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(Names(settings.namespace).events_exchange)
        headers = {"BCC": [RUNNER_ROUTE]} if to_runner else None
        await exchange.publish(aio_pika.Message(body, message_id=message_id, headers=headers), routing_key=routing_key)
    finally:
        await connection.close()


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
