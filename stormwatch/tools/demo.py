"""``stormwatch demo``: a database outage storm through a real worker on the local RabbitMQ and Redis.

A deploy of the orders database is recorded (a change event, through RabbitMQ); four minutes later the database
fails; every service that depends on it starts failing on every pod, in four
source formats (Alertmanager webhook, Prometheus API v2, PagerDuty Events v2, generic JSON); Prometheus
re-sends what is still firing; one sender emits a malformed alert. The symptoms wait 30s for a cause (the
example rules' holds), find the database alert and attach to its incident; then the database recovers and
most alerts resolve, but shipping's latency keeps firing: it stays a symptom of the database incident for the
rules' 5-minute recovery grace (a recovery does not page) and, still firing when the grace runs out, becomes an
incident of its own; then too the database incident resolves (its rule's 5-minute resolve hold). Before the
recovery, half the database incident's 5-minute respond target passes: its SLA warns, and an acknowledgement meets
it and stops its escalation before the secondary on-call is paged. The worker's
clock is simulated, so those minutes pass in a second; everything else is the real worker on the real RabbitMQ
and Redis. The demo prints the incidents, the deploy linked to the database incident as its probable cause, the
problem, the symptoms and the compression ratio.

The simulated clock starts as far in the past as the demo skips, so it reaches the real time when the storm ends:
every time in the kept incidents (``--keep``, ``--console``) is a real minute that just passed, never the future.
With ``--console`` the worker keeps running afterwards with a token made for the run, for the web console, until
Ctrl-C or SIGTERM; then it stops and removes the namespace like the plain demo.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from correlation.store.escalation_steps import escalation_of
from correlation.store.incident_commands import Command, IncidentCommands, read_incident
from correlation.store.sla import records_of
from events.changes import Change
from stormwatch.app import Worker
from stormwatch.auth import new_token, token_entry
from stormwatch.views import incidents_table
from stormwatch.config import Settings
from stormwatch.namespace import delete_namespace
from stormwatch.publisher import publish_many

DB_SERVICE = "orders-db"
DEPLOY_SUMMARY = "orders-db: upgrade to PostgreSQL 16.2"  # the demo's deploy, four minutes before the failure
DEPENDENTS = {  # service -> the format its monitoring sends
    "orders-api": "alertmanager_webhook",
    "checkout": "alertmanager_webhook",
    "payments": "alertmanager_v2",
    "inventory": "alertmanager_v2",
    "shipping": "generic",
    "notifications": "pagerduty",
}
ROUNDS = 4  # Prometheus re-sends firing alerts every evaluation interval
CAUSE_HOLD_SKIP = 31.0  # the symptoms' 30s hold for a cause runs out
# then half the database incident's 5-minute respond target has passed: its SLA warns, and alice acknowledges it,
# which meets the target and stops its escalation before the first step (5m: page the secondary)
SLA_WARN_SKIP = 2 * 60.0
ACKNOWLEDGED_BY = "alice"
RESOLVE_HOLD_SKIP = 5 * 60 + 1.0  # the database incident's 5m resolve hold and its symptoms' 5m recovery grace run out
CONSOLE_TOKEN_NAME = "demo-console"  # noqa: S105 - the name of a token, not one


@dataclass
class Storm:
    bodies: list[tuple[bytes, str]]  # (body, format): the outage
    valid_alerts: int
    bad_alerts: int
    recovery: list[tuple[bytes, str]]  # the database recovers; shipping's latency stays and is re-sent
    recovery_alerts: int


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _alert(alertname: str, service: str, instance: str, severity: str, start: float,
           end: float | None = None) -> dict[str, Any]:
    a: dict[str, Any] = {
        "labels": {"alertname": alertname, "service": service, "instance": instance, "severity": severity,
                   "cluster": "eu-1", "team": "payments" if service in ("payments", "checkout") else "core"},
        "annotations": {"summary": f"{alertname} on {instance}",
                        "runbook_url": f"https://runbooks.example.com/{alertname}"},
        "startsAt": _ts(start),
        "generatorURL": f"http://prometheus.example.com/graph?g0.expr={alertname}",
    }
    if end is not None:
        a["endsAt"] = _ts(end)
    return a


def _encode(fmt: str, alerts: list[dict[str, Any]], resolved: bool) -> list[bytes]:
    if fmt == "alertmanager_webhook":
        for a in alerts:
            a["status"] = "resolved" if resolved else "firing"
        return [orjson.dumps({
            "version": "4", "groupKey": "{}:{}", "status": "resolved" if resolved else "firing",
            "receiver": "stormwatch", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager.example.com", "truncatedAlerts": 0, "alerts": alerts,
        })]
    if fmt == "alertmanager_v2":
        return [orjson.dumps(alerts)]
    if fmt == "generic":
        for a in alerts:
            a["status"] = "resolved" if resolved else "firing"
        return [orjson.dumps(alerts)]
    # PagerDuty Events v2: one event per alert, dedup_key per alert
    out = []
    for a in alerts:
        labels = a["labels"]
        event: dict[str, Any] = {
            "routing_key": "R0UT1NGKEYDEMO0000000000000000000",
            "event_action": "resolve" if resolved else "trigger",
            "dedup_key": f"{labels['alertname']}/{labels['service']}/{labels['instance']}",
        }
        if not resolved:
            event["payload"] = {
                "summary": a["annotations"]["summary"], "source": labels["instance"],
                "severity": labels["severity"], "component": labels["service"], "class": labels["alertname"],
                "timestamp": a["startsAt"],
            }
        out.append(orjson.dumps(event))
    return out


def build_storm(scale: int = 1, now: float | None = None) -> Storm:
    now = time.time() if now is None else now
    start = now - 300
    pods = 8 * scale
    bodies: list[tuple[bytes, str]] = []
    valid = 0

    def add(fmt: str, alerts: list[dict[str, Any]], resolved: bool = False) -> None:
        nonlocal valid
        for b in _encode(fmt, alerts, resolved):
            bodies.append((b, fmt))
        valid += len(alerts)

    for _ in range(ROUNDS * scale):
        add("alertmanager_v2", [_alert("PostgresDown", DB_SERVICE, "db-1", "critical", start),
                                _alert("PostgresReplicationLag", DB_SERVICE, "db-2", "warning", start)])
        for service, fmt in DEPENDENTS.items():
            alerts = [_alert(name, service, f"{service}-{p}", sev, start + 20)
                      for name, sev in (("HighErrorRate", "critical"), ("HighLatency", "warning"))
                      for p in range(pods)]
            add(fmt, alerts)
    # one monitoring rule with a broken label name (an exporter writing Latin-1, so the name is not UTF-8):
    # dead-lettered with a reason, the rest still lands
    bad = _alert("DiskFull", "inventory", "inventory-0", "warning", start)
    bad["labels"]["mount_point"] = "/var"
    body = orjson.dumps([bad, _alert("DiskFull", "inventory", "inventory-1", "warning", start)])
    bodies.append((body.replace(b'"mount_point"', b'"mount\xe9point"'), "alertmanager_v2"))
    valid += 1
    outage, outage_valid = bodies, valid
    bodies, valid = [], 0
    # the database recovers: it and most symptoms resolve; shipping's latency stays (a separate problem) and
    # Prometheus re-sends it
    end = now - 10
    add("alertmanager_v2", [_alert("PostgresDown", DB_SERVICE, "db-1", "critical", start, end),
                            _alert("PostgresReplicationLag", DB_SERVICE, "db-2", "warning", start, end)])
    for service, fmt in DEPENDENTS.items():
        names = ("HighErrorRate",) if service == "shipping" else ("HighErrorRate", "HighLatency")
        alerts = [_alert(name, service, f"{service}-{p}", "critical" if name == "HighErrorRate" else "warning",
                         start + 20, end) for name in names for p in range(pods)]
        add(fmt, alerts, resolved=True)
    add(DEPENDENTS["shipping"], [_alert("HighLatency", "shipping", f"shipping-{p}", "warning", start + 20)
                                 for p in range(pods)])
    return Storm(outage, outage_valid, 1, bodies, valid)


class DemoClock:
    """The worker's clock: real time, started ``behind`` seconds in the past, plus the minutes the demo skips.

    With ``behind`` the total the demo skips, the clock never runs ahead of the real time and reaches it when the
    last skip is made: from then on it is the real clock."""

    def __init__(self, behind: float = 0.0) -> None:
        self.behind = behind
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.time() - self.behind + self.skipped


async def _timers_done(worker: Worker, kind: str) -> None:
    """Wait until no timer of a kind is left in the due index (fired and completed by the worker)."""
    assert worker.store is not None  # started
    while await worker.store.due.count([kind]):  # noqa: ASYNC110 - polls Redis, no event to wait on
        await asyncio.sleep(0.02)


async def _respond_warns_then_is_met(worker: Worker, clock: DemoClock) -> str:
    """Half the database incident's respond target passed: wait for its SLA warning (the due-time service fires it),
    then acknowledge it as a person would (the API's command and event) and wait for the record to be met and the
    escalation to stop. Returns what to print ("" when the rules give the incident no respond target)."""
    assert worker.redis is not None  # started
    redis, keys = worker.redis, worker.keyspace
    incident = await _database_incident(worker)
    if incident is None:
        return ""

    async def respond(*stages: str) -> Any:
        """The respond record once it is in one of ``stages``; None when the incident has none."""
        while True:  # polls Redis: the record moves when the worker's due-time loop fires it
            records = records_of((await read_incident(redis, keys, incident.id))[2])
            if records is not None:
                record = next((r for r in records if r.kind == "respond"), None)
                if record is None or record.stage in stages:
                    return record
            await asyncio.sleep(0.02)

    warned = await respond("warning", "breached")
    if warned is None:
        return ""
    commands = IncidentCommands(redis, keys, timeline_max=worker.settings.timeline_max_entries)
    acked_at = clock()
    result = await commands.execute(incident.id, Command("acknowledge", ACKNOWLEDGED_BY), acked_at)
    if result.event is not None:
        await worker.people_events().publish_events([result.event])
    met = await respond("met", "breached")
    while True:  # the acknowledgement brought the escalation's pending step forward: it records the stop
        escalation = escalation_of((await read_incident(redis, keys, incident.id))[2])
        if escalation is None or not escalation.running(worker.policies().named(escalation.policy)):
            break
        await asyncio.sleep(0.02)
    text = (f"{incident.id} respond SLA ({warned.policy}, {warned.target / 60:g}m): warned at "
            f"{warned.warnings[0]:.0%}, then {met.stage} by {ACKNOWLEDGED_BY}'s acknowledgement after "
            f"{_minutes(acked_at - incident.created_at)}")
    if escalation is not None:
        started = f"{escalation.fired} step run(s) started" if escalation.fired else "no step started"
        text += f"; escalation {escalation.policy} stopped, {started}"
    return text


async def _database_incident(worker: Worker) -> Any:
    assert worker.store is not None  # started
    return next((i for i in await worker.store.list_incidents(limit=1000) if i.rule == "database-outage"), None)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


async def _stored(registry: Any, total: float, progress: Progress, task: Any) -> None:
    while True:
        stored = registry.get_sample_value("stormwatch_batch_alerts_sum") or 0
        progress.update(task, completed=stored)
        if stored >= total:
            return
        await asyncio.sleep(0.05)


async def run_demo(settings: Settings, console: Console, *, keep: bool = False, scale: int = 1,
                   serve_console: bool = False) -> None:
    namespace = f"demo-{uuid.uuid4().hex[:8]}"
    # the example rules' actions (pages, kubectl cordon, an ITSM ticket) are recorded, never run: a demo acts on
    # nobody's systems, and with --console it stays up taking alerts
    # and it writes no history: a history database holds one namespace, and each demo run is a new one
    update: dict[str, Any] = {"namespace": namespace, "metrics_port": 0, "timer_poll_seconds": 0.05,
                              "actions_shadow": True, "history_enabled": False}
    token = ""
    if serve_console:
        token = new_token()  # printed once on stdout; the worker keeps only its digest
        entry = token_entry(CONSOLE_TOKEN_NAME, "respond", token)
        update["api_tokens"] = f"{settings.api_tokens.strip()},{entry}" if settings.api_tokens.strip() else entry
    settings = settings.model_copy(update=update)
    clock = DemoClock(behind=CAUSE_HOLD_SKIP + SLA_WARN_SKIP + RESOLVE_HOLD_SKIP)
    worker = Worker(settings, clock=clock)
    await worker.start()
    registry = worker.metrics.registry
    port = worker.ops.bound_port if worker.ops else None
    console.print(f"[bold]Stormwatch demo[/bold]  namespace [cyan]{namespace}[/cyan]  "
                  f"metrics http://127.0.0.1:{port}/metrics  (rules: {settings.rules}, actions: shadow)")
    storm = build_storm(scale, now=clock())
    alerts_in = storm.valid_alerts + storm.bad_alerts + storm.recovery_alerts
    console.print(f"orders-db fails: publishing {len(storm.bodies)} messages holding "
                  f"{storm.valid_alerts + storm.bad_alerts} alerts from {len(DEPENDENTS) + 1} services in 4 formats, "
                  f"then its recovery: {len(storm.recovery)} messages holding {storm.recovery_alerts} alerts")
    started = time.perf_counter()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            sent_task = progress.add_task("published", total=len(storm.bodies) + len(storm.recovery))
            done_task = progress.add_task("correlated", total=storm.valid_alerts + storm.recovery_alerts)
            assert worker.topology is not None and worker.changes is not None  # started
            # the deploy minutes before the database fails: linked to its incident as the probable cause
            deploy = Change(id="demo-deploy-1", service=DB_SERVICE, summary=DEPLOY_SUMMARY, at=clock() - 240,
                            kind="deploy", environment="prod", source="demo-ci")
            await worker.changes.publish(orjson.dumps(deploy.body()), "change", f"chg:{DB_SERVICE}|{deploy.id}")
            await _changes_stored(registry)
            exchange = worker.topology.alerts
            for b, fmt in storm.bodies:
                await publish_many(exchange, [b], routing_key=f"demo.{fmt}")
                progress.advance(sent_task)
            await _stored(registry, storm.valid_alerts, progress, done_task)
            clock.skipped += CAUSE_HOLD_SKIP
            await _timers_done(worker, "hold")
            clock.skipped += SLA_WARN_SKIP
            respond = await _respond_warns_then_is_met(worker, clock)
            for b, fmt in storm.recovery:
                await publish_many(exchange, [b], routing_key=f"demo.{fmt}")
                progress.advance(sent_task)
            await _stored(registry, storm.valid_alerts + storm.recovery_alerts, progress, done_task)
            clock.skipped += RESOLVE_HOLD_SKIP  # the clock is the real one from here on
            await _timers_done(worker, "resolve")
            await _timers_done(worker, "hold")  # shipping's latency, still firing when the grace ran out, pages
        elapsed = time.perf_counter() - started
        await _report(worker, console, alerts_in, elapsed)
        if respond:
            console.print(respond, highlight=False)
        if serve_console:
            await _serve_console(settings, console, port, token)
        elif keep:
            console.print(f"kept: STORMWATCH_NAMESPACE={namespace} stormwatch incidents list", highlight=False)
        else:
            console.print("see it in the web console: [bold]stormwatch demo --console[/bold] (the service stays up "
                          "with these incidents and prints the console URL and a token)", highlight=False)
    finally:
        await worker.stop()
        if not keep:
            await delete_namespace(settings)


async def _serve_console(settings: Settings, console: Console, port: int | None, token: str) -> None:
    """Print where the console is and the run's token, then wait for Ctrl-C or SIGTERM."""
    host = settings.http_address[0]
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a comparison
    url = f"http://{host}:{port}/console/"
    console.print(f"console: {url}", highlight=False, soft_wrap=True)
    console.print(f"token: {token}", highlight=False, soft_wrap=True)
    console.print(f"The service keeps running with these incidents: open the console and sign in with the token "
                  f"(role respond, named {CONSOLE_TOKEN_NAME}, valid only while this demo runs); the CLI too: "
                  f"STORMWATCH_API_URL=http://{host}:{port} STORMWATCH_API_TOKEN=<the token> stormwatch incidents "
                  f"list. Ctrl-C stops it and removes namespace {settings.namespace}.", highlight=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    console.print(f"stopping: removing namespace {settings.namespace}", highlight=False)


async def _changes_stored(registry: Any) -> None:
    while True:  # polled like the alerts (_stored): the metric is the worker's own record
        if registry.get_sample_value("stormwatch_changes_total", {"outcome": "stored"}):
            return
        await asyncio.sleep(0.02)


async def _report(worker: Worker, console: Console, alerts_in: int, elapsed: float) -> None:
    registry = worker.metrics.registry
    assert worker.store is not None and worker.pipeline is not None  # started
    incidents = await worker.store.list_incidents(limit=1000)
    console.print(incidents_table([i.public() for i in incidents], title=f"{len(incidents)} incidents"))
    links = worker.pipeline.links
    for incident in incidents:
        symptoms = await links.symptoms(incident.id)
        if symptoms:
            by_service: dict[str, int] = {}
            for sym in symptoms:
                service = sym["labels"].get("service", "?")
                by_service[service] = by_service.get(service, 0) + 1
            console.print(f"{incident.id} explains {len(symptoms)} alerts of other groups (symptoms that did not "
                          f"page): " + ", ".join(f"{svc} {n}" for svc, n in sorted(by_service.items())),
                          highlight=False)
    assert worker.changes is not None  # started
    for incident in incidents:
        for change in await worker.changes.store.linked(incident.id):
            console.print(f"{incident.id} probable cause: {change['summary']} ({change['reason']})", highlight=False)
    for problem in await links.list_problems():
        console.print(f"problem {problem.id}: {problem.title} ({problem.status}; services "
                      f"{', '.join(problem.why.get('services', []))})", highlight=False)
    dup = registry.get_sample_value("stormwatch_alerts_duplicate_total") or 0
    rejected = sum(
        s.value for m in registry.collect() if m.name == "stormwatch_alerts_rejected"
        for s in m.samples if s.name.endswith("_total")
    )
    open_now = sum(1 for i in incidents if i.status != "resolved")
    console.print(
        f"[bold]{alerts_in} alerts in -> {len(incidents)} incidents out: compression "
        f"{alerts_in / max(1, len(incidents)):.1f}x[/bold]  ({int(dup)} duplicates, {int(rejected)} dead-lettered "
        f"with a reason, {len(incidents) - open_now} resolved, {open_now} still open) in {elapsed:.2f}s "
        f"({(CAUSE_HOLD_SKIP + SLA_WARN_SKIP + RESOLVE_HOLD_SKIP) / 60:.0f} simulated minutes skipped)"
    )
