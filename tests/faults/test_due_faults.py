"""A worker SIGKILLed while it holds a due SLA timer: another worker fires the checkpoint after the lease, once.

docs/service-levels.md promises it ("A worker that dies holding the timer loses it when its lease runs out: another
claims it and decides again"). Two real ``stormwatch serve`` processes on the real RabbitMQ and Redis: the first
claims the incident's ``sla`` timer when its warning falls due and, with the test-only hook
``STORMWATCH_TEST_HOLD_DUE_SLA`` (``stormwatch/fault_hooks.py``), holds the claim without deciding; it is SIGKILLed
there. The second, started after the kill, claims the timer once the lease (``STORMWATCH_TIMER_LEASE_SECONDS=2``)
has run out and fires the warning: exactly one ``incident.sla_warning`` event, one timeline entry, the record
warned once.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from correlation.store.keyspace import Keyspace
from correlation.store.sla import SlaStore
from kv.due import DueIndex
from stormwatch.config import Settings
from tests.conftest import eventually
from tests.faults.conftest import require_tools
from tests.integration.api_helpers import EventTap
from tests.integration.helpers import body, publish, v2_alert
from tests.integration.test_shutdown import Serve

ROOT = Path(__file__).resolve().parents[2]
LEASE = 2.0
RULES = """
groups:
  - name: database
    match: ['alertname="PostgresDown"']
    group_by: [service]
    priority: {impact: high, urgency: high}
service_levels:
  - name: database
    targets: {P1: {respond: 60s}}
    warnings: [0.02]   # 1.2 s after the incident opened; the breach a minute later, far after the test
"""


class CheckoutServe(Serve):
    """``stormwatch serve`` of this checkout (``python -m`` from its root), whichever checkout installed the script."""

    async def start(self) -> Serve:
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "stormwatch.cli", "serve", *self.args, env=self.env, cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)
        return self


def _logged(worker: Serve, event: str) -> dict[str, Any] | None:
    for line in worker.output().splitlines():
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict) and doc.get("event") == event:
            return doc
    return None


async def test_worker_sigkilled_holding_a_due_sla_timer(clean: Settings, tmp_path: Path) -> None:
    require_tools()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "sla.yaml").write_text(RULES)
    env = {"STORMWATCH_RULES": str(tmp_path / "rules"), "STORMWATCH_RULES_POLL_SECONDS": "0",
           "STORMWATCH_TIMER_POLL_SECONDS": "0.1", "STORMWATCH_TIMER_LEASE_SECONDS": str(LEASE),
           "STORMWATCH_BATCH_WAIT_MS": "1", "STORMWATCH_ACTIONS_ENABLED": "false"}
    victim = CheckoutServe(clean, tmp_path / "victim.log", **env, STORMWATCH_TEST_HOLD_DUE_SLA="1")
    other = CheckoutServe(clean, tmp_path / "other.log", **env)
    tap: EventTap | None = None
    try:
        await victim.start()
        await eventually(victim.ready, timeout=30, what="the victim ready")
        tap = await EventTap(clean).start()
        await publish(clean, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
        held = await eventually(lambda: _logged(victim, "test_holding_sla_timer"), timeout=30,
                                what="the victim holding the sla timer at its warning")
        assert victim.process is not None
        victim.process.kill()  # SIGKILL, holding the claim
        await victim.process.wait()
        incident = held["incident"]
        await other.start()
        await eventually(other.ready, timeout=30, what="the other worker ready")

        async def warnings() -> list[dict[str, Any]]:
            await tap.types()  # type: ignore[union-attr]
            return [e for e in tap.seen if e["type"] == "incident.sla_warning"]  # type: ignore[union-attr]
        fired = await eventually(warnings, timeout=30, what="the warning fired by the other worker")
        # fired by the other worker, after the lease the victim's claim held it for
        assert _logged(other, "sla_warning") is not None and _logged(victim, "sla_warning") is None
        assert fired[0]["at"] >= float(held["claimed"]) and fired[0]["incident"]["id"] == incident
        redis = SlaStore(Redis.from_url(clean.redis_url), Keyspace(clean.namespace), timeline_max=100)
        try:
            # exactly once: the other worker completed the timer and scheduled the next checkpoint (the breach);
            # the warning is written as crossed, so no claim can cross it again
            (respond,) = await redis.records(incident)
            due = DueIndex(redis.redis, Keyspace(clean.namespace))
            await eventually(lambda: _at(due, incident, respond.started + 60.0), timeout=30,
                             what="the sla timer rescheduled at the breach")
            assert len(await warnings()) == 1
            assert respond.warned == 1 and respond.stage == "warning"
            timeline = await redis.redis.lrange(Keyspace(clean.namespace).incident_timeline(incident), 0, -1)
            assert [orjson.loads(e)["kind"] for e in timeline].count("sla_warning") == 1
        finally:
            await redis.redis.aclose()
    finally:
        if tap is not None:
            await tap.close()
        await victim.kill()
        await other.kill()


async def _at(due: DueIndex, incident: str, when: float) -> bool:
    return await due.due_at("sla", incident) == when
