"""The storm fast path: recognising notifications that change nothing but last-seen and count. Pure, no I/O.

A storm is mostly repeats: Prometheus re-sends every firing alert each evaluation cycle. A repeat that

* is firing and was stored firing, with the same labels and annotations,
* is counted in its group's open incident (not muted, held, waiting or a symptom),
* arms no timer (its rule has no ``resolve_timeout``, or its expiry timer is already armed) and finds no
  resolution hold on its incident,

changes, under ``engine.decide``, exactly these fields and nothing else: the alert's ``count`` (+1), ``last_seen``
(now), ``ends_at`` (as notified), ``rev`` (+1 per decision that touched it), and its incident's ``occurrences``
(+1) and ``updated_at`` (now). No event, timer, timeline entry or cause-index update. ``recognise_repeats`` checks
this on the stored rows (``AlertState``'s JSON array, as parsed) without building the engine's objects, and returns
the updated rows and incident fields for a compact write; for anything else it returns None and the group goes
through ``decide``. The store applies the result under the same version compare-and-set and per-message
idempotency markers as a decision (``correlation.store.store.IncidentStore.apply``).

``tests/unit/test_repeats.py`` checks the claim above against ``decide`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rules.alert import Alert

from correlation.core.model import ALERT_ROW, GroupState, Incident

_FIELDS = len(ALERT_ROW)
_LABELS = ALERT_ROW["labels"]
_ANNOTATIONS = ALERT_ROW["annotations"]
_STATUS = ALERT_ROW["status"]
_ENDS_AT = ALERT_ROW["ends_at"]
_LAST_SEEN = ALERT_ROW["last_seen"]
_COUNT = ALERT_ROW["count"]
_INCIDENT = ALERT_ROW["incident"]
_MUTED = ALERT_ROW["muted"]
_REV = ALERT_ROW["rev"]
_EXPIRES_AT = ALERT_ROW["expires_at"]


@dataclass(slots=True)
class Repeats:
    """What a group's pure repeats change: written as they are, with no decision built."""

    rows: dict[str, list[Any]] = field(default_factory=dict)  # fingerprint -> its updated stored row
    incidents: dict[str, tuple[int, float]] = field(default_factory=dict)  # incident id -> (occurrences, updated_at)
    duplicates: int = 0  # notifications counted (each one a duplicate in ``Stats``)


def recognise_repeats(state: GroupState, rows: Mapping[str, Any], messages: Sequence[Sequence[Alert]],
                      now: float) -> Repeats | None:
    """The writes of ``messages`` (one group's alerts per message, in arrival order) when every one of them is a
    pure repeat of its stored row, else None. ``state`` is the group as read (incidents, route); ``rows`` the
    stored rows by fingerprint. The rows are not changed."""
    route = state.route
    timeout = route.resolve_timeout if route is not None else 0.0
    out = Repeats()
    updated = out.rows
    occurrences: dict[str, int] = {}
    open_incidents: dict[str, Incident | None] = {}
    for alerts in messages:
        touched: set[str] = set()
        for alert in alerts:
            fp = alert.fingerprint
            row = updated.get(fp)
            if row is None:
                stored = rows.get(fp)
                if type(stored) is not list or len(stored) != _FIELDS:
                    return None  # new to the group, or an older layout: the engine decides
                row = stored
            if (alert.status != "firing" or row[_STATUS] != "firing" or row[_MUTED]
                    or row[_ANNOTATIONS] != alert.annotations or row[_LABELS] != alert.labels
                    or (timeout and row[_EXPIRES_AT] is None)):
                return None
            iid = row[_INCIDENT]
            if iid not in open_incidents:
                incident = state.open_incident(iid) if iid else None
                open_incidents[iid] = incident if incident is not None and incident.resolve_at is None else None
            incident = open_incidents[iid]
            if incident is None:
                return None
            if fp not in updated:
                row = updated[fp] = list(row)
            row[_COUNT] += 1
            row[_LAST_SEEN] = now
            row[_ENDS_AT] = alert.ends_at
            if fp not in touched:
                touched.add(fp)
                row[_REV] += 1
            occurrences[iid] = occurrences.get(iid, incident.occurrences) + 1
            out.duplicates += 1
    out.incidents = {iid: (n, now) for iid, n in occurrences.items()}
    return out


__all__ = ["Repeats", "recognise_repeats"]
