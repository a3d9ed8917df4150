"""A worker SIGKILLed after Request Tracker created the incident's ticket and before it stored the reference: the
incident still gets exactly one ticket (issue 21, docs/service-desk.md).

A real Request Tracker (``tests/integration/request_tracker.py``), the real RabbitMQ and Redis. The victim, a real
``stormwatch serve`` process with the test-only hook ``STORMWATCH_TEST_HOLD_TICKET_STORE``
(``stormwatch/fault_hooks.py``), runs the ``ticket`` action of a new incident: RT creates the ticket, and the
worker hangs where it would store the reference, holding the run's claim and the incident's ticket claim. It is
SIGKILLed there: RT has a ticket the incident does not know. A second worker (in process, with the API) receives the
unacked ``created`` event again, and the incident is acknowledged: the ``acknowledged`` run finds no reference and,
once the dead worker's ticket claim has lapsed (``STORMWATCH_TICKET_CLAIM_LEASE_SECONDS=2``; retried while it holds),
claims it, asks RT for the ticket carrying the incident id, stores the victim's ticket and comments on it; the taken-over ``created`` run finds the reference. One
ticket in RT, its reference on the incident.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stormwatch.config import Settings
from tests.conftest import eventually
from tests.faults.conftest import require_tools
from tests.faults.test_due_faults import CheckoutServe, _logged
from tests.integration.actions_support import action_settings, settled
from tests.integration.api_helpers import RESPOND, start_api
from tests.integration.helpers import body, publish, v2_alert
from tests.integration.request_tracker import RequestTracker, request_tracker

LEASE = 2.0  # STORMWATCH_TICKET_CLAIM_LEASE_SECONDS
MARGIN = 1.0  # STORMWATCH_ACTIONS_CLAIM_MARGIN_SECONDS: the created run's own claim is 2 + 5 + 1 s
RULES = """
actions:
  - name: rt-ticket
    type: ticket
    config: {{system: rt, url: "{url}", queue: General, user: root, timeout: 2s,
              headers: {{Authorization: {{secret_env: TEST_RT_AUTH}}}}}}
    retry: {{attempts: 10, backoff: 1s, max_backoff: 1s}}
groups:
  - name: database
    match: ['alertname="PostgresDown"']
    group_by: [service]
    actions:
      - {{action: rt-ticket, on: [created, acknowledged]}}
"""


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[RequestTracker]:
    async for server in request_tracker(tmp_path):
        yield server


async def test_worker_sigkilled_between_ticket_created_and_reference_stored(
        clean: Settings, tmp_path: Path, rt: RequestTracker, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tools()
    monkeypatch.setenv("TEST_RT_AUTH", rt.auth)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "tickets.yaml").write_text(RULES.format(url=rt.url))
    port = rt.url.rsplit(":", 1)[1]
    victim = CheckoutServe(
        clean, tmp_path / "victim.log", STORMWATCH_RULES=str(rules), STORMWATCH_RULES_POLL_SECONDS="0",
        STORMWATCH_BATCH_WAIT_MS="1", STORMWATCH_ACTIONS_POLL_SECONDS="0.05", STORMWATCH_ACTIONS_FLEET_MAX="0",
        STORMWATCH_ACTIONS_ALLOWED_SCHEMES="http", STORMWATCH_ACTIONS_ALLOWED_PORTS=port,
        STORMWATCH_ACTIONS_ALLOWED_NETWORKS="127.0.0.0/8", STORMWATCH_ACTIONS_CLAIM_MARGIN_SECONDS=str(MARGIN),
        STORMWATCH_TICKET_CLAIM_LEASE_SECONDS=str(LEASE), STORMWATCH_TEST_HOLD_TICKET_STORE="1")
    try:
        await victim.start()
        await eventually(victim.ready, timeout=30, what="the victim ready")
        await publish(clean, [body([v2_alert("PostgresDown", "orders-db", "db-1")])])
        held = await eventually(lambda: _logged(victim, "test_holding_ticket_store"), timeout=30,
                                what="the victim holding the reference of the ticket RT created")
        iid, ref = held["incident"], str(held["ref"])
        assert victim.process is not None
        victim.process.kill()  # SIGKILL: the ticket is in RT, its reference nowhere in Stormwatch
        await victim.process.wait()
        assert [str(t["id"]) for t in await rt.tickets_about(iid)] == [ref]

        settings = action_settings(clean, rules, ticket_claim_lease_seconds=LEASE,
                                   actions_claim_margin_seconds=MARGIN)
        async for api in start_api(settings):
            keys = api.worker.keyspace
            assert await api.worker.redis.hget(keys.incident(iid), "ticket") is None
            claim_left = await api.worker.redis.pttl(keys.ticket_claim(iid, "rt"))
            # the dead worker's claim, seconds old: leased for the setting (or already lapsed), not the default 60 s
            assert claim_left <= LEASE * 1000
            answer = await api.post(f"/api/v1/incidents/{iid}/acknowledge", {}, token=RESPOND)
            assert answer.status_code == 200, answer.text
            runs = {r["trigger"]: r for r in await settled(api.worker, 2, iid, what="both runs settled")}
            assert runs["acknowledged"]["state"] == "succeeded", runs
            assert runs["acknowledged"]["detail"] == f"ticket {ref} updated (acknowledged)"
            # the taken-over created run (same run id, after its own claim's lease) finds the reference stored
            assert runs["created"]["state"] == "succeeded" and "created" not in runs["created"]["detail"], runs
            assert (await api.get(f"/api/v1/incidents/{iid}")).json()["ticket"] == f"rt:{ref}"
            assert await api.worker.redis.get(keys.ticket_incident("rt", ref)) == iid.encode()
        assert [str(t["id"]) for t in await rt.tickets_about(iid)] == [ref]
        history = await rt.get(f"/REST/2.0/ticket/{ref}/history?fields=Type,Content")
        assert [t for t in history["items"] if t.get("Type") == "Comment"], "the acknowledgement's comment"
    finally:
        await victim.kill()
