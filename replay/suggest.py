"""``stormwatch rules suggest``: candidate rules mined from recordings, each with its evidence. Pure, no model.

An alert's **episode** runs from a firing notification of an alert that was not firing to its resolved notification
(an episode never resolved has no end). Three kinds of candidate, each counted over episodes:

* **topology edges** ``B depends_on A`` (services, by the topology's service label): an episode on A and one on B
  **co-occur** when they start within ``window`` of each other (either first: a cause may alert late) and B's ends
  within ``end_window`` after A's (a symptom clears after its cause). *support*: B's episodes that co-occur with
  one of A's; *confidence*: support / B's episodes that ended (how much of B's trouble A explains); *cause
  confidence*: A's episodes some episode of B co-occurs with / A's episodes that ended (how often A's trouble
  brings B's); *lift*: confidence / the chance that an end of B falls in one of A's end windows at random (the share
  of the recording's span those windows cover). An edge is kept when its support, the larger of its two
  confidences (a service with several dependencies has a low confidence for each) and its lift reach their
  minimum, strongest first, unless it would close a cycle. The topology's ``hold`` is the largest, over the kept
  edges, of the median time their symptoms started before their cause (plus ``10s``), so a late cause still
  explains.
* **inhibit rules**, the same co-occurrence per alert name (source alertname on A, target alertname on B), for
  senders without a service label or to mute narrower than a topology; written commented out in the draft, as an
  alternative to the edge they repeat; of two alert names that co-occur both ways, only the stronger direction.
* **group rules** for alerts that fire again soon after resolving (``refire`` or less after, at least
  ``min_refires`` times): ``auto_resolve: after_hold`` with a hold just above the longest such gap, so the incident
  stays open across the flaps instead of paging at each. *confidence*: the share of the alert name's episodes that
  are such re-fires; *lift*: confidence / the chance of a re-fire that soon if its episodes started uniformly at
  random over the recording (1 - exp(-episodes / span * refire)).

* **problem rules** for an alert that fails again and again, each time more than ``refire`` after it resolved
  (at least ``recurrences`` times): a recurrence rule on its alert name, its signature the alert's labels but
  ``severity`` and the service label. *confidence*: the share of the alert name's alerts that recur so; *lift*:
  confidence / the share of all alerts that do.

The evidence of each candidate is the recording lines (``file:line``) of the episode starts that support it.

**Against a rule set** (``--rules DIR``, :class:`replay.known.KnownRules`): alerts are enriched and bound to services
as the engine does (the catalog's ``topology.bindings``, else the topology's service label), the kept edges start
from the topology's (so none closes a cycle with it), and a candidate the rule set already says is listed as
*already known*, with what says it, instead of drafted: an edge the topology has (directly or through other
services), an inhibit rule whose every supporting pair of alerts the rule set already explains, a group rule for
alerts a group or flapping rule already handles, a problem rule for alerts a recurrence rule already counts. The
draft (``replay.suggest_draft``) then holds only what is new, in a form that loads next to the rule set.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from replay.recordings import Notification

if TYPE_CHECKING:
    from replay.known import KnownRules

EVIDENCE = 5  # evidence references kept per candidate


@dataclass(frozen=True, slots=True)
class Episode:
    fingerprint: str
    service: str
    alertname: str
    start: float
    end: float | None
    ref: str  # the line of its first firing notification
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)  # as the engine reads them (enriched)


@dataclass(frozen=True, slots=True)
class Settings:
    window: float = 300.0  # starts within this of each other
    end_window: float = 120.0  # the symptom's end at most this after the cause's
    min_support: int = 2
    min_confidence: float = 0.7  # of the larger of confidence and cause confidence
    min_lift: float = 2.0
    recurrences: int = 3  # separate failures of one alert that make a problem
    recurrence_within: float = 7 * 86400.0
    refire: float = 300.0  # an alert firing again at most this long after resolving
    min_refires: int = 2
    service_label: str = "service"


@dataclass
class Candidate:
    kind: str  # topology | inhibit | group
    name: str  # "B -> A" for an edge, the alertname(s) otherwise
    support: int
    confidence: float
    lift: float
    evidence: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    known: str | None = None  # what in the rule set already says it (``--rules``), or None: a new candidate

    def public(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "support": self.support,
                "confidence": round(self.confidence, 3), "lift": round(self.lift, 2), "evidence": self.evidence,
                **self.detail, **({"known": self.known} if self.known is not None else {})}


@dataclass
class Suggestions:
    topology: list[Candidate]
    inhibit: list[Candidate]
    groups: list[Candidate]
    hold: float  # the topology's hold
    service_label: str = "service"
    problems: list[Candidate] = field(default_factory=list)
    known: list[Candidate] = field(default_factory=list)  # candidates the rule set already says (``--rules``)
    rules: KnownRules | None = None  # the rule set the draft goes next to
    set_aside: list[Candidate] = field(default_factory=list)  # candidates a common cause explains (not drafted)

    def all(self) -> list[Candidate]:
        """The new candidates (those the draft holds)."""
        return [*self.topology, *self.inhibit, *self.groups, *self.problems]


def episodes(notifications: Sequence[Notification], service_label: str = "service",
             known: KnownRules | None = None) -> list[Episode]:
    """Every episode of the notifications (in time order), by its start. Its service is its ``service_label``'s
    value, or with ``known`` the service the rule set's catalog binds its enriched labels to."""
    open_: dict[str, tuple[float, str]] = {}
    out: list[Episode] = []
    labels_of: dict[str, Mapping[str, str]] = {}
    for n in notifications:
        a = n.alert
        fp = a.fingerprint
        if a.status == "firing":
            if fp not in open_:
                open_[fp] = (n.at, n.ref)
                labels_of[fp] = known.labels(a) if known is not None else a.labels
        elif fp in open_:
            start, ref = open_.pop(fp)
            out.append(_episode(fp, labels_of[fp], start, n.at, ref, service_label, known))
    out += [_episode(fp, labels_of[fp], start, None, ref, service_label, known) for fp, (start, ref) in open_.items()]
    out.sort(key=lambda e: (e.start, e.fingerprint))
    return out


def _episode(fp: str, labels: Mapping[str, str], start: float, end: float | None, ref: str, service_label: str,
             known: KnownRules | None) -> Episode:
    service = known.service(labels) if known is not None else labels.get(service_label, "")
    return Episode(fp, service, labels.get("alertname", ""), start, end, ref, labels)


def suggest(notifications: Sequence[Notification], settings: Settings = Settings(),
            known: KnownRules | None = None) -> Suggestions:
    """The candidates of the recordings; with ``known`` (a rule set), those it already says are in ``known``."""
    label = known.service_label if known is not None else settings.service_label
    eps = episodes(notifications, label, known)
    span = (notifications[-1].at - notifications[0].at) if notifications else 0.0
    pairs = _co_occurrences(eps, settings)
    topology, hold, known_edges, explained = _edges(eps, pairs, span, settings, known)
    inhibits, inhibits_aside = _inhibits(eps, pairs, span, settings, known)
    inhibit = _split(inhibits)
    groups = _split(_refires(eps, span, settings, known))
    problems = _split(_recurrences(notifications, eps, settings, known))
    return Suggestions(topology, inhibit[0], groups[0], hold, label, problems[0],
                       [*known_edges, *inhibit[1], *groups[1], *problems[1]], known,
                       [*explained, *inhibits_aside])


def _split(candidates: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
    """(the new candidates, those the rule set already says)."""
    return [c for c in candidates if c.known is None], [c for c in candidates if c.known is not None]


def _all_said(answers: Iterable[str | None]) -> str | None:
    """What the rule set says of every one of a candidate's alerts (or pairs), or None when it misses one."""
    said = set(answers)
    return None if None in said or not said else "; ".join(sorted(a for a in said if a))


def _co_occurrences(eps: Sequence[Episode], s: Settings) -> list[tuple[Episode, Episode]]:
    """(cause, symptom) pairs of episodes on different services: starts within the window, the symptom's end
    within the end window after the cause's."""
    out = []
    starts = [e.start for e in eps]
    for i, cause in enumerate(eps):
        if cause.end is None or not cause.service:
            continue
        lo = bisect.bisect_left(starts, cause.start - s.window)
        hi = bisect.bisect_right(starts, cause.start + s.window)
        for j in range(lo, hi):
            symptom = eps[j]
            if j == i or symptom.end is None or not symptom.service or symptom.service == cause.service:
                continue
            if 0.0 <= symptom.end - cause.end <= s.end_window:
                out.append((cause, symptom))
    return out


def _chance(ends: Sequence[float], width: float, span: float) -> float:
    """The share of the span covered by [end, end + width] windows (their union)."""
    if span <= 0:
        return 1.0
    covered, reach = 0.0, -math.inf
    for end in sorted(ends):
        lo = max(end, reach)
        if end + width > lo:
            covered += end + width - lo
        reach = max(reach, end + width)
    return min(1.0, covered / (span + width))


@dataclass(frozen=True, slots=True)
class Measure:
    support: int  # the symptom key's episodes that co-occur with one of the cause key's
    confidence: float  # support / the symptom key's ended episodes
    cause_confidence: float  # the cause key's episodes some symptom episode co-occurs with / its ended episodes
    lift: float  # confidence / chance
    found: list[Episode]  # the supporting symptom episodes, by start
    lead: float  # the median of how long a supporting symptom started before its cause (<= 0: after it)


def _measure(key_of: Any, eps: Sequence[Episode], pairs: Sequence[tuple[Episode, Episode]], span: float,
             s: Settings) -> dict[tuple[str, str], Measure]:
    """Per (cause key, symptom key), over the co-occurring pairs of their episodes."""
    ended: dict[str, int] = defaultdict(int)
    cause_ends: dict[str, list[float]] = defaultdict(list)
    for e in eps:
        if e.end is not None:
            ended[key_of(e)] += 1
            cause_ends[key_of(e)].append(e.end)
    supported: dict[tuple[str, str], dict[tuple[str, float], Episode]] = defaultdict(dict)
    causes: dict[tuple[str, str], set[tuple[str, float]]] = defaultdict(set)
    leads: dict[tuple[str, str], list[float]] = defaultdict(list)
    for cause, symptom in pairs:
        key = (key_of(cause), key_of(symptom))
        supported[key][(symptom.fingerprint, symptom.start)] = symptom
        causes[key].add((cause.fingerprint, cause.start))
        leads[key].append(cause.start - symptom.start)
    out = {}
    for key, found in supported.items():
        confidence = len(found) / ended[key[1]]
        chance = _chance(cause_ends[key[0]], s.end_window, span)
        out[key] = Measure(len(found), confidence, len(causes[key]) / ended[key[0]],
                           confidence / chance if chance > 0 else math.inf,
                           sorted(found.values(), key=lambda e: e.start), statistics.median(leads[key]))
    return out


def _keep(m: Measure, s: Settings) -> bool:
    return (m.support >= s.min_support and max(m.confidence, m.cause_confidence) >= s.min_confidence
            and m.lift >= s.min_lift)


def _edges(eps: Sequence[Episode], pairs: Sequence[tuple[Episode, Episode]], span: float, s: Settings,
           known: KnownRules | None = None) -> tuple[list[Candidate], float, list[Candidate], list[Candidate]]:
    """(the kept new edges, the hold they need, the edges the rule set's topology already has, the edges a common
    cause explains). Edges are kept strongest first (none closing a cycle), then every kept edge whose evidence a
    common cause explains (:meth:`CoCauses.explained_by`) is set aside, weakest first, and the rest kept again without
    them: an edge set aside may have kept a true edge out as closing a cycle."""
    measured = _measure(lambda e: e.service, eps, pairs, span, s)
    ranked = sorted(((k, m) for k, m in measured.items() if _keep(m, s)),
                    key=lambda km: (-km[1].support, -max(km[1].confidence, km[1].cause_confidence), -km[1].lift,
                                    km[0]))
    pairs_of: dict[tuple[str, str], list[tuple[Episode, Episode]]] = defaultdict(list)
    for cause, symptom in pairs:
        pairs_of[(cause.service, symptom.service)].append((cause, symptom))
    co = CoCauses(pairs)
    set_aside: dict[tuple[str, str], Candidate] = {}
    while True:
        kept, hold, already, depends = _keep_edges([km for km in ranked if km[0] not in set_aside], s, known)
        newly = False
        for candidate in reversed(kept):  # weakest first: what explains an edge is a stronger one, still there
            edge = (candidate.detail["depends_on"], candidate.detail["service"])
            by = co.explained_by(edge, pairs_of[edge], depends, lambda e: e.service, s.min_support)
            if by:
                depends[edge[1]].discard(edge[0])
                set_aside[edge] = replace(candidate, detail={**candidate.detail, "explained_by": by})
                newly = True
        if not newly:
            aside = sorted(set_aside.values(), key=lambda c: (-c.support, -c.confidence, -c.lift, c.name))
            return kept, hold, already, aside


def _keep_edges(ranked: Sequence[tuple[tuple[str, str], Measure]], s: Settings, known: KnownRules | None
                ) -> tuple[list[Candidate], float, list[Candidate], dict[str, set[str]]]:
    """(the kept new edges, their hold, the known edges, the dependencies with the kept edges), strongest first."""
    depends: dict[str, set[str]] = defaultdict(set, {k: set(v) for k, v in known.depends().items()}
                                               if known is not None else {})
    kept: list[Candidate] = []
    already: list[Candidate] = []
    hold = 0.0
    for (cause, symptom), m in ranked:
        said = known.edge(symptom, cause) if known is not None else None
        if said is None and _reaches(depends, cause, symptom):
            continue  # symptom -> cause would close a cycle
        candidate = Candidate("topology", f"{symptom} -> {cause}", m.support, m.confidence, m.lift,
                              [e.ref for e in m.found[:EVIDENCE]],
                              {"service": symptom, "depends_on": cause,
                               "cause_confidence": round(m.cause_confidence, 3),
                               "symptom_led_by": round(max(m.lead, 0.0), 1)}, said)
        if said is not None:
            already.append(candidate)
            continue
        depends[symptom].add(cause)
        hold = max(hold, m.lead + 10.0 if m.lead > 0 else 0.0)
        kept.append(candidate)
    return kept, hold, already, depends


class CoCauses:
    """Which episodes co-occur, as causes, with each episode (from the co-occurring pairs)."""

    def __init__(self, pairs: Iterable[tuple[Episode, Episode]]) -> None:
        self._causes: dict[tuple[str, float], set[Episode]] = defaultdict(set)
        for cause, symptom in pairs:
            self._causes[(symptom.fingerprint, symptom.start)].add(cause)

    def common(self, a: Episode, b: Episode) -> set[Episode]:
        """The episodes that co-occur as a cause with both ``a`` and ``b``."""
        return self._causes.get((a.fingerprint, a.start), set()) & self._causes.get((b.fingerprint, b.start), set())

    def explained_by(self, edge: tuple[str, str], pairs: Sequence[tuple[Episode, Episode]],
                     depends: dict[str, set[str]], key: Callable[[Episode], str], min_support: int) -> list[str]:
        """The common causes that explain the candidate ``edge`` = (cause key, symptom key) away, most first, or
        nothing when it stands on its own. ``depends``: each key's kept causes (symptom key -> cause keys).

        Two services that both depend on a third fail together whenever the third fails, so they co-occur as if one
        depended on the other (``search -> checkout`` beside ``search -> orders-db`` and ``checkout -> orders-db``).
        A pair of the candidate's episodes is explained when an episode of a key both sides depend on (directly or
        not, without the candidate) co-occurs, as their cause, with both; the candidate is set aside when fewer than
        ``min_support`` of its symptom episodes are left unexplained. From co-failures alone a real chain (search ->
        checkout -> orders-db) looks the same, so its middle edge is set aside too until the recording shows
        checkout failing without orders-db: the draft then says search depends on orders-db, which holds either
        way, rather than tie search's alerts to every checkout failure."""
        cause, symptom = edge
        below = _below(depends, cause) & _below(depends, symptom, skip=edge)
        if not below:
            return []
        unexplained: set[tuple[str, float]] = set()
        by: dict[str, int] = defaultdict(int)
        for c, x in pairs:
            keys = {key(e) for e in self.common(c, x)} & below
            for name in keys:
                by[name] += 1
            if not keys:
                unexplained.add((x.fingerprint, x.start))
        if len(unexplained) >= min_support:
            return []
        return sorted(by, key=lambda name: (-by[name], name))


def _below(depends: dict[str, set[str]], start: str, skip: tuple[str, str] | None = None) -> set[str]:
    """Every service ``start`` depends on, directly or not (leaving out the edge ``skip``: (cause, symptom))."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        at = todo.pop()
        for d in depends.get(at, ()):
            if (d, at) != skip and d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def _reaches(depends: dict[str, set[str]], start: str, goal: str) -> bool:
    """Whether ``start`` depends on ``goal``, directly or not."""
    seen, todo = {start}, [start]
    while todo:
        for d in depends.get(todo.pop(), ()):
            if d == goal:
                return True
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return False


def _inhibits(eps: Sequence[Episode], pairs: Sequence[tuple[Episode, Episode]], span: float, s: Settings,
              known: KnownRules | None = None) -> tuple[list[Candidate], list[Candidate]]:
    """(the inhibit candidates, those a common cause explains: :meth:`CoCauses.explained_by`, by alert name)."""
    named = [(c, x) for c, x in pairs if c.alertname != x.alertname]
    pairs_of: dict[tuple[str, str], list[tuple[Episode, Episode]]] = defaultdict(list)
    for cause, symptom in named:
        pairs_of[(cause.alertname, symptom.alertname)].append((cause, symptom))
    measured = _measure(lambda e: e.alertname, eps, named, span, s)
    out = []
    for (source, target), m in sorted(measured.items()):
        reverse = measured.get((target, source))
        if reverse is not None and _keep(reverse, s) and (reverse.support, reverse.confidence) > (m.support,
                                                                                                  m.confidence):
            continue  # the other direction is the stronger: one of the two, never both
        if _keep(m, s):
            out.append(Candidate("inhibit", f"{source} mutes {target}", m.support, m.confidence, m.lift,
                                 [e.ref for e in m.found[:EVIDENCE]],
                                 {"source": source, "target": target,
                                  "cause_confidence": round(m.cause_confidence, 3)},
                                 None if known is None else _all_said(
                                     known.explains(c.labels, x.labels) for c, x in pairs_of[(source, target)])))
    depends: dict[str, set[str]] = defaultdict(set)
    for c in out:
        depends[c.detail["target"]].add(c.detail["source"])
    co, aside = CoCauses(pairs), []
    for c in sorted(out, key=lambda c: (c.support, c.confidence, c.lift)):  # weakest first
        edge = (c.detail["source"], c.detail["target"])
        by = [] if c.known is not None else co.explained_by(edge, pairs_of[edge], depends, lambda e: e.alertname,
                                                            s.min_support)
        if by:
            depends[edge[1]].discard(edge[0])
            aside.append(replace(c, detail={**c.detail, "explained_by": by}))
    aside_names = {a.name for a in aside}
    kept = [c for c in out if c.name not in aside_names]
    return kept, sorted(aside, key=lambda c: (-c.support, -c.confidence, -c.lift, c.name))


def _refires(eps: Sequence[Episode], span: float, s: Settings, known: KnownRules | None = None) -> list[Candidate]:
    by_fp: dict[str, list[Episode]] = defaultdict(list)
    for e in eps:
        by_fp[e.fingerprint].append(e)
    gaps: dict[str, list[tuple[float, Episode]]] = defaultdict(list)
    episodes_of: dict[str, int] = defaultdict(int)
    for seq in by_fp.values():
        episodes_of[seq[0].alertname] += len(seq)
        for before, after in zip(seq, seq[1:], strict=False):
            if before.end is not None and after.start - before.end <= s.refire:
                gaps[before.alertname].append((after.start - before.end, after))
    out = []
    for alertname, found in sorted(gaps.items()):
        if len(found) < s.min_refires:
            continue
        longest = max(g for g, _ in found)
        confidence = len(found) / episodes_of[alertname]
        chance = 1.0 - math.exp(-episodes_of[alertname] / span * s.refire) if span > 0 else 1.0
        out.append(Candidate("group", alertname, len(found), confidence, confidence / chance,
                             [e.ref for _, e in found[:EVIDENCE]],
                             {"alertname": alertname, "longest_gap": longest, "hold": longest + 60.0},
                             None if known is None else _all_said(
                                 known.handles_refires(e.labels) for e in eps if e.alertname == alertname)))
    return out


def _recurrences(notifications: Sequence[Notification], eps: Sequence[Episode], s: Settings,
                 known: KnownRules | None = None) -> list[Candidate]:
    labels = {n.alert.fingerprint: n.alert.labels for n in notifications}
    failures: dict[str, list[Episode]] = defaultdict(list)
    for e in eps:
        seq = failures[e.fingerprint]
        if not seq or seq[-1].end is None or e.start - seq[-1].end > s.refire:
            seq.append(e)
        else:
            seq[-1] = replace(e, start=seq[-1].start, ref=seq[-1].ref)
    recurring = {fp: seq for fp, seq in failures.items() if len(seq) >= s.recurrences}
    if not recurring:
        return []
    alerts_of: dict[str, int] = defaultdict(int)
    for fp in failures:
        alerts_of[labels[fp].get("alertname", "")] += 1
    base = len(recurring) / len(failures)
    by_name: dict[str, list[str]] = defaultdict(list)
    for fp in recurring:
        by_name[labels[fp].get("alertname", "")].append(fp)
    out = []
    for alertname, fps in sorted(by_name.items()):
        signature = sorted(set.intersection(*(set(labels[fp]) for fp in fps)) - {"severity", s.service_label}
                           - {"alertname"})
        confidence = len(fps) / alerts_of[alertname]
        found = sorted((e for fp in fps for e in recurring[fp]), key=lambda e: e.start)
        out.append(Candidate("problem", alertname, len(found), confidence, confidence / base,
                             [e.ref for e in found[:EVIDENCE]],
                             {"alertname": alertname, "signature": ["alertname", *signature],
                              "count": s.recurrences, "within": s.recurrence_within},
                             None if known is None else _all_said(known.recurs(e.labels) for e in found)))
    return out
