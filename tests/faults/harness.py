"""The fault suite's shared harness: a known stream in, real ``stormwatch serve`` workers, then an exact account.

A stream is ``messages`` bodies of 1-3 alerts over GROUPS groups x INSTANCES instances with a stable message id
each, so every fingerprint's notification count and every group are known in advance. Workers are real
``stormwatch serve`` subprocesses in the test's namespace, with a rule that groups the stream by
(alertname, service) and starts a command action on ``incident.created`` which appends the incident id and the
run id to a ledger file. After the fault, ``settle()`` waits for quiescence (every alert stored, both queues with
nothing ready or unacked, every incident's action in the ledger) and ``account()`` checks Redis:

* per fingerprint, the stored count equals the notifications sent ("lost": missing or fewer; "duplicated": more);
* one incident per group (the group's incident counter is 1, the incident index holds GROUPS ids);
* each incident's action ran as exactly one run (one run id per incident; where a scenario SIGKILLs workers the
  run taken over may execute again under the same run id: at least once, see ``Account.problems``).
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
from redis.asyncio import Redis

from correlation.core.model import AlertState
from ingest.topology import Names
from stormwatch.config import Settings
from stormwatch.publisher import alert_message
from tests.conftest import eventually
from tests.faults.servers import queue_counts
from tests.integration.helpers import body, v2_alert
from tests.integration.test_shutdown import Serve

GROUPS, INSTANCES = 20, 10
PREFETCH, BATCH = 20, 10  # small: a fault always finds messages in flight
GROUP_RULE = """
groups:
  - name: faults
    match: ['alertname=~"Fault.*"']
    group_by: [alertname, service]
    actions: [record]
"""  # the stream's one group rule, starting the action ``record`` (RULES defines it; a scenario may redefine it)
RULES = """
actions:
  - name: record
    type: command
    config:
      argv: ["/bin/sh", "-c", 'echo "$INCIDENT $STORMWATCH_RUN_ID" >> "$LEDGER"']
      env: {{INCIDENT: "{{{{ incident.id }}}}", LEDGER: "{ledger}"}}
      timeout: 5s
    retry: {{attempts: 1, max_backoff: 1s}}
""" + GROUP_RULE


@dataclass
class Stream:
    bodies: list[bytes]
    ids: list[str]
    expected: Counter  # (service, instance) -> notifications sent

    @property
    def alerts(self) -> int:
        return sum(self.expected.values())


def make_stream(namespace: str, messages: int, seed: int) -> Stream:
    rng = random.Random(seed)
    every = [(g, i) for g in range(GROUPS) for i in range(INSTANCES)]
    bodies, expected = [], Counter()
    for n in range(messages):
        chosen = rng.sample(every, rng.randint(1, 3))
        if n < GROUPS:  # every group appears early
            chosen[0] = (n, chosen[0][1])
            chosen = list(dict.fromkeys(chosen))
        bodies.append(body(v2_alert(f"Fault{g % 5}", f"svc-{g}", f"pod-{i}") for g, i in chosen))
        expected.update((f"svc-{g}", f"pod-{i}") for g, i in chosen)
    return Stream(bodies, [f"{namespace}-m{n}" for n in range(messages)], expected)


@dataclass
class Account:
    sent: int
    processed: int
    lost: int
    duplicated: int
    incidents_per_group: dict[str, int]
    action_runs: Counter
    incidents: list[str]
    run_ids: dict[str, Counter] = field(default_factory=dict)  # incident -> run id -> ledger lines

    @property
    def repeated_runs(self) -> int:
        """Ledger lines that repeat a run id already there: the same run executed again."""
        return sum(n - 1 for ids in self.run_ids.values() for n in ids.values())

    def problems(self, groups: int = GROUPS, *, worker_killed: bool = False) -> list[str]:
        """What is wrong with the account. A worker SIGKILLed while its command ran (after the command wrote its
        line, before the run's record) has its run executed again by the worker taking it over, under the same
        run id: at least once, as docs/actions.md states, and what ``STORMWATCH_RUN_ID`` is for. So where a
        scenario kills workers (``worker_killed``) a run id may appear twice; a second run id for one incident is
        a duplicate action in every scenario, and a repeated one is where no worker was killed."""
        out = []
        if self.lost or self.duplicated:
            out.append(f"{self.lost} alerts lost, {self.duplicated} duplicated")
        wrong = {g: n for g, n in self.incidents_per_group.items() if n != 1}
        if len(self.incidents_per_group) != groups or wrong or len(self.incidents) != groups:
            out.append(f"incidents: {len(self.incidents_per_group)} groups, {len(self.incidents)} indexed, "
                       f"not one each: {wrong}")
        runs = {i: len(self.run_ids.get(i, ())) for i in self.incidents}
        if any(n != 1 for n in runs.values()) or set(self.action_runs) - set(self.incidents):
            out.append(f"action runs per incident not exactly one: {runs}, strays "
                       f"{set(self.action_runs) - set(self.incidents)}")
        if self.repeated_runs and not worker_killed:
            out.append(f"{self.repeated_runs} action run(s) executed twice under one run id with no worker killed")
        return out


@dataclass
class Scenario:
    """One fault scenario's world: its namespace, Redis, workers, ledger and clock."""

    name: str
    settings: Settings  # namespace and AMQP/Redis URLs the test itself uses
    directory: Path
    workers: list[Serve] = field(default_factory=list)
    fault_ended: float | None = None
    settled_at: float | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ledger = self.directory / "ledger.txt"
        self.ledger.touch()
        rules = self.directory / "rules"
        rules.mkdir(exist_ok=True)
        (rules / "faults.yaml").write_text(RULES.format(ledger=self.ledger))
        self.rules = rules

    # -- workers -----------------------------------------------------------------------------------------

    async def start_worker(self, *args: str, **env: str) -> Serve:
        """A ``stormwatch serve`` (with ``args``, e.g. ``--processes 2``) in the scenario's namespace."""
        n = len(self.workers)
        base = {
            "STORMWATCH_RULES": str(self.rules), "STORMWATCH_RULES_POLL_SECONDS": "0",
            "STORMWATCH_PREFETCH": str(PREFETCH), "STORMWATCH_BATCH_SIZE": str(BATCH),
            "STORMWATCH_BATCH_WAIT_MS": "1", "STORMWATCH_REDIS_RETRY_MAX_SECONDS": "0.5",
            "STORMWATCH_ACTIONS_POLL_SECONDS": "0.2", "STORMWATCH_ACTIONS_FLEET_MAX": "0",
            "STORMWATCH_TIMER_POLL_SECONDS": "0.5", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        }
        worker = Serve(self.settings, self.directory / f"worker-{n}.log", args=args, **(base | env))
        await worker.start()
        self.workers.append(worker)
        return worker

    async def ready(self, *workers: Serve) -> None:
        for worker in workers:
            await eventually(worker.ready, timeout=30, what="worker ready")

    async def stop_all(self) -> None:
        for worker in self.workers:
            await worker.kill()

    def fault_over(self) -> None:
        self.fault_ended = asyncio.get_running_loop().time()

    # -- the stream --------------------------------------------------------------------------------------

    async def publish(self, stream: Stream, start: int = 0, stop: int | None = None, window: int = 200) -> None:
        connection = await aio_pika.connect(self.settings.amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(Names(self.settings.namespace).alerts_exchange)
            pending: set[asyncio.Future[Any]] = set()
            for b, mid in zip(stream.bodies[start:stop], stream.ids[start:stop], strict=True):
                pending.add(asyncio.ensure_future(exchange.publish(alert_message(b, message_id=mid), "faults")))
                if len(pending) >= window:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
            await asyncio.gather(*pending)
        finally:
            await connection.close()

    # -- reading the outcome -----------------------------------------------------------------------------

    def redis(self, url: str | None = None) -> Redis:
        return Redis.from_url(url or self.settings.redis_url, socket_connect_timeout=1, socket_timeout=5)

    async def counts(self, url: str | None = None) -> Counter:
        """(service, instance) -> stored count, read from every alert state of the namespace."""
        client = self.redis(url)
        try:
            keys = [k async for k in client.scan_iter(match=f"{self.settings.namespace}:{{g*}}:a:*", count=1000)]
            out: Counter = Counter()
            for raw in await client.mget(keys) if keys else []:
                if raw is not None:
                    state = AlertState.from_json(raw)
                    out[(state.labels.get("service"), state.labels.get("instance"))] += state.count
            return out
        finally:
            await client.aclose()

    async def stored(self, url: str | None = None) -> int | None:
        try:
            return sum((await self.counts(url)).values())
        except Exception:  # noqa: BLE001 - Redis may be away mid-fault: not stored yet
            return None

    def ledger_runs(self) -> Counter:
        return Counter(line.split()[0] for line in self.ledger.read_text().splitlines() if line.strip())

    def ledger_run_ids(self) -> dict[str, Counter]:
        """incident -> run id -> lines (each line is "<incident> <run id>")."""
        out: dict[str, Counter] = {}
        for line in self.ledger.read_text().splitlines():
            incident, _, run = line.strip().partition(" ")
            if incident:
                out.setdefault(incident, Counter())[run] += 1
        return out

    async def settle(self, stream: Stream, redis_url: str | None = None, timeout: float = 90) -> bool:
        """Wait for quiescence; False if it did not come (the account then says what is missing)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        ns = self.settings.namespace
        while loop.time() < deadline:
            stored = await self.stored(redis_url)
            if stored is not None and stored >= stream.alerts:
                if self.settled_at is None:
                    self.settled_at = loop.time()
                queues = await queue_counts(ns)
                idle = all(v == (0, 0) for k, v in queues.items() if k in (f"{ns}.alerts", f"{ns}.actions"))
                if idle and len(self.ledger_runs()) >= GROUPS:
                    return True
            await asyncio.sleep(0.1)
        return False

    @property
    def recovery(self) -> float | None:
        if self.settled_at is None:
            return None
        return max(0.0, self.settled_at - (self.fault_ended or self.settled_at))

    async def account(self, stream: Stream, redis_url: str | None = None) -> Account:
        counts = await self.counts(redis_url)
        lost = sum(max(0, n - counts.get(fp, 0)) for fp, n in stream.expected.items())
        duplicated = sum(max(0, n - stream.expected.get(fp, 0)) for fp, n in counts.items())
        client = self.redis(redis_url)
        ns = self.settings.namespace
        try:
            groups = {}
            async for key in client.scan_iter(match=f"{ns}:{{g*}}:group", count=1000):
                groups[key.decode()] = int(await client.hget(key, "seq") or 0)
            incidents = [i.decode() for i in await client.zrange(f"{ns}:incidents", 0, -1)]
        finally:
            await client.aclose()
        return Account(stream.alerts, sum(counts.values()), lost, duplicated, groups, self.ledger_runs(), incidents,
                       self.ledger_run_ids())


ROWS: list[dict[str, Any]] = []  # one per scenario run, printed at the end of the session (conftest.py)


async def finish(scenario: Scenario, stream: Stream, redis_url: str | None = None, notes: str = "",
                 timeout: float = 90, *, worker_killed: bool = False) -> Account:
    """Wait for quiescence, account for every alert, record the summary row, then assert it is exact
    (``worker_killed``: the scenario SIGKILLs workers, see :meth:`Account.problems`)."""
    settled = await scenario.settle(stream, redis_url, timeout)
    account = await scenario.account(stream, redis_url)
    recovery = scenario.recovery
    if account.repeated_runs and worker_killed:
        notes = "; ".join(filter(None, [notes, f"{account.repeated_runs} run(s) executed again after a kill, "
                                                "same run id"]))
    ROWS.append({"scenario": scenario.name, "sent": account.sent, "processed": account.processed,
                 "lost": account.lost, "duplicated": account.duplicated,
                 "recovery": f"{recovery:.1f}" if recovery is not None else "-", "notes": notes})
    problems = account.problems(worker_killed=worker_killed)
    if not settled:
        problems.append(f"no quiescence within {timeout}s (queues {await queue_counts(scenario.settings.namespace)})")
    assert not problems, f"{scenario.name}: " + "; ".join(problems)
    return account


def note(text: str) -> None:
    """What the last recorded scenario did, for the summary's notes column."""
    ROWS[-1]["notes"] = text


def with_poison(stream: Stream, positions: list[int], namespace: str, text: str) -> tuple[Stream, list[str]]:
    """The stream with a poison message inserted at each position (its alert's label value is ``text``)."""
    bodies, ids = list(stream.bodies), list(stream.ids)
    poison_ids = []
    for k, at in enumerate(sorted(positions, reverse=True)):
        poison_ids.append(f"{namespace}-poison{k}")
        bodies.insert(at, body([v2_alert("Poison", "svc-poison", text)]))
        ids.insert(at, poison_ids[-1])
    return Stream(bodies, ids, stream.expected), poison_ids
