"""Recordings from the history store: ``stormwatch recording convert --from history``.

The history keeps, for each incident, the latest state of each member alert (``incident_alerts.state``:
``AlertState.public()``) and the alerts attached to it as symptoms (``incident_symptoms``); its timeline says which
incidents merged into which (``incident.merged``), and ``problem_incidents`` which problem each incident is linked
to. From these the converter writes a recording (docs/quality.md), labelled with what Stormwatch decided:

* a member alert: a firing notification when Stormwatch first saw it (``first_seen``; its episode starts at
  ``starts_at``, or then if that is later: a member that fired again within the incident keeps only its latest
  episode), a repeat at ``last_seen`` when it was notified more than once and still firing then, and a resolved
  notification at ``ends_at`` when it resolved;
* a symptom: a firing notification when it was first attached (``at``) and, when the incident it ended in has
  resolved, a resolved notification then (the history does not keep a symptom's own end: it is taken to clear with
  its cause). A symptom that came with a merge (``merged_from``) is the member alert of the merged incident, and one
  carried along a merge is the same symptom: each is written once. A member still firing in the history when the
  incident it ended in resolved (it merged, or a person resolved it) is taken to resolve then too;
* ``truth``: the incident it counted in (a member's incident, a symptom's cause incident), followed through merges
  to the incident it ended in; ``problem``: the problem that incident is linked to, if any.

The truth is Stormwatch's own placement, so a converted recording scores the rules it ran with at 1.000 (when the
rules and the recording agree; the history keeps neither every notification nor every episode), and is the starting
point an SRE corrects line by line where the grouping was wrong: a changed ``truth`` is what ``backtest --truth``
then scores every rule set against. Incidents are selected by when they opened (``since`` <= created_at < ``until``).
A row the converter cannot read (a state without its times or labels) is refused with its incident and fingerprint
(``RecordingError``), and nothing is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from replay.recordings import RecordingError, recording_line
from rules.alert import Alert
from stormwatch.history import schema as t

MERGED = "merged into "


@dataclass(frozen=True, slots=True)
class _Line:
    at: float
    alert: Alert
    truth: str

    def key(self) -> tuple[float, str, int]:
        return self.at, self.alert.fingerprint, self.alert.status == "resolved"


async def history_recording(engine: AsyncEngine, *, since: float | None = None,
                            until: float | None = None) -> list[bytes]:
    """The recording lines of the incidents opened in [since, until), in time order."""
    c = t.incidents.c
    query = sa.select(c.id, c.resolved_at)
    if since is not None:
        query = query.where(c.created_at >= since)
    if until is not None:
        query = query.where(c.created_at < until)
    async with engine.connect() as conn:
        incidents = {row.id: row.resolved_at for row in await conn.execute(query.order_by(c.created_at, c.id))}
        ids = list(incidents)
        members: list[Any] = []
        symptoms: list[Any] = []
        merged: dict[str, str] = {}
        linked: dict[str, str] = {}
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            a, s, tl, pi = t.incident_alerts.c, t.incident_symptoms.c, t.timeline_entries.c, t.problem_incidents.c
            members += (await conn.execute(sa.select(a.incident_id, a.fingerprint, a.state)
                                           .where(a.incident_id.in_(chunk)))).all()
            symptoms += (await conn.execute(sa.select(s.incident_id, s.fingerprint, s.labels, s.detail, s.at)
                                            .where(s.incident_id.in_(chunk)))).all()
            for row in await conn.execute(sa.select(tl.incident_id, tl.reason)
                                          .where(tl.incident_id.in_(chunk), tl.type == "incident.merged")):
                if row.reason.startswith(MERGED):
                    merged[row.incident_id] = row.reason[len(MERGED):].split()[0]
            linked.update((row.incident_id, row.problem_id) for row in await conn.execute(
                sa.select(pi.incident_id, pi.problem_id).where(pi.incident_id.in_(chunk), pi.linked.is_(True))
                .order_by(pi.problem_id)))
    lines = _member_lines(members, incidents, merged) + _symptom_lines(symptoms, members, incidents, merged)
    lines.sort(key=_Line.key)
    out = []
    for line in lines:
        truth = line.truth
        out.append(recording_line(line.at, line.alert, truth, linked.get(truth)))
    return out


def root(incident: str, merged: Mapping[str, str]) -> str:
    """The incident ``incident`` ended in, following merges (a cycle, which merging never makes, stops)."""
    seen = {incident}
    while incident in merged and merged[incident] not in seen:
        incident = merged[incident]
        seen.add(incident)
    return incident


def _member_lines(rows: Sequence[Any], resolved: Mapping[str, float | None],
                  merged: Mapping[str, str]) -> list[_Line]:
    out: list[_Line] = []
    for row in rows:
        try:
            state: Mapping[str, Any] = row.state
            labels = {str(k): str(v) for k, v in state["labels"].items()}
            first, last = float(state["first_seen"]), float(state["last_seen"])
            starts = min(float(state["starts_at"]), first)
            status, ends = str(state["status"]), state.get("ends_at")
            count = int(state.get("count") or 1)
            annotations = {str(k): str(v) for k, v in (state.get("annotations") or {}).items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RecordingError(f"incident {row.incident_id}, alert {row.fingerprint}: unreadable state "
                                 f"({type(exc).__name__}: {exc})") from None
        truth = root(row.incident_id, merged)
        base = Alert(labels=labels, status="firing", starts_at=starts, received_at=first,
                     fingerprint=str(row.fingerprint), source=str(state.get("source") or "history"),
                     annotations=annotations,
                     generator_url=str(state.get("generator_url") or ""))
        out.append(_Line(first, base, truth))
        resolved_at = max(float(ends), first) if status == "resolved" and ends is not None else None
        if status == "firing" and resolved.get(truth) is not None:  # it stopped counting there (a merge, a person)
            resolved_at = max(float(resolved[truth] or 0.0), last)
        if count > 1 and first < last and (resolved_at is None or last < resolved_at):
            out.append(_Line(last, dataclasses.replace(base, received_at=last), truth))
        if resolved_at is not None:
            out.append(_Line(resolved_at, dataclasses.replace(base, status="resolved", received_at=resolved_at,
                                                              ends_at=resolved_at), truth))
    return out


def _symptom_lines(rows: Sequence[Any], members: Sequence[Any], resolved: Mapping[str, float | None],
                   merged: Mapping[str, str]) -> list[_Line]:
    written = {(m.incident_id, m.fingerprint) for m in members}
    first: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}  # (truth, fingerprint) -> its earliest attachment
    for row in rows:
        detail: Mapping[str, Any] = row.detail if isinstance(row.detail, Mapping) else {}
        if (detail.get("merged_from"), row.fingerprint) in written:
            continue  # the merged incident's member: written as a member (its truth follows the merge)
        try:
            labels = {str(k): str(v) for k, v in row.labels.items()}
            at = float(row.at)
        except (TypeError, ValueError, AttributeError) as exc:
            raise RecordingError(f"incident {row.incident_id}, symptom {row.fingerprint}: unreadable "
                                 f"({type(exc).__name__}: {exc})") from None
        key = (root(row.incident_id, merged), str(row.fingerprint))  # a symptom carried along a merge: once
        if key not in first or at < first[key][0]:
            first[key] = (at, labels)
    out: list[_Line] = []
    for (truth, fp), (at, labels) in first.items():
        out.append(_Line(at, Alert(labels=labels, status="firing", starts_at=at, received_at=at, fingerprint=fp,
                                   source="history"), truth))
        end = resolved.get(truth)
        if end is not None and end > at:
            out.append(_Line(end, Alert(labels=labels, status="resolved", starts_at=at, received_at=end,
                                        fingerprint=fp, source="history", ends_at=end), truth))
    return out
