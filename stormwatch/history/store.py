"""Writing events into the history: every write idempotent on the event id, every row newest-wins.

``HistoryStore.apply(batch)`` writes a batch of events in one transaction. Each event first claims its id in
``applied_events`` (``INSERT .. ON CONFLICT DO NOTHING``): a repeated id changes nothing. Rows a later event may
change are upserted with a guard (``WHERE stored.version < new.version``, ``order_key``), so events applied in any
order leave the same rows; rows that never change (timeline entries, symptoms, labels) are inserted once.

An incident event's document may carry ``changes`` (probable causes, docs/changes.md): each change and each link is
inserted once (``changes``, ``incident_changes``).

An incident event may come with an ``IncidentDetail`` read from Redis when the writer took it (its member alerts,
symptoms and action runs: the events carry counts, not members); those rows converge the same way (a member's
version is its last notification and revision).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.builders import mute_kind
from events.types import SLA_TYPES
from stormwatch.history import schema as t

Doc = Mapping[str, Any]
#: labels longer than this are not indexed for search (the member's labels keep them)
LABEL_VALUE_MAX = 500


DAY = 86400.0


def day_of(at: float) -> float:
    """The start of the UTC day ``at`` falls in (the roll-ups' unit)."""
    return (at // DAY) * DAY


def order_key(doc_time: float, event_at: float, tiebreak: str) -> str:
    """A text key that sorts as the tuple (doc_time, event_at, tiebreak): the version of a row."""
    return f"{max(doc_time, 0.0):020.6f}|{max(event_at, 0.0):020.6f}|{tiebreak[:70]}"


#: where a change of each kind falls among the events one batch makes at one moment (same document time): an
#: incident's creation comes first, its resolution last (a batch's next alert of the group opens a new incident)
_KIND_RANK = {"created": 0, "known_error": 2, "resolved": 3}


def event_version(event: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    """The version an event gives its subject's row: the document's time, then the event's, then where its kind
    falls in one batch (created, then updates, then resolved), then the event id. Events of one batch share both
    times (the engine's ``now``), and only one ``updated`` per incident is published per batch (its latest state),
    so this orders them as the engine made them whatever order they arrive in."""
    rank = _KIND_RANK.get(str(event["type"]).partition(".")[2], 1)
    return order_key(float(doc["updated_at"]), float(event["at"]), f"{rank}|{event['event_id']}")


class InvalidEvent(ValueError):
    """An event the history cannot use (no id, no document, an unknown shape): ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    """What Redis held about an incident when the writer took its event."""

    members: Sequence[Mapping[str, Any]] = ()  # AlertState.public() of each member alert
    symptoms: Sequence[Mapping[str, Any]] = ()  # the store's symptom documents
    runs: Sequence[Mapping[str, str]] = ()  # action runs as stored (strings)


@dataclass(slots=True)
class Applied:
    applied: int = 0  # events written
    repeats: int = 0  # events whose id was already applied
    by_type: dict[str, int] = field(default_factory=dict)


def validate(event: Any) -> dict[str, Any]:
    """The checks the writer makes before it writes (InvalidEvent otherwise); fields it does not know are ignored."""
    if not isinstance(event, dict):
        raise InvalidEvent("not_an_object", "the event is not a JSON object")
    event_id, kind = event.get("event_id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 300:
        raise InvalidEvent("invalid_event", "event_id: a non-empty string of at most 300 characters")
    if not isinstance(kind, str) or "." not in kind:
        raise InvalidEvent("invalid_event", "type: <subject>.<kind>")
    if not isinstance(event.get("at"), int | float):
        raise InvalidEvent("invalid_event", "at: a number")
    if kind == "alert.muted":
        mutes = event.get("mutes")
        if not isinstance(mutes, list) or not mutes or not all(
                isinstance(m, dict) and isinstance(m.get("reason"), str) and 0 < len(m["reason"]) <= 256
                and type(m.get("notifications")) is int and m["notifications"] > 0
                and all(isinstance(m.get(k, ""), str) and len(m.get(k, "")) <= 200 for k in ("team", "service"))
                for m in mutes):
            raise InvalidEvent("invalid_event", "mutes: a list of {reason (1-256 characters), notifications > 0, "
                                                "team and service (at most 200 characters, optional)}")
    subject = kind.partition(".")[0]
    doc_field = _DOC_FIELD.get(subject)
    if doc_field is None:
        return event  # a subject the history does not keep (rules.reloaded, future ones): only recorded
    doc = event.get(doc_field)
    if doc is None and subject == "action":
        return event  # the run was gone by the time it was decided
    if not isinstance(doc, dict) or not isinstance(doc.get(_DOC_ID[subject]), str) or not doc[_DOC_ID[subject]]:
        raise InvalidEvent("invalid_event", f"{doc_field}.{_DOC_ID[subject]}: missing")
    for name in _REQUIRED[subject]:
        if name not in doc:
            raise InvalidEvent("invalid_event", f"{doc_field}.{name}: missing")
    if kind in SLA_TYPES:
        sla = event.get("sla")
        if not isinstance(sla, dict) or sla.get("kind") not in ("respond", "resolve"):
            raise InvalidEvent("invalid_event", "sla.kind: respond or resolve")
        for name in ("policy", "target", "started", "stage"):
            if name not in sla:
                raise InvalidEvent("invalid_event", f"sla.{name}: missing")
    return event


_DOC_FIELD = {"incident": "incident", "problem": "problem", "silence": "silence", "action": "run"}
_DOC_ID = {"incident": "id", "problem": "id", "silence": "id", "action": "run_id"}
_REQUIRED = {
    "incident": ("title", "status", "created_at", "updated_at"),
    "problem": ("status", "created_at", "updated_at"),
    "silence": ("matchers", "starts_at", "ends_at"),
    "action": (),
}


class HistoryStore:
    """The writer's adapter over the history database."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self.dialect = engine.dialect.name
        self._insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert

    async def apply(self, batch: Sequence[tuple[dict[str, Any], IncidentDetail | None]]) -> Applied:
        """Write every event of the batch in one transaction (all or none)."""
        done = Applied()
        async with self.engine.begin() as conn:
            days: set[float] = set()
            for event, detail in batch:
                if await self._apply_one(conn, event, detail, days):
                    done.applied += 1
                    done.by_type[event["type"]] = done.by_type.get(event["type"], 0) + 1
                    incident = event.get("incident")
                    if isinstance(incident, dict):
                        days.add(day_of(float(incident["created_at"])))
                else:
                    done.repeats += 1
            await self.touch_days(conn, days)
        return done

    async def touch_days(self, conn: AsyncConnection, days: Iterable[float]) -> None:
        """The days' roll-ups are stale now (their incidents changed): one more change counted on each, in the
        days' order (two writers' transactions lock the rows in the same order: no deadlock)."""
        for day in sorted(days):
            insert = self._insert(t.rollup_days).values(day=day, changes=1)
            await conn.execute(insert.on_conflict_do_update(
                index_elements=["day"], set_={"changes": t.rollup_days.c.changes + 1}))

    async def _apply_one(self, conn: AsyncConnection, event: dict[str, Any], detail: IncidentDetail | None,
                         days: set[float]) -> bool:
        subject, _, _ = event["type"].partition(".")
        doc = event.get(_DOC_FIELD.get(subject, ""))
        subject_id = str(doc.get(_DOC_ID[subject], "")) if isinstance(doc, dict) else ""
        claimed = await conn.execute(
            self._insert(t.applied_events).values(
                event_id=event["event_id"], type=event["type"], subject=subject_id, at=float(event["at"]),
                applied_at=self.clock(),
            ).on_conflict_do_nothing(index_elements=["event_id"]).returning(t.applied_events.c.event_id))
        if claimed.first() is None:
            return False
        if subject == "incident" and isinstance(doc, dict):
            await self._incident(conn, event, doc)
            if detail is not None:
                await self.write_detail(conn, doc["id"], detail, days)
            if event["type"] in SLA_TYPES:
                await self._sla(conn, event, str(doc["id"]))
        elif subject == "problem" and isinstance(doc, dict):
            await self._problem(conn, event, doc)
        elif subject == "silence" and isinstance(doc, dict):
            await self._silence(conn, event, doc)
        elif subject == "action" and isinstance(doc, dict):
            await self.write_runs(conn, [doc], decided=(event.get("by"), float(event["at"]), event["event_id"]),
                                  days=days)
        elif event["type"] == "alert.muted":
            await self._muted(conn, event)
        return True

    async def _muted(self, conn: AsyncConnection, event: dict[str, Any]) -> None:
        """Adds the event's muted notifications to its day's counts by reason, team and service (once: the caller
        claimed its id; an event without team or service counts under ""), keys in order (two writers lock the
        rows in the same order)."""
        day = day_of(float(event["at"]))
        counts: dict[tuple[str, str, str], int] = {}
        for mute in event["mutes"]:
            key = (mute["reason"], mute.get("team", ""), mute.get("service", ""))
            counts[key] = counts.get(key, 0) + mute["notifications"]
        column = t.muted_days.c.notifications
        for (reason, team, service), notifications in sorted(counts.items()):
            insert = self._insert(t.muted_days).values(day=day, reason=reason, team=team, service=service,
                                                       kind=mute_kind(reason), notifications=notifications)
            await conn.execute(insert.on_conflict_do_update(
                index_elements=["day", "reason", "team", "service"],
                set_={"notifications": column + insert.excluded.notifications}))

    # -- incidents -------------------------------------------------------------------------------------------

    async def _incident(self, conn: AsyncConnection, event: dict[str, Any], doc: Doc) -> None:
        at = float(event["at"])
        await self.upsert_incident(conn, doc, event_version(event, doc), people=event.get("by") is not None)
        acknowledged = at if event["type"] == "incident.acknowledged" else None
        resolved = (doc.get("resolved_at") or at) if event["type"] == "incident.resolved" else None
        await self.first_times(conn, doc["id"], acknowledged, resolved)
        await self._timeline(conn, event, incident_id=doc["id"], status=str(doc.get("status", "")),
                             priority=str(doc.get("priority", "")))
        await self.write_changes(conn, str(doc["id"]), doc.get("changes") or (), at)

    async def upsert_incident(self, conn: AsyncConnection, doc: Doc, version: str, *, people: bool) -> None:
        """The incident's row from a document (an event's, or Redis's in a backfill), if newer than the stored."""
        incident_id = str(doc["id"])
        group_id, _, seq = incident_id.removeprefix("INC-").rpartition("-")
        labels = {str(k): str(v) for k, v in (doc.get("group_labels") or {}).items()}
        row = {
            "id": incident_id, "group_id": group_id, "seq": int(seq) if seq.isdigit() else 0,
            "title": str(doc.get("title", "")), "status": str(doc.get("status", "")),
            "severity": str(doc.get("severity", "")), "priority": str(doc.get("priority", "")),
            "rule": str(doc.get("rule", "default")), "team": str(doc.get("team", "")),
            "service": labels.get("service", ""), "group_key": str(doc.get("group_key", "")),
            "group_labels": labels, "why": doc.get("why") or {},
            "created_at": float(doc["created_at"]), "updated_at": float(doc["updated_at"]),
            "resolved_at": _num(doc.get("resolved_at")), "resolve_at": _num(doc.get("resolve_at")),
            "alerts": int(doc.get("alerts", 0)), "firing": int(doc.get("firing", 0)),
            "flapping": int(doc.get("flapping", 0)), "occurrences": int(doc.get("occurrences", 0)),
            "symptoms": int(doc.get("symptoms", 0)), "version": version,
        }
        people_row = {name: doc.get(name) for name in _PEOPLE}
        people_row["acknowledged_at"] = _num(people_row["acknowledged_at"])
        people_row.update(major_fields(doc))
        insert = self._insert(t.incidents).values(
            **row, **(people_row if people else {}), people_version=version if people else "")
        snapshot = {name: insert.excluded[name] for name in row if name != "id"}
        c = t.incidents.c
        await conn.execute(insert.on_conflict_do_update(
            index_elements=["id"], set_=snapshot, where=c.version < insert.excluded.version))
        if people:  # the people's fields: on their own version, as only people's events carry them
            await conn.execute(
                sa.update(t.incidents).where(c.id == incident_id, c.people_version < version)
                .values(**people_row, people_version=version))
        await conn.execute(self._insert(t.incident_groups).values(
            group_id=group_id, last_seq=row["seq"], last_created_at=row["created_at"],
        ).on_conflict_do_update(
            index_elements=["group_id"],
            set_={"last_seq": sa.func.max(t.incident_groups.c.last_seq, row["seq"]) if self.dialect == "sqlite"
                  else sa.func.greatest(t.incident_groups.c.last_seq, row["seq"]),
                  "last_created_at": sa.case(
                      (t.incident_groups.c.last_created_at < row["created_at"], row["created_at"]),
                      else_=t.incident_groups.c.last_created_at)}))
        await self._labels(conn, incident_id, labels)

    async def write_changes(self, conn: AsyncConnection, incident_id: str, links: Iterable[Any], at: float) -> None:
        """The changes linked to an incident (the document's ``changes``, docs/changes.md) and the links, each
        written once: a change is never edited, a link never changes."""
        for x in links:
            if not isinstance(x, Mapping) or not x.get("id") or not x.get("service"):
                continue
            service, change_id = str(x["service"])[:256], str(x["id"])[:256]
            await conn.execute(self._insert(t.changes).values(
                service=service, change_id=change_id, summary=str(x.get("summary", "")),
                kind=str(x.get("kind") or "deploy")[:32], at=float(x.get("at") or 0.0),
                environment=str(x.get("environment", ""))[:256], source=str(x.get("source", ""))[:256],
                links=list(x.get("links") or []), change_window=str(x.get("window", ""))[:200],
            ).on_conflict_do_nothing(index_elements=["service", "change_id"]))
            await conn.execute(self._insert(t.incident_changes).values(
                incident_id=incident_id, service=service, change_id=change_id,
                relation=str(x.get("relation", ""))[:16], distance=int(x.get("distance") or 0),
                reason=str(x.get("reason", "")), linked_at=at,
            ).on_conflict_do_nothing(index_elements=["incident_id", "service", "change_id"]))

    async def first_times(self, conn: AsyncConnection, incident_id: str, acknowledged: float | None,
                           resolved: float | None) -> None:
        c = t.incidents.c
        for column, value in ((c.first_acknowledged_at, acknowledged), (c.first_resolved_at, resolved)):
            if value is not None:
                await conn.execute(sa.update(t.incidents).where(
                    c.id == incident_id, sa.or_(column.is_(None), column > value)).values({column: float(value)}))

    async def write_detail(self, conn: AsyncConnection, incident_id: str, detail: IncidentDetail,
                           days: set[float] | None = None) -> None:
        """The incident's members, symptoms and runs; ``days``: gains the days its runs were created on (their
        roll-ups change: the caller touches them, ``touch_days``)."""
        group_id = incident_id.removeprefix("INC-").rpartition("-")[0]
        for member in detail.members:
            labels = {str(k): str(v) for k, v in (member.get("labels") or {}).items()}
            version = order_key(float(member.get("last_seen") or 0), float(member.get("rev") or 0),
                                str(member.get("count", 0)).zfill(12))
            insert = self._insert(t.incident_alerts).values(
                incident_id=incident_id, fingerprint=str(member["fingerprint"]), group_id=group_id,
                alertname=labels.get("alertname", ""), status=str(member.get("status", "")), labels=labels,
                state=dict(member), first_seen=float(member.get("first_seen") or 0),
                last_seen=float(member.get("last_seen") or 0), notifications=int(member.get("count") or 0),
                flapping=bool(member.get("flapping")), version=version)
            await conn.execute(insert.on_conflict_do_update(
                index_elements=["incident_id", "fingerprint"],
                set_={name: insert.excluded[name] for name in (
                    "status", "labels", "state", "last_seen", "notifications", "flapping", "version", "alertname")},
                where=t.incident_alerts.c.version < insert.excluded.version))
            await self._labels(conn, incident_id, labels)
        services = sorted({str(m["labels"]["service"]) for m in detail.members
                           if isinstance(m.get("labels"), Mapping) and m["labels"].get("service")})
        if services:  # no `service` group label: the members' service (the first by name when they differ)
            c = t.incidents.c
            await conn.execute(sa.update(t.incidents).where(c.id == incident_id, c.service == "")
                               .values(service=services[0][:200]))
        for symptom in detail.symptoms:
            labels = {str(k): str(v) for k, v in (symptom.get("labels") or {}).items()}
            await conn.execute(self._insert(t.incident_symptoms).values(
                incident_id=incident_id, group_id=str(symptom.get("group", "")),
                fingerprint=str(symptom.get("fingerprint", "")), alertname=labels.get("alertname", ""),
                labels=labels, detail=dict(symptom), at=float(symptom.get("at") or 0),
            ).on_conflict_do_nothing())
        await self.write_runs(conn, detail.runs, days=days)

    async def _labels(self, conn: AsyncConnection, incident_id: str, labels: Mapping[str, str]) -> None:
        rows = [{"incident_id": incident_id, "name": k[:200], "value": v}
                for k, v in labels.items() if len(v) <= LABEL_VALUE_MAX]
        if rows:
            await conn.execute(self._insert(t.incident_labels).values(rows).on_conflict_do_nothing())

    async def _timeline(self, conn: AsyncConnection, event: dict[str, Any], *, incident_id: str | None = None,
                        problem_id: str | None = None, status: str = "", priority: str = "") -> None:
        await conn.execute(self._insert(t.timeline_entries).values(
            event_id=event["event_id"], type=event["type"], incident_id=incident_id, problem_id=problem_id,
            at=float(event["at"]), by=event.get("by"), reason=str(event.get("reason", "")), status=status,
            priority=priority,
        ).on_conflict_do_nothing(index_elements=["event_id"]))

    async def _sla(self, conn: AsyncConnection, event: dict[str, Any], incident_id: str) -> None:
        """The SLA record the event carries, if newer than the stored (by the event's time: each SLA update of an
        incident publishes at its own ``now``, and one update moves a record once)."""
        sla, at = event["sla"], float(event["at"])
        pauses: list[tuple[float, float | None]] = [
            (float(p[0]), _num(p[1])) for p in sla.get("pauses") or () if isinstance(p, list | tuple) and len(p) == 2]
        rank = {"met": 3, "breached": 2, "warning": 1}.get(str(sla["stage"]), 0)
        insert = self._insert(t.sla_records).values(
            incident_id=incident_id, kind=str(sla["kind"]), policy=str(sla["policy"])[:200],
            priority=str(sla.get("priority", ""))[:8], calendar=str(sla.get("calendar", ""))[:200],
            target=float(sla["target"]), started=float(sla["started"]), due=_num(sla.get("due")),
            paused_seconds=sum((at if end is None else end) - start for start, end in pauses if start < at),
            pauses=[list(p) for p in pauses], pause_reasons=[str(r) for r in sla.get("pause_reasons") or ()],
            warned=int(sla.get("warned") or 0), stage=str(sla["stage"]), met_at=_num(sla.get("met_at")),
            breached_at=_num(sla.get("breached_at")), updated_at=at,
            version=order_key(at, float(rank), f"{int(sla.get('warned') or 0):03d}|{event['event_id']}"))
        await conn.execute(insert.on_conflict_do_update(
            index_elements=["incident_id", "kind"],
            set_={c.name: insert.excluded[c.name] for c in t.sla_records.columns
                  if c.name not in ("incident_id", "kind")},
            where=t.sla_records.c.version < insert.excluded.version))

    # -- problems, silences, runs -----------------------------------------------------------------------------

    async def _problem(self, conn: AsyncConnection, event: dict[str, Any], doc: Doc) -> None:
        await self.upsert_problem(conn, doc, event_version(event, doc))
        await self._timeline(conn, event, problem_id=str(doc["id"]), status=str(doc.get("status", "")))

    async def upsert_problem(self, conn: AsyncConnection, doc: Doc, version: str) -> None:
        problem_id = str(doc["id"])
        insert = self._insert(t.problems).values(
            id=problem_id, rule=str(doc.get("rule", "")), title=str(doc.get("title", "")),
            status=str(doc["status"]), team=str(doc.get("team", "")), signature=doc.get("signature") or {},
            why=doc.get("why") or {}, created_by=str(doc.get("created_by", "")),
            created_at=float(doc["created_at"]), updated_at=float(doc["updated_at"]),
            resolved_at=_num(doc.get("resolved_at")), version=version)
        newest = (await conn.execute(insert.on_conflict_do_update(
            index_elements=["id"],
            set_={name: insert.excluded[name] for name in (
                "rule", "title", "status", "team", "signature", "why", "created_by", "updated_at", "resolved_at",
                "version")},
            where=t.problems.c.version < insert.excluded.version,
        ).returning(t.problems.c.id))).first() is not None
        listed = sorted({str(i) for i in doc.get("incidents") or ()})
        pi = t.problem_incidents
        if not newest:
            # an older document: the newest one decided the links; an incident only this one lists was linked
            # once and is not now (kept, unlinked, under the deciding version)
            current = sa.select(t.problems.c.version).where(t.problems.c.id == problem_id).scalar_subquery()
            for incident_id in listed:
                await conn.execute(self._insert(pi).from_select(
                    ["problem_id", "incident_id", "linked", "version"],
                    sa.select(sa.literal(problem_id), sa.literal(incident_id), sa.false(), current),
                ).on_conflict_do_nothing())
            return
        for incident_id in listed:
            insert = self._insert(pi).values(problem_id=problem_id, incident_id=incident_id, linked=True,
                                             version=version)
            await conn.execute(insert.on_conflict_do_update(
                index_elements=["problem_id", "incident_id"], set_={"linked": True, "version": version},
                where=pi.c.version < version))
        # the newest document's list decides: an incident it no longer lists was unlinked
        await conn.execute(sa.update(pi).where(
            pi.c.problem_id == problem_id, pi.c.version < version, pi.c.incident_id.not_in(listed)
        ).values(linked=False, version=version))

    async def _silence(self, conn: AsyncConnection, event: dict[str, Any], doc: Doc) -> None:
        at = float(event["at"])
        expired = event["type"] == "silence.expired"
        await self.upsert_silence(conn, doc, order_key(at, at, event["event_id"]),
                                  expired=(at, event.get("by")) if expired else None)

    async def upsert_silence(self, conn: AsyncConnection, doc: Doc, version: str, *,
                             expired: tuple[float, str | None] | None) -> None:
        insert = self._insert(t.silences).values(
            id=str(doc["id"]), matchers=list(doc.get("matchers") or []), starts_at=float(doc["starts_at"]),
            ends_at=float(doc["ends_at"]), created_by=str(doc.get("created_by", "")),
            comment=str(doc.get("comment", "")), created_at=float(doc.get("created_at") or doc["starts_at"]),
            expired_at=expired[0] if expired else None, expired_by=expired[1] if expired else None, version=version)
        changed = ["matchers", "starts_at", "ends_at", "comment", "version"]
        if expired:
            changed += ["expired_at", "expired_by"]
        await conn.execute(insert.on_conflict_do_update(
            index_elements=["id"], set_={name: insert.excluded[name] for name in changed},
            where=t.silences.c.version < insert.excluded.version))

    async def write_runs(self, conn: AsyncConnection, runs: Iterable[Mapping[str, Any]],
                         decided: tuple[str | None, float, str] | None = None, *,
                         days: set[float] | None = None) -> None:
        """Upsert the runs; ``days``: gains the day each was created on (its run roll-up changes: the caller
        touches them, in order, with the rest of its transaction's days)."""
        for run in runs:
            record = {str(k): v if isinstance(v, str) else str(v) for k, v in run.items()}
            if not record.get("run_id"):
                continue
            created = _num(record.get("created_at"))
            if days is not None and created is not None:
                days.add(day_of(created))
            # retry_at: a run retrying again (or running its next attempt) is newer than its earlier attempts
            moment = max(_num(record.get(k)) or 0.0 for k in ("finished_at", "decided_at", "retry_at", "started_at",
                                                               "created_at"))
            if decided is not None:
                moment = max(moment, decided[1])
            version = order_key(moment, _STATE_RANK.get(record.get("state", ""), 0), record.get("state", ""))
            insert = self._insert(t.action_runs).values(
                run_id=record["run_id"], incident_id=record.get("incident", ""),
                problem_id=record.get("problem", ""), action=record.get("action", ""), type=record.get("type", ""),
                rule=record.get("rule", ""), trigger=record.get("trigger", ""), state=record.get("state", ""),
                created_at=_num(record.get("created_at")), finished_at=_num(record.get("finished_at")),
                decided_by=record.get("decided_by") or (decided[0] if decided else None), record=record,
                version=version)
            await conn.execute(insert.on_conflict_do_update(
                index_elements=["run_id"],
                set_={name: insert.excluded[name] for name in (
                    "state", "finished_at", "decided_by", "record", "version")},
                where=t.action_runs.c.version < insert.excluded.version))


_PEOPLE = ("assignee", "acknowledged_by", "acknowledged_at", "resolved_by", "reopened_by")
#: a major incident's fields (issue 21), in every people's event's incident once it is major
MAJOR = ("major_at", "commander", "communications_lead", "status_updates", "last_update_at")


def major_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The major incident columns from an incident document (all None when it is not major)."""
    if not doc.get("major") and not doc.get("major_at"):
        return dict.fromkeys(MAJOR)
    updates = _num(doc.get("status_updates"))
    return {"major_at": _num(doc.get("major_at")), "commander": str(doc.get("commander") or "")[:200] or None,
            "communications_lead": str(doc.get("communications_lead") or "")[:200] or None,
            "status_updates": int(updates) if updates is not None else None,
            "last_update_at": _num(doc.get("last_update_at"))}
#: a run's states in the order they can follow each other (a later state wins a tie on time)
_STATE_RANK = {"pending_approval": 1, "approved": 2, "running": 3, "retrying": 3, "rejected": 4, "expired": 4,
               "skipped": 4, "failed": 4, "succeeded": 4}


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
