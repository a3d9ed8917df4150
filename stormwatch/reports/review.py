"""A post-incident review draft: summary, impact, probable causes (changes linked to the incident), a timeline of
changes, alerts, symptoms, actions and people's comments; SLA records; for a major incident (issue 21) its roles
and its stakeholder updates.

Read from the history (``from_history``); an incident the history does not hold (the writer was off, or it is
too recent) is drafted from what Redis still holds (``from_detail`` over the API's incident detail), which has the
members and the timeline but not the action runs' outcomes unless given. One document either way (``source`` says
which), rendered as Markdown by ``markdown`` or kept as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from stormwatch.history import schema as t
from stormwatch.reports.labels import duration

#: timeline kinds a person wrote (comments carry their text)
COMMENT = "commented"
#: a stakeholder update's timeline kind (major incidents)
STATUS_UPDATE = "status_update"


def _when(at: float | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else "–"


def _num(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


async def from_history(engine: AsyncEngine, incident_id: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(t.incidents).where(t.incidents.c.id == incident_id))).mappings().first()
        if row is None:
            return None
        m = t.incident_alerts.c
        members = [dict(r) for r in (await conn.execute(
            sa.select(m.fingerprint, m.alertname, m.status, m.labels, m.first_seen, m.last_seen, m.notifications,
                      m.flapping).where(m.incident_id == incident_id).order_by(m.first_seen, m.fingerprint)
        )).mappings()]
        s = t.incident_symptoms.c
        symptoms = [dict(r) for r in (await conn.execute(
            sa.select(s.alertname, s.labels, s.at, s.detail).where(s.incident_id == incident_id).order_by(s.at)
        )).mappings()]
        tl = t.timeline_entries.c
        timeline = [dict(r) for r in (await conn.execute(
            sa.select(tl.type, tl.at, tl.by, tl.reason, tl.status).where(tl.incident_id == incident_id)
            .order_by(tl.at, tl.event_id))).mappings()]
        r = t.action_runs.c
        runs = [dict(x) for x in (await conn.execute(
            sa.select(r.run_id, r.action, r.type, r.state, r.created_at, r.finished_at, r.record)
            .where(r.incident_id == incident_id).order_by(r.created_at))).mappings()]
        pi = t.problem_incidents.c
        problems = [x[0] for x in await conn.execute(
            sa.select(pi.problem_id).where(pi.incident_id == incident_id, pi.linked.is_(True)))]
        sc = t.sla_records.c
        sla = [dict(x) for x in (await conn.execute(
            sa.select(sc.kind, sc.policy, sc.priority, sc.target, sc.calendar, sc.started, sc.due, sc.paused_seconds,
                      sc.stage, sc.met_at, sc.breached_at).where(sc.incident_id == incident_id).order_by(sc.kind)
        )).mappings()]
        ic, ch = t.incident_changes.c, t.changes.c
        changes = [{"id": x["change_id"], **{k: v for k, v in x.items() if k != "change_id"}} for x in (
            await conn.execute(
                sa.select(ch.change_id, ch.service, ch.summary, ch.kind, ch.at, ch.environment, ch.source, ch.links,
                          ic.relation, ic.distance, ic.reason)
                .select_from(t.incident_changes)
                .join(t.changes, sa.and_(ch.service == ic.service, ch.change_id == ic.change_id))
                .where(ic.incident_id == incident_id))).mappings()]
    entries = [{"at": e["at"], "kind": e["type"].partition(".")[2], "text": e["reason"], "by": e["by"]}
               for e in timeline]
    return draft(dict(row), members, symptoms, entries, runs, problems, source="history", sla=sla, changes=changes)


def from_detail(detail: Mapping[str, Any], runs: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The draft from the incident detail the API (or Redis) answers: members and timeline, no history."""
    members = [{"fingerprint": a.get("fingerprint"), "alertname": (a.get("labels") or {}).get("alertname", ""),
                "status": a.get("status"), "labels": a.get("labels") or {}, "first_seen": a.get("first_seen"),
                "last_seen": a.get("last_seen"), "notifications": a.get("count"), "flapping": a.get("flapping")}
               for a in detail.get("members") or ()]
    entries = [{"at": e.get("at"), "kind": e.get("kind", ""), "text": e.get("text", ""), "by": e.get("by"),
                "state": e.get("state"), "number": e.get("number")} for e in detail.get("timeline") or ()]
    run_rows = [{"run_id": r.get("run_id"), "action": r.get("action"), "type": r.get("type"),
                 "state": r.get("state"), "created_at": _num(r.get("created_at")),
                 "finished_at": _num(r.get("finished_at")), "record": dict(r)} for r in runs]
    symptoms = [{"alertname": (x.get("labels") or {}).get("alertname", ""), "labels": x.get("labels") or {},
                 "at": _num(x.get("at"))} for x in detail.get("symptoms") or () if isinstance(x, Mapping)]
    incident = {k: v for k, v in detail.items() if k not in ("members", "timeline")}
    sla = [{k: r.get(k) for k in SLA_FIELDS} | {"paused_seconds": _paused(r)}
           for r in detail.get("sla") or () if isinstance(r, Mapping)]
    changes = [dict(c) for c in detail.get("changes") or () if isinstance(c, Mapping)]
    return draft(incident, members, symptoms, entries, run_rows, [], source="redis", sla=sla, changes=changes)


#: what the draft shows of each SLA record
SLA_FIELDS = ("kind", "policy", "priority", "target", "calendar", "started", "due", "paused_seconds", "stage",
              "met_at", "breached_at")


def _paused(record: Mapping[str, Any]) -> float | None:
    """Paused seconds of a record the API shows (its closed pauses; an open one counts up to now there)."""
    if record.get("paused_seconds") is not None:
        return _num(record.get("paused_seconds"))
    pauses = [p for p in record.get("pauses") or () if isinstance(p, list | tuple) and len(p) == 2]
    return sum(float(e) - float(s) for s, e in pauses if e is not None)


def draft(incident: Mapping[str, Any], members: list[dict[str, Any]], symptoms: list[dict[str, Any]],
          entries: list[dict[str, Any]], runs: list[dict[str, Any]], problems: list[str], *,
          source: str, sla: list[dict[str, Any]] | None = None,
          changes: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """``changes``: the probable causes linked to the incident (id, service, summary, kind, at, relation, distance,
    reason), ranked here as everywhere: same service, dependency distance, symptoms, most recent first."""
    causes = [{k: c.get(k) for k in ("id", "service", "summary", "kind", "at", "environment", "source", "links",
                                     "relation", "distance", "reason")} for c in changes]
    order = {"same_service": 0, "dependency": 1, "symptom": 2}
    causes.sort(key=lambda c: (order.get(str(c["relation"]), 3), c["distance"] or 0, -(_num(c["at"]) or 0.0),
                               str(c["id"])))
    created = _num(incident.get("created_at"))
    acked = _num(incident.get("first_acknowledged_at") or incident.get("acknowledged_at"))
    resolved = _num(incident.get("first_resolved_at") or incident.get("resolved_at"))
    timeline: list[dict[str, Any]] = []
    for c in causes:
        timeline.append({"at": _num(c["at"]), "what": "probable cause",
                         "text": f"{c['kind']} of {c['service']}: {c['summary']}"})
    for m in members:
        timeline.append({"at": m["first_seen"], "what": "alert",
                         "text": f"{m['alertname'] or m['fingerprint']} fired ({_labels(m['labels'])})"})
    for s in symptoms:
        timeline.append({"at": s["at"], "what": "symptom",
                         "text": f"{s['alertname']} attached as a symptom ({_labels(s['labels'])})"})
    for r in runs:
        timeline.append({"at": r["created_at"], "what": "action",
                         "text": f"action {r['action']} ({r['type']}): {r['state']}"})
    major = _major(incident, entries)
    numbered = iter(major["status_updates"] if major else ())  # in the order of the entries they came from
    for e in entries:
        if e["kind"] == STATUS_UPDATE and major:
            u = next(numbered)
            timeline.append({"at": e["at"], "what": "status update", "by": e["by"],
                             "text": f"#{u['number']}" + (f" ({u['state']})" if u["state"] else "") + f": {u['text']}"})
            continue
        what = "comment" if e["kind"] == COMMENT else "change"
        text = e["text"] if what == "comment" else f"{e['kind']}: {e['text']}" if e["text"] else e["kind"]
        timeline.append({"at": e["at"], "what": what, "by": e["by"], "text": text})
    timeline.sort(key=lambda x: (x["at"] if x["at"] is not None else 0.0, x["what"]))
    return {
        "source": source,
        "incident": {k: incident.get(k) for k in ("id", "title", "status", "severity", "priority", "team",
                                                   "rule", "group_labels", "assignee")},
        "summary": {"opened_at": created, "acknowledged_at": acked, "resolved_at": resolved,
                    "time_to_acknowledge": acked - created if acked is not None and created is not None else None,
                    "time_to_resolve": resolved - created if resolved is not None and created is not None else None},
        "impact": {"alerts": len(members) or incident.get("alerts", 0),
                   "notifications": incident.get("occurrences", 0),
                   "services": sorted({str((m.get("labels") or {}).get("service")) for m in members
                                       if (m.get("labels") or {}).get("service")}),
                   "symptoms": len(symptoms) or incident.get("symptoms", 0), "problems": problems},
        "probable_causes": causes,
        "actions": [{"run_id": r["run_id"], "action": r["action"], "state": r["state"],
                     "created_at": r["created_at"], "finished_at": r["finished_at"]} for r in runs],
        "comments": [{"at": e["at"], "by": e["by"], "text": e["text"]} for e in entries if e["kind"] == COMMENT],
        "major": major,
        "timeline": timeline,
        "sla": [{k: r.get(k) for k in SLA_FIELDS} for r in sla or ()],
    }


def _updates(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["kind"] == STATUS_UPDATE]


def _major(incident: Mapping[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A major incident's part of the review (None for another): when it became major and how long after it opened,
    its incident commander and communications lead, and its stakeholder updates, numbered, oldest first."""
    major_at = _num(incident.get("major_at"))
    if major_at is None and not incident.get("major"):
        return None
    created = _num(incident.get("created_at"))
    updates = [{"number": e.get("number") or n, "at": e["at"], "by": e["by"], "state": e.get("state"),
                "text": e["text"]} for n, e in enumerate(_updates(entries), 1)]
    return {"major_at": major_at,
            "time_to_major": max(major_at - created, 0.0) if major_at is not None and created is not None else None,
            "commander": incident.get("commander") or None,
            "communications_lead": incident.get("communications_lead") or None,
            "status_updates": updates}


def _major_md(major: Mapping[str, Any] | None) -> list[str]:
    """The summary's lines of a major incident: since when, and its roles."""
    if not major:
        return []
    after = f" (after {duration(major['time_to_major'])})" if major.get("time_to_major") else ""
    return [f"- Major incident since: {_when(major['major_at'])}{after}",
            f"- Incident commander: {_md(major.get('commander') or 'none assigned')}; communications lead: "
            f"{_md(major.get('communications_lead') or 'none assigned')}",
            f"- Stakeholder updates: {len(major['status_updates'])}"]


def _sla_line(r: Mapping[str, Any]) -> str:
    target = duration(float(r["target"])) if r.get("target") is not None else "?"
    outcome = {"met": f"met at {_when(r.get('met_at'))}",
               "breached": f"breached at {_when(r.get('breached_at'))}"
               + (f", met late at {_when(r.get('met_at'))}" if r.get("met_at") is not None else "")
               }.get(str(r.get("stage")), f"{_md(r.get('stage'))}, due {_when(r.get('due'))}")
    paused = f"; paused {duration(float(r['paused_seconds']))}" if r.get("paused_seconds") else ""
    return (f"- {_md(r.get('kind'))}: target {target} ({_md(r.get('calendar') or '24x7')}, policy "
            f"{_md(r.get('policy'))}, {_md(r.get('priority') or 'no priority')}): {outcome}{paused}")


def _labels(labels: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _md(text: Any) -> str:
    """Text from the data, safe in Markdown: no markup, no HTML, one line."""
    out = str(text).replace("\r", " ").replace("\n", " ")
    for ch in "\\`*_{}[]<>#|!":
        out = out.replace(ch, "\\" + ch)
    return out


def markdown(review: Mapping[str, Any]) -> str:
    inc, summary, impact = review["incident"], review["summary"], review["impact"]
    lines = [f"# Post-incident review: {_md(inc['id'])}: {_md(inc['title'])}", "",
             f"_Draft from the {review['source']}; edit before sharing._", "", "## Summary", "",
             f"- Status: {_md(inc['status'])}; priority {_md(inc.get('priority') or 'none')}; severity "
             f"{_md(inc.get('severity') or '')}; team {_md(inc.get('team') or 'none')}",
             f"- Opened: {_when(summary['opened_at'])}",
             f"- Acknowledged: {_when(summary['acknowledged_at'])}"
             + (f" (after {duration(summary['time_to_acknowledge'])})" if summary["time_to_acknowledge"] is not None
                else ""),
             f"- Resolved: {_when(summary['resolved_at'])}"
             + (f" (after {duration(summary['time_to_resolve'])})" if summary["time_to_resolve"] is not None
                else ""),
             *_major_md(review.get("major")),
             "", "## Impact", "",
             f"- Alerts: {impact['alerts']}; notifications: {impact['notifications']}; symptoms: {impact['symptoms']}",
             f"- Services: {_md(', '.join(impact['services']) or 'none recorded')}",
             f"- Problems: {_md(', '.join(impact['problems']) or 'none')}", ""]
    causes = review.get("probable_causes") or []
    if causes:
        lines += ["## Probable causes (changes)", ""]
        lines += [f"- {_md(c['summary'])} ({_md(c['kind'])} of {_md(c['service'])}, {_when(_num(c['at']))}): "
                  f"{_md(c['reason'])}" for c in causes]
        lines += [""]
    lines += ["## Timeline", ""]
    lines += [f"- {_when(e['at'])} · {e['what']}: {_md(e['text'])}" + (f" ({_md(e['by'])})" if e.get("by") else "")
              for e in review["timeline"]] or ["- (nothing recorded)"]
    major = review.get("major")
    if major:
        lines += ["", "## Stakeholder updates", ""]
        lines += [f"- {_when(u['at'])} · #{u['number']}" + (f" ({_md(u['state'])})" if u.get("state") else "")
                  + (f" by {_md(u['by'])}" if u.get("by") else "") + f": {_md(u['text'])}"
                  for u in major["status_updates"]] or ["- none published"]
    lines += ["", "## Actions", ""]
    lines += [f"- {_md(a['action'])}: {_md(a['state'])} (run {_md(a['run_id'])}, {_when(a['created_at'])})"
              for a in review["actions"]] or ["- none"]
    lines += ["", "## Service levels", ""]
    lines += [_sla_line(r) for r in review.get("sla") or ()] or ["- no SLA record"]
    lines += ["", "## Comments", ""]
    lines += [f"- {_when(c['at'])} {_md(c['by'] or '')}: {_md(c['text'])}" for c in review["comments"]] or ["- none"]
    lines += ["", "## What went well / what to improve / follow-ups", "", "- ", ""]
    return "\n".join(lines)
