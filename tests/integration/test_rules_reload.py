"""Hot reload: a changed rule set is validated whole before it replaces the running one; a bad one is refused."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stormwatch.app import Worker
from tests.conftest import eventually
from tests.integration.helpers import body, metric, publish, stored_alerts, v2_alert
from tests.integration.test_shutdown import Serve

RULE = """
groups:
  - name: api-errors
    match: ['alertname="HighErrorRate"']
    group_by: [service]
    team: core
"""
BROKEN = """
groups:
  - name: api-errors
    match: ['alertname=="HighErrorRate"']
"""


@pytest.fixture
async def polling(clean, tmp_path) -> AsyncIterator[tuple[Worker, Path]]:
    """A worker polling an empty rules directory every 50 ms, after its first alert was stored (default rule)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    worker = Worker(clean.model_copy(update={"rules": str(rules), "rules_poll_seconds": 0.05}))
    await worker.start()
    try:
        await publish(clean, [body([v2_alert("HighErrorRate", "api", "pod-1")])])
        await eventually(lambda: stored_alerts(worker) >= 1)
        yield worker, rules
    finally:
        await worker.stop()


async def applied(worker: Worker, rules: Path) -> None:
    (rules / "api.yaml").write_text(RULE)
    await eventually(lambda: metric(worker, "stormwatch_rules_reloads_total", {"outcome": "applied"}) >= 1,
                     what="reload applied")


async def test_file_change_reloads_and_a_bad_set_is_refused(clean, polling):
    worker, rules = polling
    (first,) = await worker.store.list_incidents()
    assert first.rule == "default"

    await applied(worker, rules)
    assert metric(worker, "stormwatch_group_rules") == 1
    await publish(clean, [body([v2_alert("HighErrorRate", "api", "pod-2")])])
    await eventually(lambda: stored_alerts(worker) >= 2)
    rules_now = {i.rule for i in await worker.store.list_incidents()}
    assert rules_now == {"default", "api-errors"}

    (rules / "api.yaml").write_text(BROKEN)
    await eventually(lambda: metric(worker, "stormwatch_rules_reloads_total", {"outcome": "refused"}) >= 1,
                     what="reload refused")
    # the running set stays: a new alert still falls under api-errors
    await publish(clean, [body([v2_alert("HighErrorRate", "api", "pod-3")])])
    await eventually(lambda: stored_alerts(worker) >= 3)
    (api,) = [i for i in await worker.store.list_incidents() if i.rule == "api-errors"]
    assert api.alerts == 2


async def test_a_label_set_seen_before_a_reload_is_placed_by_the_new_rules(clean, polling):
    """The alert path memoises per label set (``Router.placed``): the same alert notified again after a reload is
    routed by the new rule set, not answered from what the previous one memoised."""
    worker, rules = polling
    await applied(worker, rules)
    await publish(clean, [body([v2_alert("HighErrorRate", "api", "pod-1")])])
    await eventually(lambda: stored_alerts(worker) >= 2)  # the same alert, stored again in the new rule's group
    assert {i.rule for i in await worker.store.list_incidents()} == {"default", "api-errors"}


async def test_sighup_reloads_a_running_service(clean, tmp_path: Path):
    rules = tmp_path / "rules"
    rules.mkdir()
    serve = Serve(clean, tmp_path / "serve.log", STORMWATCH_RULES=str(rules), STORMWATCH_RULES_POLL_SECONDS="0")
    await serve.start()
    try:
        await eventually(serve.ready, timeout=30, what="serve ready")
        assert await serve.metric("stormwatch_group_rules") == 0
        (rules / "api.yaml").write_text(RULE)
        assert serve.process is not None
        serve.process.send_signal(signal.SIGHUP)

        async def one_rule():
            return await serve.metric("stormwatch_group_rules") == 1

        await eventually(one_rule, what="SIGHUP reload")
        assert "rules_reloaded" in serve.events()
        assert await serve.terminate() == 0
    finally:
        await serve.kill()
