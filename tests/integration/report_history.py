"""A generated history for the report tests: plain specs (what happened to each incident, run, problem and silence),
turned into the events the producers publish and written through the history writer's store.

The tests compute the expected figures from the specs themselves (plain Python over these dicts), never from the
database or the report module's code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from events import builders
from stormwatch.history.store import HistoryStore, IncidentDetail

DAY = 86400.0
#: the report's end: Tuesday 2026-12-01 00:00 UTC
END = 1_796_083_200.0
TEAMS = ("dba", "web", "net")
SERVICES = ("orders", "payments", "search", "")
PRIORITIES = ("P1", "P2", "P3", "P4", "")
ALERTNAMES = ("PostgresDown", "HighLatency", "DiskFull", "PodCrashLoop", "CertExpiry", "QueueBacklog")


@dataclass
class Spec:
    id: str
    team: str
    service: str
    priority: str
    created_at: float
    members: list[dict[str, Any]]  # alertname, fingerprint, notifications, flapping
    symptoms: int
    acked_at: float | None = None
    resolved_at: float | None = None  # the first resolution
    reopened: bool = False
    flapping_noted: bool = False
    runs: list[dict[str, Any]] = field(default_factory=list)  # state, created_at, finished_at, saves, action
    #: SLA record kind -> what happened to it: met (in time), breached, late (breached, then met), warned (running)
    sla: dict[str, str] = field(default_factory=dict)

    @property
    def occurrences(self) -> int:
        return sum(m["notifications"] for m in self.members)


@dataclass
class History:
    incidents: list[Spec]
    problems: list[dict[str, Any]]  # id, title, incidents (linked), unlinked
    silences: list[dict[str, Any]]  # id, starts_at, ends_at, expired_at, created_at
    problem_runs: list[dict[str, Any]]


def generate(seed: int, count: int, *, days: float = 60.0) -> History:
    rnd = random.Random(seed)
    specs: list[Spec] = []
    for n in range(count):
        group = f"{rnd.randrange(16**12):012x}"
        created = END - rnd.uniform(0, days * DAY)
        members = []
        for k in range(rnd.randint(1, 3)):
            members.append({"alertname": rnd.choice(ALERTNAMES), "fingerprint": f"{n:08x}{k:08x}",
                            "notifications": rnd.randint(1, 12), "flapping": rnd.random() < 0.08})
        spec = Spec(f"INC-{group}-{n + 1}", rnd.choice(TEAMS), rnd.choice(SERVICES), rnd.choice(PRIORITIES),
                    round(created, 3), members, rnd.choice((0, 0, 0, 1, 2)))
        if rnd.random() < 0.7:
            spec.acked_at = round(created + rnd.uniform(5, 3600), 3)
        if rnd.random() < 0.8:
            spec.resolved_at = round(max(created, spec.acked_at or created) + rnd.uniform(10, 20000), 3)
            spec.reopened = rnd.random() < 0.15
        spec.flapping_noted = rnd.random() < 0.05
        for r in range(rnd.choice((0, 0, 1, 2))):
            started = created + rnd.uniform(1, 600)
            state = rnd.choice(("succeeded", "succeeded", "failed", "skipped", "pending_approval"))
            spec.runs.append({"run_id": f"run-{n}-{r}", "action": rnd.choice(("restart", "page", "ticket")),
                              "state": state, "created_at": round(started, 3),
                              "finished_at": round(started + rnd.uniform(1, 900), 3)
                              if state in ("succeeded", "failed", "skipped") else None,
                              "saves": rnd.choice((None, 300.0, 900.0))})
        specs.append(spec)
    outcomes = random.Random(seed + 1)  # its own stream: the specs above stay as they were
    for spec in specs:
        if spec.priority in ("P1", "P2") or outcomes.random() < 0.2:
            for kind in ("respond", "resolve"):
                if outcomes.random() < 0.9:
                    spec.sla[kind] = outcomes.choice(("met", "met", "met", "breached", "late", "warned"))
    problems = []
    for p in range(4):
        linked = rnd.sample([s.id for s in specs], k=min(len(specs), rnd.randint(1, 8)))
        problems.append({"id": f"PRB-{p:012x}-1", "title": f"recurring {p}", "incidents": linked[1:],
                         "unlinked": linked[:1]})
    silences = []
    for s in range(5):
        starts = END - rnd.uniform(0, days * DAY)
        ends = starts + rnd.uniform(600, 5 * DAY)
        expired = starts + rnd.uniform(0, ends - starts) if rnd.random() < 0.4 else None
        silences.append({"id": f"sil-{s}", "starts_at": round(starts, 3), "ends_at": round(ends, 3),
                         "expired_at": round(expired, 3) if expired else None, "created_at": round(starts, 3)})
    problem_runs = [{"run_id": "run-problem-1", "action": "ticket", "state": "succeeded",
                     "created_at": END - 2 * DAY, "finished_at": END - 2 * DAY + 30, "saves": 600.0}]
    return History(specs, problems, silences, problem_runs)


def _doc(spec: Spec, at: float, status: str, **extra: Any) -> dict[str, Any]:
    labels = {"alertname": spec.members[0]["alertname"], **({"service": spec.service} if spec.service else {})}
    doc = {"id": spec.id, "title": f"{labels['alertname']} on {spec.service or 'somewhere'}", "status": status,
           "severity": "critical", "group_key": "{}:" + repr(sorted(labels.items())), "group_labels": labels,
           "created_at": spec.created_at, "updated_at": at, "resolved_at": None, "alerts": len(spec.members),
           "firing": 0 if status == "resolved" else len(spec.members), "occurrences": spec.occurrences,
           "rule": "generated", "team": spec.team, "priority": spec.priority, "why": {"rule": "generated"},
           "resolve_at": None, "flapping": 0, "symptoms": spec.symptoms}
    doc.update(extra)
    return doc


def _run(run: dict[str, Any], incident: str) -> dict[str, str]:
    record = {"run_id": run["run_id"], "incident": incident, "action": run["action"], "type": "http",
              "rule": "generated", "trigger": "created", "event_id": f"{run['run_id']}:event",
              "state": run["state"], "created_at": repr(run["created_at"])}
    if run["finished_at"] is not None:
        record["finished_at"] = repr(run["finished_at"])
    if run["saves"] is not None:
        record["saves"] = repr(run["saves"])
    return record


def incident_events(spec: Spec) -> list[tuple[dict[str, Any], IncidentDetail | None]]:
    """The events of one incident's life, as the engine and the people's commands publish them."""
    group = spec.id.removeprefix("INC-").rpartition("-")[0]
    members = [{"fingerprint": m["fingerprint"], "labels": {"alertname": m["alertname"], "service": spec.service},
                "status": "resolved" if spec.resolved_at else "firing", "first_seen": spec.created_at,
                "last_seen": spec.created_at + 1, "count": m["notifications"], "flapping": m["flapping"],
                "rev": 3} for m in spec.members]
    symptoms = [{"group": f"{k:012x}", "fingerprint": f"sym{k}-{spec.id}", "labels": {"alertname": "Symptom"},
                 "at": spec.created_at + 1, "kind": "inhibited"} for k in range(spec.symptoms)]
    detail = IncidentDetail(members=members, symptoms=symptoms, runs=[_run(r, spec.id) for r in spec.runs])
    t0 = spec.created_at
    out: list[tuple[dict[str, Any], IncidentDetail | None]] = [
        (builders.incident_event(f"m0:{group}:0", "incident.created", "opened", t0, _doc(spec, t0, "open")), detail)]
    if spec.flapping_noted:
        out.append((builders.incident_event(f"mf:{group}:0", "incident.updated", "alert flapping", t0 + 2,
                                            _doc(spec, t0 + 2, "open")), None))
    version = 10
    if spec.acked_at is not None:
        out.append((builders.incident_command(spec.id, version, "acknowledge", "acknowledged by sre", spec.acked_at,
                                              "sre", _doc(spec, spec.acked_at, "acknowledged",
                                                          acknowledged_by="sre", acknowledged_at=spec.acked_at)),
                    None))
        version += 1
    if spec.resolved_at is not None:
        r = spec.resolved_at
        out.append((builders.incident_event(f"mr:{group}:0", "incident.resolved", "all alerts resolved", r,
                                            _doc(spec, r, "resolved", resolved_at=r)), None))
        if spec.reopened:
            out.append((builders.incident_command(spec.id, version, "reopen", "reopened by ops", r + 60, "ops",
                                                  _doc(spec, r + 60, "open", reopened_by="ops")), None))
            out.append((builders.incident_command(spec.id, version + 1, "resolve", "resolved by ops", r + 600,
                                                  "ops", _doc(spec, r + 600, "resolved", resolved_at=r + 600,
                                                              resolved_by="ops")), None))
    out.extend((event, None) for event in sla_events(spec))
    return out


def sla_events(spec: Spec) -> list[dict[str, Any]]:
    """The SLA events of the spec's records: a warning first (most of them), then the breach and/or the meeting."""
    out = []
    t0 = spec.created_at
    for kind, outcome in sorted(spec.sla.items()):
        target = 600.0 if kind == "respond" else 14400.0
        record = {"kind": kind, "policy": "generated", "priority": spec.priority, "target": target,
                  "calendar": "24x7", "started": t0, "pauses": [], "pause_reasons": [], "warnings": [0.5],
                  "warned": 0, "stage": "running", "met_at": None, "breached_at": None, "due": t0 + target}
        doc = _doc(spec, t0, "open")
        warned = outcome != "met" or kind == "resolve"
        if warned:
            record |= {"warned": 1, "stage": "warning"}
            out.append(builders.incident_sla(doc, dict(record), "warning", 0.5, t0 + target / 2, t0 + target / 2))
        if outcome in ("breached", "late"):
            record |= {"warned": 2, "stage": "breached", "breached_at": t0 + target}
            out.append(builders.incident_sla(doc, dict(record), "breached", 1.0, t0 + target, t0 + target))
        if outcome in ("met", "late"):
            met = t0 + target * (1.5 if outcome == "late" else 0.75 if warned else 0.3)
            record |= {"met_at": met, "stage": "breached" if outcome == "late" else "met"}
            out.append(builders.incident_sla_met(doc, dict(record), met))
    return out


def other_events(history: History) -> list[tuple[dict[str, Any], IncidentDetail | None]]:
    out: list[tuple[dict[str, Any], IncidentDetail | None]] = []
    for p in history.problems:
        doc = {"id": p["id"], "rule": "recurring", "title": p["title"], "status": "open", "team": "dba",
               "created_at": END - 50 * DAY, "updated_at": END - DAY, "resolved_at": None,
               "signature": {"service": "orders"}, "why": {}, "created_by": "", "incidents": p["incidents"]}
        older = {**doc, "updated_at": END - 40 * DAY, "incidents": p["incidents"] + p["unlinked"]}
        out.append((builders.problem_event(f"{p['id']}:old", "problem.updated", "linked", END - 40 * DAY, older),
                    None))
        out.append((builders.problem_event(f"{p['id']}:new", "problem.updated", "unlinked", END - DAY, doc), None))
    for s in history.silences:
        doc = {"id": s["id"], "matchers": ['service="orders"'], "starts_at": s["starts_at"], "ends_at": s["ends_at"],
               "created_at": s["created_at"], "created_by": "sre", "comment": "work", "state": "active"}
        out.append((builders.silence_created(doc, "sre", s["created_at"], "work"), None))
        if s["expired_at"] is not None:
            out.append((builders.silence_expired(doc, "sre", s["expired_at"]), None))
    for run in history.problem_runs:
        record = {**_run(run, ""), "problem": "PRB-000000000000-1"}
        out.append((builders.action_decided(run["run_id"], "approved", record, "sre", run["finished_at"]), None))
    return out


async def write(store: HistoryStore, history: History, batch: int = 500) -> None:
    events = [e for spec in history.incidents for e in incident_events(spec)] + other_events(history)
    for start in range(0, len(events), batch):
        await store.apply(events[start:start + batch])
