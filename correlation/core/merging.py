"""A late cause merges: the incident its symptoms opened before it fired joins the cause's incident. Pure, no I/O.

A symptom that arrives before its cause (and outlives its rule's ``hold``, or has none) opens an incident of its own,
and pages. When the cause fires later, that incident is one outage paged twice. Under an inhibit rule or a topology
with ``merge_late_symptoms`` (the default), it merges:

* **Who may merge.** A firing member of an incident that could be a symptom under such a rule (its *candidate*
  keys: ``CauseRules.merge_keys``) is written to a candidate index beside the cause index, as sources are
  (``Decision.candidates``). When a source starts firing under a key, the incidents of the candidates under that key
  are looked at; when a candidate is written, the sources already under its keys are (so a source and a candidate
  written at once by two workers are never both missed: each writes, then reads the other's index).
* **Looked at once, by one worker.** "Look at it" is a due-now timer ``m|<gid>|<incident>`` on the shared timer
  index: one worker claims it and decides under the group's compare-and-set, with the idempotency marker of every
  timer, so a merge is applied exactly once however many sources, workers and redeliveries asked for it.
* **What merges** (``plan_merges``): an open incident (not one a person acknowledged: someone works it) whose every
  alert still counted as firing is explained by a *firing* cause (not one in its recovery grace) in another incident,
  under a rule that merges. It merges into the incident explaining most of its alerts (ties: the lowest id); a chain
  (a explained by b, b by c) merges into its end; a cycle (a explained by b, b by a: nobody is the root) merges none
  of its incidents. An incident with any unexplained alert stays: it paged for something the cause does not explain.
* **How** (``merge``): each of its firing alerts becomes a symptom of its own cause's incident, with its inhibit rule
  or topology path (``Symptom.merged_from`` names the incident it left), exactly as if it had arrived after its
  cause; the incident resolves as ``merged into INC-...`` (``Incident.merged_into``), publishing
  ``incident.resolved`` (a subscriber that only knows that closes what it opened) and then ``incident.merged``.
  Both timelines say why: the merged incident's own entry, and the cause incident's symptom entries. The symptoms
  that had attached to the merged incident are attached again to the incident it merged into (``rehomed``), with
  their topology path extended along the merge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from correlation.core.causes import Cause, Entry
from correlation.core.decision import Event, Symptom
from correlation.core.lifecycle import SYMPTOM_CANDIDATE, DecisionBuilder, describe
from correlation.core.model import AlertState, Incident

IndexUpdate = tuple[str, str, int, str]  # (cause key, fingerprint, stamp, tail): Decision.sources / .candidates
Index = Mapping[str, Mapping[str, Entry]]  # cause key -> fingerprint -> entry


def plan_merges(explained: Mapping[str, Sequence[str | None]]) -> dict[str, str]:
    """Which incident merges into which, given for each incident the cause incident of each of its firing alerts
    (None: no merging cause explains that alert). Returns incident -> the incident it merges into.

    No incident merges into itself, none merged here is the target of another merge, and planning the result again
    gives the result (``plan_merges({a: [b] for a, b in plan.items()}) == plan``)."""
    edges: dict[str, str] = {}
    for incident, causes in explained.items():
        if not causes or any(c is None or c == incident for c in causes):
            continue
        counts = Counter(c for c in causes if c is not None)
        edges[incident] = min(counts, key=lambda c: (-counts[c], c))
    in_cycle: set[str] = set()
    for start in edges:
        seen: list[str] = []
        node: str | None = start
        while node is not None and node in edges and node not in seen and node not in in_cycle:
            seen.append(node)
            node = edges[node]
        if node is not None and node in seen:
            in_cycle.update(seen[seen.index(node):])
    plan: dict[str, str] = {}
    for start in edges:
        if start in in_cycle:
            continue
        node = edges[start]
        while node in edges and node not in in_cycle:
            node = edges[node]
        plan[start] = node
    return plan


def merging_cause(cause: Cause | None, incident_id: str) -> Cause | None:
    """The cause if it may take an alert of ``incident_id`` by a merge: firing, under a merging rule, elsewhere."""
    if cause is None or not cause.merge or cause.until is not None or cause.incident == incident_id:
        return None
    return cause


def decide_merge(b: DecisionBuilder, incident_id: str, now: float) -> None:
    """The merge timer of ``incident_id`` fell due: merge it if late causes now explain all its firing alerts.
    Needs the incident's member set and every member's state in ``b.state`` (it decides nothing on a partial view:
    a member that joined after the set was read makes the count differ; its own candidate write looks again), and
    ``b.ctx.cause``."""
    incident = b.state.open_incident(incident_id)
    if incident is None or incident.status != "open" or b.ctx.cause is None:
        return
    fps = b.state.incident_members.get(incident_id)
    if fps is None or len(fps) != incident.alerts or not fps <= b.state.alerts.keys():
        return
    # members that left it (a re-fire that became a symptom, or joined a newer incident) are not counted in it
    members = [b.state.alerts[fp] for fp in sorted(fps) if b.state.alerts[fp].incident == incident_id]
    counted = [a for a in members if a.status == "firing" or a.flapping]
    if not counted:
        return
    causes = {a.fingerprint: merging_cause(b.ctx.cause(a.labels, a.fingerprint, now, a.starts_at), incident_id)
              if a.status == "firing" else None for a in counted}
    into = plan_merges({incident_id: [c.incident if c else None for c in causes.values()]}).get(incident_id)
    if into is not None:
        merge(b, incident, into, [(a, causes[a.fingerprint]) for a in counted], now)


def merge(b: DecisionBuilder, incident: Incident, into: str, alerts: Sequence[tuple[AlertState, Cause | None]],
          now: float) -> None:
    """``incident`` merges into ``into``: each firing alert becomes a symptom of its cause; the incident resolves."""
    for alert, cause in alerts:
        assert cause is not None  # plan_merges merges only an incident whose every firing alert has a cause
        b.touch(alert)
        alert.muted, alert.cause, alert.hold_until, alert.incident = cause.reason, cause.incident, None, ""
        b.decision.symptoms.append(Symptom(cause.incident, b.state.group_id, alert.fingerprint, dict(alert.labels),
                                           cause.kind, cause.rule, cause.path, now, merged_from=incident.id,
                                           evidence=cause.evidence))
    first = next(c for _, c in alerts if c is not None and c.incident == into)
    incident.firing, incident.flapping, incident.merged_into = 0, 0, into
    names = ", ".join(sorted({describe(a.labels) for a, _ in alerts}))
    b.note(incident, "merged", f"merged into {into}: its cause fired after it opened; {names} "
                               f"{'is' if len(alerts) == 1 else 'are'} now symptoms there ({first.describe()})", now)
    b.resolve(incident, f"merged into {into}", now)
    b.decision.events.append(Event("incident.merged", incident.id, f"merged into {into}", now))


def rehomed(merges: Mapping[str, str], attached: Mapping[str, Sequence[Mapping[str, Any]]],
            moved: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The symptoms that were attached to incidents that merged (``attached``: merged incident -> its symptoms, as
    ``Symptom.public``), attached again to the incident each merged into (``merges``), so the root's incident shows
    them at once rather than at their next notification. A topology path is extended along the merge (``moved``: the
    merge's own symptoms): web > api, with api's alert merged along api > db, becomes web > api > db."""
    out: list[dict[str, Any]] = []
    for merged, into in merges.items():
        onward = {tuple(m["path"])[0]: m for m in moved
                  if m.get("merged_from") == merged and m["kind"] == "topology" and m["path"]}
        for symptom in attached.get(merged, ()):
            doc = dict(symptom, incident=into, merged_from=merged)
            path = list(symptom["path"])
            step = onward.get(path[-1]) if symptom["kind"] == "topology" and path else None
            if step is not None:
                doc["path"], doc["rule"] = path + list(step["path"][1:]), step["rule"]
            out.append(doc)
    return out


def late_cause_reads(sources: Iterable[IndexUpdate], candidates: Iterable[IndexUpdate]) -> tuple[list[str], list[str]]:
    """After these index updates: (the candidate index keys, the cause index keys) to read for ``to_check``."""
    candidate_keys = {key: None for key, _, stamp, tail in sources if Entry.of_tail(stamp, tail).firing}
    cause_keys = {key: None for key, _, _, incident in candidates if incident and not _symptom(incident)}
    return list(candidate_keys), list(cause_keys)


def to_check(sources: Iterable[IndexUpdate], candidates: Iterable[IndexUpdate], candidate_index: Index,
             cause_index: Index) -> set[str]:
    """The incidents a merge timer should look at: those of candidates under a key a source started firing under,
    and those of new candidates under a key some other incident's source fires under."""
    out: set[str] = set()
    for key, fp, stamp, tail in sources:
        source = Entry.of_tail(stamp, tail)
        if source.firing:
            out.update(e.incident for cfp, e in candidate_index.get(key, {}).items()
                       if cfp != fp and e.incident and e.incident != source.incident and not _symptom(e.incident))
    for key, fp, _, incident in candidates:
        if incident and not _symptom(incident) and any(
                sfp != fp and e.incident and e.stopped is None and e.incident != incident
                for sfp, e in cause_index.get(key, {}).items()):
            out.add(incident)
    return out


def to_replace(sources: Iterable[IndexUpdate], candidate_index: Index) -> set[tuple[str, str]]:
    """The symptoms to place again now, as (group id, fingerprint): those under a key a source started firing
    under, attached to another incident than the source's (a better cause may have appeared: a deeper root, or a
    firing one where theirs has recovered). Their ``h|`` timer, due now, places them again (``engine.decide_timer``);
    one whose best cause is the same stays where it is."""
    out: set[tuple[str, str]] = set()
    for key, fp, stamp, tail in sources:
        source = Entry.of_tail(stamp, tail)
        if not source.firing:
            continue
        for cfp, e in candidate_index.get(key, {}).items():
            if cfp != fp and _symptom(e.incident):
                group, _, cause = e.incident[len(SYMPTOM_CANDIDATE):].partition(":")
                if cause != source.incident:
                    out.add((group, cfp))
    return out


def _symptom(candidate: str) -> bool:
    """A candidate index entry of a symptom (``lifecycle.candidate_activity``), not of an incident's member."""
    return candidate.startswith(SYMPTOM_CANDIDATE)
