"""Metrics against an injected registry, their exposition checked by promtool; the ops HTTP endpoint for real."""

from __future__ import annotations

import dataclasses

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from correlation.store.pipeline import BatchReport
from stormwatch.http import OpsServer
from stormwatch.app import WorkerObserver
from stormwatch.metrics import Metrics, SourceLabel


def report(**overrides: object) -> BatchReport:
    """A batch report as the correlation pipeline returns it."""
    values: dict[str, object] = dict(
        duplicates=3, stale=1, opened=["INC-a-1", "INC-b-1"], resolved=["INC-c-4"], open_incidents=5,
        replayed=2, conflicts=4, events=7, muted=2,
    )
    return BatchReport(**(values | overrides))  # type: ignore[arg-type]


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def exercised() -> Metrics:
    """Metrics with every family holding samples, labelled ones included."""
    m = Metrics.create(CollectorRegistry())
    m.alerts_received.labels(source="alertmanager", format="alertmanager").inc(3)
    m.alerts_rejected.labels(reason="invalid_json").inc()
    m.amqp_errors.labels(operation="publish").inc()
    m.redis_errors.inc()
    m.due_fired.labels(kind="expire").inc()
    m.redeliveries.inc()
    m.crashes.inc()
    m.ready.set(1)
    m.record_batch(10, 25, report(), [0.002, 0.03, 1.5])
    return m


def test_create_twice_on_fresh_registries_does_not_collide() -> None:
    first = Metrics.create(CollectorRegistry())
    second = Metrics.create(CollectorRegistry())
    default = Metrics.create()

    first.alerts_duplicate.inc()

    assert value(first, "stormwatch_alerts_duplicate_total") == 1
    assert value(second, "stormwatch_alerts_duplicate_total") == 0
    assert len({id(first.registry), id(second.registry), id(default.registry)}) == 3


def test_create_on_the_same_registry_twice_is_refused() -> None:
    registry = CollectorRegistry()
    Metrics.create(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics.create(registry)


def test_record_batch_updates_counters_gauges_and_histograms() -> None:
    m = Metrics.create(CollectorRegistry())

    m.record_batch(10, 25, report(), [0.002, 0.03, 1.5])
    m.record_batch(1, 1, report(opened=[], resolved=["x", "y"], open_incidents=2), [])

    assert value(m, "stormwatch_alerts_duplicate_total") == 6
    assert value(m, "stormwatch_alerts_stale_total") == 2
    assert value(m, "stormwatch_incidents_opened_total") == 2
    assert value(m, "stormwatch_incidents_resolved_total") == 3
    assert value(m, "stormwatch_incidents_open") == 2  # a gauge: the latest count, not a sum
    assert value(m, "stormwatch_replays_total") == 4
    assert value(m, "stormwatch_write_conflicts_total") == 8
    assert value(m, "stormwatch_events_published_total") == 14
    assert value(m, "stormwatch_batch_messages_count") == 2
    assert value(m, "stormwatch_batch_messages_sum") == 11
    assert value(m, "stormwatch_batch_alerts_sum") == 26
    assert value(m, "stormwatch_processing_latency_seconds_count") == 3
    assert value(m, "stormwatch_processing_latency_seconds_bucket", le="0.005") == 1
    assert value(m, "stormwatch_processing_latency_seconds_sum") == pytest.approx(1.532)


def test_incidents_opened_are_counted_by_priority() -> None:
    m = Metrics.create(CollectorRegistry())

    m.record_batch(2, 2, report(opened_priorities={"P1": 1, "none": 1}), [])
    m.record_batch(1, 1, report(opened_priorities={"P1": 2}), [])

    assert value(m, "stormwatch_incidents_opened_by_priority_total", priority="P1") == 3
    assert value(m, "stormwatch_incidents_opened_by_priority_total", priority="none") == 1


def test_record_batch_without_a_report_only_observes_sizes_and_latency() -> None:
    m = Metrics.create(CollectorRegistry())

    m.record_batch(4, 0, None, [0.1])

    assert value(m, "stormwatch_batch_messages_count") == 1
    assert value(m, "stormwatch_processing_latency_seconds_count") == 1
    assert value(m, "stormwatch_alerts_duplicate_total") == 0
    assert value(m, "stormwatch_incidents_open") == 0


def test_a_senders_source_is_a_closed_set_of_label_values() -> None:
    metrics = Metrics.create()
    observer = WorkerObserver(metrics, source_label=SourceLabel(["nagios"]))
    for n in range(500):
        observer.received(f"attacker-{n}", "generic", 1)
    for source in ("nagios", "alertmanager", "prometheus", "pagerduty", "generic"):
        observer.received(source, "generic", 1)
    sources = {s.labels["source"] for m in metrics.registry.collect() if m.name == "stormwatch_alerts_received"
               for s in m.samples if s.name.endswith("_total")}
    assert sources == {"other", "nagios", "alertmanager", "prometheus", "pagerduty", "generic"}
    assert metrics.registry.get_sample_value(
        "stormwatch_alerts_received_total", {"source": "other", "format": "generic"}) == 500


def test_every_metric_name_starts_with_stormwatch() -> None:
    families = list(exercised().registry.collect())

    assert len(families) == len(dataclasses.fields(Metrics)) - 1  # every declared metric but the registry field
    for family in families:
        assert family.name.startswith("stormwatch_"), family.name
        assert family.documentation, family.name
        for sample in family.samples:
            assert sample.name.startswith("stormwatch_"), sample.name


def test_counters_end_in_total() -> None:
    text = generate_latest(exercised().registry).decode()
    counters = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE") and line.endswith("counter")]
    assert counters and all(name.endswith("_total") for name in counters), counters


# --- promtool -----------------------------------------------------------------------------------------


def promtool_check(exposition: bytes) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        message = "promtool is not on PATH (apt-get install prometheus, or a release binary)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run([exe, "check", "metrics"], input=exposition.decode(), capture_output=True, text=True,
                          timeout=30)


def test_exposition_passes_promtool_check_metrics() -> None:
    exposition = generate_latest(exercised().registry)

    result = promtool_check(exposition)

    problems = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"promtool check metrics exited {result.returncode}:\n{problems}"


def test_promtool_check_is_not_vacuous() -> None:
    result = promtool_check(b"# HELP foo x\n# TYPE foo counter\nfoo 1\n")

    assert result.returncode != 0
    assert "_total" in result.stdout + result.stderr


# --- the ops endpoint ---------------------------------------------------------------------------------


async def http(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            .encode() + body
        )
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=5)  # Connection: close: the server closes after one response
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
    assert int(headers["content-length"]) == len(payload)
    return int(status_line.split(" ")[1]), headers, payload


class Readiness:
    def __init__(self) -> None:
        self.checks = {"redis": True, "rabbitmq": True, "consumer": True}
        self.calls = 0

    async def __call__(self) -> dict[str, bool]:
        self.calls += 1
        return dict(self.checks)


@pytest.fixture
async def ops() -> AsyncIterator[tuple[OpsServer, Readiness]]:
    readiness = Readiness()
    server = OpsServer(exercised().registry, readiness, "127.0.0.1", 0)
    await server.start()
    try:
        yield server, readiness
    finally:
        await server.stop()


async def test_ops_server_serves_metrics(ops: tuple[OpsServer, Readiness]) -> None:
    server, _ = ops
    assert server.bound_port > 0

    status, headers, body = await http(server.bound_port, "GET", "/metrics")

    assert status == 200
    assert headers["content-type"] == CONTENT_TYPE_LATEST
    assert b"stormwatch_alerts_received_total" in body
    assert b"# TYPE stormwatch_" in body

    status, _, _ = await http(server.bound_port, "GET", "/metrics?name[]=x")
    assert status == 200


async def test_ops_server_healthz(ops: tuple[OpsServer, Readiness]) -> None:
    server, readiness = ops

    status, _, body = await http(server.bound_port, "GET", "/healthz")

    assert (status, body) == (200, b"ok\n")
    assert readiness.calls == 0  # liveness never waits on dependencies


async def test_ops_server_readyz_follows_the_checks(ops: tuple[OpsServer, Readiness]) -> None:
    server, readiness = ops

    status, _, body = await http(server.bound_port, "GET", "/readyz")
    assert status == 200
    assert body.decode().splitlines() == ["redis: ok", "rabbitmq: ok", "consumer: ok"]

    readiness.checks["rabbitmq"] = False
    status, _, body = await http(server.bound_port, "GET", "/readyz")
    assert status == 503
    assert "rabbitmq: not ready" in body.decode()
    assert "redis: ok" in body.decode()

    readiness.checks["rabbitmq"] = True
    status, _, _ = await http(server.bound_port, "GET", "/readyz")
    assert status == 200


async def test_ops_server_unknown_path_and_wrong_method(ops: tuple[OpsServer, Readiness]) -> None:
    server, _ = ops

    assert (await http(server.bound_port, "GET", "/nope"))[0] == 404
    assert (await http(server.bound_port, "POST", "/metrics", b"x=1"))[0] == 405
    assert (await http(server.bound_port, "POST", "/readyz"))[0] == 405


async def test_ops_server_answers_garbage_with_400_and_keeps_serving(ops: tuple[OpsServer, Readiness]) -> None:
    server, _ = ops
    reader, writer = await asyncio.open_connection("127.0.0.1", server.bound_port)
    writer.write(b"\xff\r\n\r\n")
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    await writer.wait_closed()

    assert raw.startswith(b"HTTP/1.1 400 ")
    assert (await http(server.bound_port, "GET", "/healthz"))[0] == 200


def test_series_with_label_values_known_in_advance_exist_from_the_start():
    """An alert on increase() needs a 0 before the first event: every AMQP operation, priority and SLA kind is
    exposed at 0 before anything happened."""
    registry = CollectorRegistry()
    Metrics.create(registry)
    text = generate_latest(registry).decode()
    for priority in ("P1", "P2", "P3", "P4", "P5", "none"):
        assert f'stormwatch_incidents_opened_by_priority_total{{priority="{priority}"}} 0.0' in text
        for kind in ("respond", "resolve"):
            assert f'stormwatch_sla_warnings_total{{kind="{kind}",priority="{priority}"}} 0.0' in text
    assert 'stormwatch_amqp_errors_total{operation="publish"} 0.0' in text
