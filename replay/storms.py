"""The labelled storm corpus: alert storms of distinct shapes, each with its truth and rules written from its topology.

Each storm is built here, deterministically, and written to ``replay/corpus/<name>/`` (``recording.jsonl`` with a
truth id per line, ``rules/rules.yaml``) by ``python -m replay.corpus write``; the test suite checks that the files
are what this module builds, so the corpus and its definition cannot drift. ``large_storm`` builds a storm of any
size (100,000 notifications by default) from a seeded random service graph, for the benchmark and the scorer.

A firing alert notifies every ``every`` seconds (Alertmanager's repeat) until it resolves, when one resolved
notification follows. Times are seconds from the storm's start (``T0``, 2026-01-01 00:00 UTC).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from replay.recordings import Notification
from rules.alert import Alert
from rules.fingerprint import fingerprint

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
REPEAT = 60.0


@dataclass
class Storm:
    name: str
    hard: str  # what makes it hard, one line (the corpus README)
    rules: str  # a rule file written from the storm's topology alone
    notifications: list[Notification] = field(default_factory=list)

    def alert(self, labels: Mapping[str, str], truth: str, episodes: Sequence[tuple[float, float | None]], *,
              problem: str | None = None, every: float = REPEAT) -> None:
        """An alert firing over ``episodes`` ((start, end) seconds; end None: still firing at the end)."""
        fp = fingerprint(labels)
        for start, end in episodes:
            stop = end if end is not None else start + 1800.0
            t = start
            while t < stop:
                self._add(labels, fp, "firing", start, None, t, truth, problem)
                t += every
            if end is not None:
                self._add(labels, fp, "resolved", start, end, end, truth, problem)

    def _add(self, labels: Mapping[str, str], fp: str, status: str, start: float, end: float | None, at: float,
             truth: str, problem: str | None) -> None:
        alert = Alert(labels=dict(labels), status=status, starts_at=T0 + start, received_at=T0 + at,  # type: ignore[arg-type]
                      fingerprint=fp, source="alertmanager", ends_at=None if end is None else T0 + end)
        self.notifications.append(Notification(T0 + at, alert, "", truth, problem))

    def ordered(self) -> list[Notification]:
        return sorted(self.notifications, key=lambda n: (n.at, n.alert.fingerprint, n.alert.status))


def _svc(alertname: str, service: str, instance: str, severity: str = "warning", **more: str) -> dict[str, str]:
    return {"alertname": alertname, "service": service, "instance": instance, "severity": severity, **more}


CHAIN_RULES = """\
topology:
  hold: 30s
  services:
    orders-db: {}
    orders-api: {depends_on: [orders-db]}
    checkout: {depends_on: [orders-api]}
    storefront: {depends_on: [checkout]}
"""


def cascade() -> Storm:
    s = Storm("cascade", "a database failure climbs a four-service dependency chain; symptoms arrive within seconds "
                         "of the cause, repeat for 15 minutes and clear 10-90 s after it (a recovering cascade)",
              CHAIN_RULES)
    s.alert(_svc("PostgresDown", "orders-db", "db-1", "critical", cluster="main"), "db-outage", [(0, 900)])
    for i in range(3):
        s.alert(_svc("HighErrorRate", "orders-api", f"api-{i}"), "db-outage", [(5 + 5 * i, 920 + 20 * i)])
        s.alert(_svc("HighLatency", "checkout", f"co-{i}"), "db-outage", [(10 + 5 * i, 930 + 25 * i)])
    for i in range(2):
        s.alert(_svc("HighErrorRate", "storefront", f"web-{i}"), "db-outage", [(20 + 5 * i, 940 + 50 * i)])
    return s


UNRELATED_RULES = """\
topology:
  hold: 30s
  symptom_lag: 30s  # the payment provider pages at once (no for:): as grave, 30 s after the database, is its own
  services:
    orders-db: {}
    orders-api: {depends_on: [orders-db]}
    payments: {depends_on: [orders-db]}
    sessions-cache: {}
    login: {depends_on: [sessions-cache]}
    storefront: {depends_on: [orders-api, login]}
"""


def unrelated() -> Storm:
    s = Storm("unrelated", "four independent failures within a minute: a database and its dependant, a cache and "
                           "its dependant, a full disk, and a payment provider outage on a service that depends on "
                           "the failing database but is not caused by it", UNRELATED_RULES)
    s.alert(_svc("PostgresDown", "orders-db", "db-1", "critical", cluster="main"), "db", [(0, 1200)])
    for i in range(3):
        s.alert(_svc("HighErrorRate", "orders-api", f"api-{i}"), "db", [(8 + 4 * i, 1230 + 10 * i)])
    s.alert(_svc("RedisDown", "sessions-cache", "cache-1", "critical"), "cache", [(20, 900)])
    for i in range(2):
        s.alert(_svc("HighLatency", "login", f"login-{i}"), "cache", [(25 + 5 * i, 940 + 20 * i)])
    s.alert(_svc("DiskFull", "reports", "rep-1", "critical", mountpoint="/data"), "disk", [(30, None)])
    for i in range(2):
        s.alert(_svc("PaymentProviderErrors", "payments", f"pay-{i}", "critical"), "provider",
                [(40 + 10 * i, 1500)])
    return s


def late_cause() -> Storm:
    s = Storm("late-cause", "the cause (the database) alerts two minutes after its symptoms, past the 30 s hold: "
                            "the symptoms have already opened and paged incidents of their own", CHAIN_RULES)
    for i in range(3):
        s.alert(_svc("HighErrorRate", "orders-api", f"api-{i}"), "db-outage", [(5 * i, 920 + 10 * i)])
    for i in range(2):
        s.alert(_svc("HighLatency", "checkout", f"co-{i}"), "db-outage", [(10 + 5 * i, 930 + 20 * i)])
    s.alert(_svc("PostgresDown", "orders-db", "db-1", "critical", cluster="main"), "db-outage", [(120, 900)])
    return s


FLAPPING_RULES = """\
flapping:
  - name: disk-flapping
    match:
      - alertname="DiskSpaceLow"
    changes: 4
    within: 30m
    quiet: 30m
groups:
  - name: disk-space
    match:
      - alertname="DiskSpaceLow"
    group_by: [service, instance, mountpoint]
    auto_resolve: {mode: after_hold, hold: 15m}
"""


def flapping() -> Storm:
    s = Storm("flapping", "a disk hovering at its threshold fires and resolves every four minutes for an hour; an "
                          "unrelated memory alert fires meanwhile", FLAPPING_RULES)
    s.alert(_svc("DiskSpaceLow", "reports", "rep-1", mountpoint="/data"), "disk",
            [(240.0 * k, 240.0 * k + 120) for k in range(15)])
    s.alert(_svc("HighMemory", "search", "search-1"), "memory", [(600, 1500)])
    return s


BATCH_RULES = """\
groups:
  - name: batch-jobs
    match:
      - alertname="BatchJobFailed"
    group_by: [job]
    window: 6h
problems:
  - name: recurring-batch-failure
    match:
      - alertname="BatchJobFailed"
    signature: [alertname, job]
    recurrence: {count: 3, within: 7d}
"""


def recurring_batch() -> Storm:
    s = Storm("recurring-batch", "the nightly billing export fails four nights running (four incidents, one problem); "
                                 "another job fails once on the second night (an incident, no problem)", BATCH_RULES)
    day = 86400.0
    for night in range(4):
        start = night * day + 2 * 3600
        s.alert({"alertname": "BatchJobFailed", "job": "billing-export", "severity": "warning"},
                f"billing-night-{night + 1}", [(start, start + 1200)], problem="billing-export-recurring", every=300)
    s.alert({"alertname": "BatchJobFailed", "job": "log-rotate", "severity": "warning"}, "log-rotate-night-2",
            [(day + 3 * 3600, day + 3 * 3600 + 600)], every=300)
    return s


PARTIAL_RULES = """\
# Written from what the SRE is told: the topology below (which, unknown to them, misses search's dependency on
# orders-db) and the catalog fact that checkout's pods label their alerts service="checkout-web". The binding is
# knowledge of the service, not of the storm: it says which alerts are checkout's, the way a catalog entry does.
# Nothing here says search depends on the database: the topology does not, so no rule written from it can.
topology:
  hold: 30s
  services:
    orders-db: {}
    orders-api: {depends_on: [orders-db]}
    checkout: {depends_on: [orders-api]}
    search: {}
  bindings:
    - name: checkout-pods
      match: ['service="checkout-web"']
      service: checkout
"""


def partial_topology() -> Storm:
    s = Storm("partial-topology", "the topology is partial and partly wrong: it misses search's dependency on the "
                                  "database, and the checkout pods are labelled checkout-web, a name the topology "
                                  "does not know. Its rules bind checkout-web to checkout (`topology.bindings`: "
                                  "what the catalog knows of checkout's alerts, not of the storm) and keep the "
                                  "topology as given, so search's alerts page on their own: no rule written from "
                                  "the topology can know the missing edge (`rules suggest` finds it in the "
                                  "recording)", PARTIAL_RULES)
    s.alert(_svc("PostgresDown", "orders-db", "db-1", "critical", cluster="main"), "db-outage", [(0, 900)])
    for i in range(3):
        s.alert(_svc("HighErrorRate", "orders-api", f"api-{i}"), "db-outage", [(5 + 3 * i, 930 + 10 * i)])
    for i in range(3):
        s.alert(_svc("HighLatency", "checkout-web", f"co-{i}"), "db-outage", [(10 + 3 * i, 940 + 10 * i)])
    for i in range(2):
        s.alert(_svc("SlowQueries", "search", f"search-{i}"), "db-outage", [(15 + 5 * i, 950 + 10 * i)])
    return s


STORMS = (cascade, unrelated, late_cause, flapping, recurring_batch, partial_topology)


def corpus() -> list[Storm]:
    return [build() for build in STORMS]


def large_storm(notifications: int = 100_000, *, seed: int = 1, services: int = 200) -> Storm:
    """A long storm of about ``notifications`` notifications: failures of random services in a seeded random
    dependency graph (each service depends on up to three of lower index), each failure alerting on its service
    and, a few seconds later, on several pods of every dependant up to two levels, for 10-30 minutes; failures
    overlap in time but never share a subtree, so each is one labelled incident."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible storm, not a secret
    names = [f"svc-{i:03d}" for i in range(services)]
    depends = {i: sorted(rng.sample(range(i), min(i, rng.randint(0, 3)))) for i in range(services)}
    dependants: dict[int, list[int]] = {i: [] for i in range(services)}
    for i, on in depends.items():
        for d in on:
            dependants[d].append(i)
    lines = ["topology:", "  hold: 30s", "  symptom_lag: 30s", "  services:"]  # dependants fail within seconds
    for i, name in enumerate(names):
        deps = ", ".join(names[d] for d in depends[i])
        lines.append(f"    {name}: {{depends_on: [{deps}]}}" if deps else f"    {name}: {{}}")
    s = Storm("large", f"{notifications} notifications from a seeded random graph of {services} services",
              "\n".join(lines) + "\n")
    t, failure = 0.0, 0
    busy: dict[int, float] = {}  # service -> until when it is part of a failure
    while len(s.notifications) < notifications:
        root = rng.randrange(services)
        tree = [root] + dependants[root]
        tree += [g for c in dependants[root] for g in dependants[c]]
        tree = list(dict.fromkeys(tree))
        if any(busy.get(x, -1.0) > t for x in tree):
            t += 30
            continue
        failure += 1
        truth = f"failure-{failure}"
        length = rng.uniform(600, 1800)
        s.alert(_svc("ServiceDown", names[root], f"{names[root]}-0", "critical"), truth, [(t, t + length)])
        for x in tree[1:]:
            for pod in range(rng.randint(1, 3)):
                start = t + rng.uniform(2, 20)
                s.alert(_svc("HighErrorRate", names[x], f"{names[x]}-{pod}"), truth,
                        [(start, t + length + rng.uniform(10, 90))])
        for x in tree:
            busy[x] = t + length + 400
        t += rng.uniform(20, 120)
    return s
