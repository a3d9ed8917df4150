"""``stormwatch recording convert --from history``: a recording, labelled with Stormwatch's placement, from the history
store on SQLite and the real PostgreSQL; replayed and scored like any recording."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from events import builders
from replay.placement import replay
from replay.recordings import RecordingError, read_notifications
from rules.loader import load_rule_set
from stormwatch.history import migrate, schema
from stormwatch.history.database import open_engine
from stormwatch.history.recording import history_recording
from stormwatch.history.store import HistoryStore, IncidentDetail
from tests.integration.helpers import run_cli
from tests.integration.history_support import history_database

pytestmark = pytest.mark.parametrize("kind", ["sqlite", "postgresql"])

T0 = 1_796_560_000.0
DB, CO, DISK = "INC-aaaaaaaaaaaa-1", "INC-bbbbbbbbbbbb-1", "INC-cccccccccccc-1"
PRB = "PRB-0123456789ab-1"
TOPOLOGY = """
topology:
  services:
    orders-db: {}
    orders-api: {depends_on: [orders-db]}
    checkout: {depends_on: [orders-api]}
"""


def _incident(iid: str, title: str, created: float, at: float, **more: Any) -> dict[str, Any]:
    doc = {"id": iid, "title": title, "status": "open", "severity": "critical", "group_key": title,
           "group_labels": {}, "created_at": created, "updated_at": at, "resolved_at": None, "alerts": 1,
           "firing": 1, "occurrences": 1, "rule": "default", "team": "", "priority": "P1", "why": {},
           "resolve_at": None, "flapping": 0, "symptoms": 0, "merged_into": ""}
    return doc | more


def _member(iid: str, fp: str, labels: dict[str, str], starts: float, last: float, count: int,
            ends: float | None = None) -> dict[str, Any]:
    return {"fingerprint": fp, "labels": labels, "annotations": {"summary": fp}, "status":
            "resolved" if ends is not None else "firing", "starts_at": starts, "ends_at": ends, "first_seen": starts,
            "last_seen": last, "count": count, "incident": iid, "source": "alertmanager", "rev": count}


def _svc(alertname: str, service: str, instance: str, severity: str = "warning") -> dict[str, str]:
    return {"alertname": alertname, "service": service, "instance": instance, "severity": severity}


def _symptom(iid: str, fp: str, labels: dict[str, str], path: list[str], at: float, **more: Any) -> dict[str, Any]:
    return {"incident": iid, "group": "dddddddddddd", "fingerprint": fp, "labels": labels, "kind": "topology",
            "rule": path[-1], "path": path, "at": at, **more}


CO_1 = _svc("HighLatency", "checkout", "co-1")
API_1 = _svc("HighErrorRate", "orders-api", "api-1")
DB_1 = _svc("PostgresDown", "orders-db", "db-1", "critical")
DISK_1 = {"alertname": "DiskFull", "service": "reports", "instance": "rep-1", "severity": "critical"}


def story() -> list[tuple[dict[str, Any], IncidentDetail | None]]:
    """A late cause: checkout's latency opens an incident at +10 s; the database fails at +120 s and the checkout
    incident merges into its incident, with the API's errors as a symptom; the database recovers at +900 s. A full
    disk meanwhile, the third occurrence of a problem, still open."""
    co_member = _member(CO, "f-co-1", CO_1, T0 + 10, T0 + 70, 2)
    db_member = _member(DB, "f-db-1", DB_1, T0 + 120, T0 + 900, 14, ends=T0 + 900)
    api = _symptom(DB, "f-api-1", API_1, ["orders-api", "orders-db"], T0 + 125)
    co_symptom = _symptom(DB, "f-co-1", CO_1, ["checkout", "orders-api", "orders-db"], T0 + 120, merged_from=CO)
    merged = _incident(CO, "HighLatency / checkout", T0 + 10, T0 + 120, status="resolved", resolved_at=T0 + 120,
                       firing=0, merged_into=DB)
    problem = {"id": PRB, "rule": "recurring", "title": "disk keeps filling", "status": "open", "created_at": T0 + 30,
               "updated_at": T0 + 30, "team": "", "signature": {"service": "reports"}, "incidents": [DISK],
               "why": {}, "created_by": DISK, "resolved_at": None}
    return [
        (builders.incident_event("e1", "incident.created", "opened", T0 + 10,
                                 _incident(CO, "HighLatency / checkout", T0 + 10, T0 + 10)),
         IncidentDetail(members=[co_member])),
        (builders.incident_event("e2", "incident.created", "opened", T0 + 30,
                                 _incident(DISK, "DiskFull / reports", T0 + 30, T0 + 30)),
         IncidentDetail(members=[_member(DISK, "f-rep-1", DISK_1, T0 + 30, T0 + 600, 2)])),
        (builders.problem_correlated(problem, "created", DISK, "recurring", T0 + 30), None),
        (builders.incident_event("e3", "incident.created", "opened", T0 + 120,
                                 _incident(DB, "PostgresDown / orders-db", T0 + 120, T0 + 120)),
         IncidentDetail(members=[db_member], symptoms=[co_symptom, api])),
        (builders.incident_event("e4", "incident.resolved", f"merged into {DB}", T0 + 120, merged),
         IncidentDetail(members=[co_member])),
        (builders.incident_merged("e5", f"merged into {DB}", T0 + 120, merged), None),
        (builders.incident_event("e6", "incident.resolved", "all alerts resolved", T0 + 900,
                                 _incident(DB, "PostgresDown / orders-db", T0 + 120, T0 + 900, status="resolved",
                                           resolved_at=T0 + 900, firing=0)),
         IncidentDetail(members=[db_member], symptoms=[co_symptom, api])),
    ]


@pytest.fixture
async def history(kind: str, tmp_path: Path):
    async with history_database(kind, tmp_path) as url:
        engine = open_engine(url)
        try:
            await migrate.upgrade(engine)
            await HistoryStore(engine).apply(story())
            yield url, engine
        finally:
            await engine.dispose()


async def test_the_history_converts_to_a_recording_labelled_with_its_placement(history, tmp_path: Path):
    _, engine = history
    path = tmp_path / "recording.jsonl"
    path.write_bytes(b"".join(await history_recording(engine)))
    lines = read_notifications([path], truth=True)
    got = [(n.at - T0, n.alert.labels["instance"], n.alert.status, n.truth, n.problem) for n in lines]
    assert got == [
        (10, "co-1", "firing", DB, None),  # the merged incident's member counts in the incident it merged into
        (30, "rep-1", "firing", DISK, PRB),
        (70, "co-1", "firing", DB, None),  # a repeat (notified twice)
        (120, "db-1", "firing", DB, None),
        (125, "api-1", "firing", DB, None),  # a symptom, when it was attached
        (600, "rep-1", "firing", DISK, PRB),
        (900, "api-1", "resolved", DB, None),  # a symptom clears with its cause
        (900, "co-1", "resolved", DB, None),  # still firing when its incident's root resolved: resolves then
        (900, "db-1", "resolved", DB, None),
    ]
    # later incidents only
    assert {n.truth for n in read_notifications([_write(tmp_path, await history_recording(
        engine, since=T0 + 20))])} == {DB, DISK}
    assert await history_recording(engine, since=T0 + 20, until=T0 + 30) == []

    # replayed with the topology it ran under: the same grouping, the late cause merged
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "rules.yaml").write_text(TOPOLOGY)
    score = replay(load_rule_set(rules_dir), lines).score()
    assert (score.f1, score.merges, score.splits) == (1.0, 0, 0)
    assert replay(None, lines).score().splits == 2  # with no topology: three incidents for the database outage


def _write(tmp_path: Path, lines: list[bytes]) -> Path:
    out = tmp_path / "part.jsonl"
    out.write_bytes(b"".join(lines))
    return out


async def test_a_row_it_cannot_read_is_refused_and_nothing_written(history, clean, tmp_path: Path):
    url, engine = history
    out = tmp_path / "recording.jsonl"
    code, stdout, err = await run_cli(clean, "recording", "convert", "--from", "history", "--out", str(out),
                                      "--since", repr(T0), env={"STORMWATCH_HISTORY_URL": url})
    assert code == 0, err
    assert "9 notifications from the history" in " ".join(stdout.split())
    assert len(read_notifications([out], truth=True)) == 9
    async with engine.begin() as conn:
        a = schema.incident_alerts.c
        await conn.execute(sa.update(schema.incident_alerts).where(a.fingerprint == "f-rep-1")
                           .values(state={"fingerprint": "f-rep-1", "labels": DISK_1}))
    with pytest.raises(RecordingError, match=f"incident {DISK}, alert f-rep-1: unreadable state"):
        await history_recording(engine)
    out.unlink()
    code, _, err = await run_cli(clean, "recording", "convert", "--from", "history", "--out", str(out),
                                 env={"STORMWATCH_HISTORY_URL": url})
    assert code == 2 and f"incident {DISK}, alert f-rep-1" in err
    assert not out.exists()
