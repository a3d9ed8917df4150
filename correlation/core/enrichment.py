"""Enrichment: labels and annotations added from static maps in the rule set. Pure, no I/O.

Every enrichment rule whose matchers match adds its labels and annotations, in rule-set order; a lookup adds the
row keyed by one label's value. Enrichment **never overwrites** what the source sent (nor what an earlier rule
added): the sender's word wins. The fingerprint stays the one of the labels as sent, so an alert's identity is the
same here and in Alertmanager; the added labels take part in routing, grouping and priority, and are stored with
the alert.
"""

from __future__ import annotations

from dataclasses import replace
from collections.abc import Mapping, Sequence

from rules.alert import Alert
from rules.matchers import matches_all, names_read
from rules.memo import MEMO_MAX_BYTES, BoundedMemo, ByLabels, approximate_size
from rules.schema import EnrichmentRule



#: (the labels as sent, the enriched labels or None when no rule adds one, the annotations the rules add)
_Additions = tuple[Mapping[str, str], dict[str, str] | None, dict[str, str]]


def _weigh(fingerprint: str, found: _Additions) -> int:
    return approximate_size(fingerprint) + approximate_size(found[0])


class Enricher:
    def __init__(self, rules: Sequence[EnrichmentRule], *, memo_max_bytes: int = MEMO_MAX_BYTES) -> None:
        self.rules = tuple(rules)
        # by the labels alone: what the rules add depends only on them (matchers and lookups read labels), while
        # annotations often carry a changing value ("CPU at 93%") that would make every alert a miss. Looked up
        # by the alert's fingerprint, already computed, and a hit counts only if its labels are equal (a C-level
        # dict comparison): a sender-keyed fingerprint (PagerDuty's dedup key) may come with other labels, and
        # building a frozenset of the labels per alert cost ~8% of a worker's CPU in a storm of repeats
        self._memo: BoundedMemo[str, _Additions] = BoundedMemo(max_bytes=memo_max_bytes, weigh=_weigh)
        # what the rules add depends only on the labels they read (matchers, lookup keys) and those they add (an
        # added label is never overwritten): a label set seen for the first time usually shares those with others
        self.names = tuple(sorted({*names_read(*(r.match for r in self.rules)),
                                   *(r.lookup.from_label for r in self.rules if r.lookup is not None),
                                   *(name for r in self.rules for name in r.add_labels),
                                   *(name for r in self.rules if r.lookup is not None
                                     for row in r.lookup.table.values() for name in row.labels)}))
        self._added = ByLabels(self.names, self._additions, max_bytes=memo_max_bytes)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __call__(self, alert: Alert) -> Alert:
        if not self.rules:
            return alert
        found = self._memo.get(alert.fingerprint)
        if found is None or found[0] != alert.labels:
            found = (dict(alert.labels), *self.additions(alert.labels))
            self._memo.put(alert.fingerprint, found)
        _, labels, adds = found
        return self.applied(alert, labels, adds)

    @staticmethod
    def applied(alert: Alert, labels: Mapping[str, str] | None, adds: Mapping[str, str]) -> Alert:
        """``alert`` with what ``additions`` answered for its labels: ``labels`` (None: unchanged) and the
        annotations the rules add where the sender sent none."""
        annotations = alert.annotations
        if adds and not adds.keys() <= annotations.keys():  # the sender's annotations win
            annotations = {**annotations, **{name: v for name, v in adds.items() if name not in annotations}}
        if labels is None and annotations is alert.annotations:
            return alert
        return replace(alert, labels=alert.labels if labels is None else labels, annotations=annotations)

    def additions(self, sent: Mapping[str, str]) -> tuple[dict[str, str] | None, dict[str, str]]:
        """(the enriched labels, or None when no rule adds one; the annotations the rules add, first rule first)."""
        added, annotations = self._added(sent)
        return ({**sent, **added} if added else None), annotations

    def _additions(self, sent: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """(the labels the rules add that ``sent`` lacks, in the order added; the annotations they add): reads
        only the labels in ``self.names``, so it is memoised by those (``_added``)."""
        labels = dict(sent)
        added: dict[str, str] = {}
        annotations: dict[str, str] = {}
        for rule in self.rules:
            if rule.match and not matches_all(rule.match, labels):
                continue
            adds_labels = dict(rule.add_labels)
            adds_annotations = dict(rule.add_annotations)
            if rule.lookup is not None:
                row = rule.lookup.table.get(labels.get(rule.lookup.from_label, ""))
                if row is None and not (adds_labels or adds_annotations):
                    continue
                if row is not None:
                    adds_labels = {**row.labels, **adds_labels}
                    adds_annotations = {**row.annotations, **adds_annotations}
            for name, value in adds_labels.items():
                if name not in labels:
                    labels[name] = added[name] = value
            for name, value in adds_annotations.items():
                annotations.setdefault(name, value)
        return added, annotations
