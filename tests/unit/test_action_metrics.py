"""Action metrics: recorded through the runner's observer, exposition checked by promtool."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from stormwatch.actions_app import MetricsObserver
from stormwatch.metrics import Metrics
from tests.unit.test_metrics import promtool_check


def test_action_metrics_record_and_pass_promtool() -> None:
    m = Metrics.create(CollectorRegistry())
    observer = MetricsObserver(m)
    observer.started("http")
    observer.finished("http", True, 0.2)
    observer.started("command")
    observer.finished("command", False, 1.5)
    for reason in ("rate_limit", "breaker", "dry_run", "approval_pending", "shadow"):
        observer.skipped("http", reason)
    get = m.registry.get_sample_value
    assert get("stormwatch_actions_started_total", {"type": "http"}) == 1
    assert get("stormwatch_actions_succeeded_total", {"type": "http"}) == 1
    assert get("stormwatch_actions_failed_total", {"type": "command"}) == 1
    assert get("stormwatch_actions_skipped_total", {"reason": "shadow"}) == 1
    assert get("stormwatch_action_duration_seconds_count", {"type": "command"}) == 1
    result = promtool_check(generate_latest(m.registry))
    assert result.returncode == 0, result.stdout + result.stderr
