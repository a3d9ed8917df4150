"""``stormwatch history restore``: after Redis lost its data, put back what the history knows is still going on.

What comes back (``correlation.store.restore`` writes it, never over anything live): every open or acknowledged incident
with its member alerts' last states, its symptoms and its people's fields; the group's current incident, so the
next notification of a member (or of a new alert of the group) joins it instead of opening a second one and
paging again; each group's incident counter, raised past every id the history ever saw (``incident_groups``, never
pruned); held resolutions and alert expiry timers; open and known-error problems with their incidents; silences
that have not ended. What does not come back is listed in docs/history.md ("What restore cannot bring back").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import fields
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from correlation.store.keyspace import Keyspace
from correlation.core.model import AlertState, Incident
from correlation.core.problems import Problem
from correlation.store.restore import PEOPLE_FIELDS, IncidentRecord, ProblemRecord, Restored, Restorer
from stormwatch.history import schema as t

OPEN = ("open", "acknowledged")
CHUNK = 500
_ALERT_FIELDS = frozenset(f.name for f in fields(AlertState))


async def restore_if_lost(engine: AsyncEngine, redis: Redis, namespace: str, now: float) -> Restored | None:
    """Restore when Redis lost its data: the namespace's ``whole`` marker is gone while the history knows incidents
    (a first start, with an empty history, only sets the marker). None when nothing was lost."""
    restorer = Restorer(redis, Keyspace(namespace), restored_at=now)
    if await restorer.is_whole():
        return None
    async with engine.connect() as conn:
        known = (await conn.execute(sa.select(t.incident_groups.c.group_id).limit(1))).first() is not None
    if not known:
        await restorer.mark_whole()
        return None
    return await restore(engine, redis, namespace, now)


async def restore(engine: AsyncEngine, redis: Redis, namespace: str, now: float) -> Restored:
    restorer = Restorer(redis, Keyspace(namespace), restored_at=now)
    done = Restored()
    async with engine.connect() as conn:
        seqs = {r.group_id: int(r.last_seq) for r in await conn.execute(sa.select(t.incident_groups))}
        await restorer.raise_counters(seqs, done)
        rows = (await conn.execute(sa.select(t.incidents).where(t.incidents.c.status.in_(OPEN))
                                   .order_by(t.incidents.c.group_id, t.incidents.c.seq))).all()
        newest = {r.group_id: r.id for r in rows}  # ordered by seq: the last one per group is its current
        for i in range(0, len(rows), CHUNK):
            chunk = rows[i:i + CHUNK]
            ids = [r.id for r in chunk]
            members: dict[str, list[AlertState]] = defaultdict(list)
            for m in await conn.execute(sa.select(t.incident_alerts.c.incident_id, t.incident_alerts.c.state)
                                        .where(t.incident_alerts.c.incident_id.in_(ids))):
                members[m.incident_id].append(AlertState(**{k: v for k, v in m.state.items() if k in _ALERT_FIELDS}))
            symptoms: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for s in await conn.execute(sa.select(t.incident_symptoms.c.incident_id, t.incident_symptoms.c.detail)
                                        .where(t.incident_symptoms.c.incident_id.in_(ids))):
                symptoms[s.incident_id].append(dict(s.detail))
            await restorer.incidents([IncidentRecord(
                incident=_incident(r), people=_people(r), members=members[r.id], symptoms=symptoms[r.id],
                current=newest[r.group_id] == r.id) for r in chunk], done)
        await restorer.problems(await _problems(conn), done)
        silences = (await conn.execute(sa.select(t.silences).where(
            t.silences.c.ends_at > now, t.silences.c.expired_at.is_(None)))).mappings().all()
        await restorer.silences([dict(s) for s in silences], done)
    await restorer.mark_whole()
    return done


def _incident(r: Any) -> Incident:
    return Incident(
        id=r.id, title=r.title, status=r.status, severity=r.severity, group_key=r.group_key,
        group_labels=dict(r.group_labels), created_at=r.created_at, updated_at=r.updated_at,
        resolved_at=r.resolved_at, alerts=r.alerts, firing=r.firing, occurrences=r.occurrences, rule=r.rule,
        team=r.team, priority=r.priority, why=dict(r.why), resolve_at=r.resolve_at, flapping=r.flapping,
        symptoms=r.symptoms)


def _people(r: Any) -> dict[str, str]:
    out = {}
    for name in PEOPLE_FIELDS:
        # a major incident (issue 21): the hash's flag is the history's major_at
        value = ("1" if r.major_at is not None else None) if name == "major" else getattr(r, name)
        if value is not None:
            out[name] = repr(value) if isinstance(value, float) else str(value)
    return out


async def _problems(conn: Any) -> list[ProblemRecord]:
    p, pi, i = t.problems, t.problem_incidents, t.incidents
    rows = (await conn.execute(sa.select(p).where(p.c.status.in_(("open", "known_error"))))).all()
    if not rows:
        return []
    floors: dict[str, int] = {}
    for (pid,) in await conn.execute(sa.select(p.c.id)):  # every problem number a signature issued
        sig, _, n = pid[len("PRB-"):].rpartition("-")
        floors[sig] = max(floors.get(sig, 0), int(n) if n.isdigit() else 0)
    out = []
    for r in rows:
        linked = (await conn.execute(sa.select(pi.c.incident_id, i.c.created_at)
                                     .join(i, i.c.id == pi.c.incident_id, isouter=True)
                                     .where(pi.c.problem_id == r.id, pi.c.linked))).all()
        problem = Problem(id=r.id, rule=r.rule, title=r.title, status=r.status, created_at=r.created_at,
                          updated_at=r.updated_at, team=r.team, signature=dict(r.signature),
                          incidents=sorted(x.incident_id for x in linked), why=dict(r.why), created_by=r.created_by,
                          resolved_at=r.resolved_at)
        sig = r.id[len("PRB-"):].rpartition("-")[0]
        out.append(ProblemRecord(problem, floors.get(sig, 0),
                                 {x.incident_id: x.created_at or r.created_at for x in linked}))
    return out
