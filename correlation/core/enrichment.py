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
from rules.matchers import matches_all
from rules.memo import MEMO_MAX_BYTES, BoundedMemo
from rules.schema import EnrichmentRule



class Enricher:
    def __init__(self, rules: Sequence[EnrichmentRule], *, memo_max_bytes: int = MEMO_MAX_BYTES) -> None:
        self.rules = tuple(rules)
        # keyed by the labels alone: what the rules add depends only on them (matchers and lookups read labels),
        # while annotations often carry a changing value ("CPU at 93%") that would make every alert a miss
        self._memo: BoundedMemo[frozenset[tuple[str, str]], tuple[dict[str, str] | None, dict[str, str]]] = BoundedMemo(
            max_bytes=memo_max_bytes)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __call__(self, alert: Alert) -> Alert:
        if not self.rules:
            return alert
        key = frozenset(alert.labels.items())
        found = self._memo.get(key)
        if found is None:
            found = self._additions(alert.labels)
            self._memo.put(key, found)
        labels, adds = found
        annotations = alert.annotations
        if adds and not adds.keys() <= annotations.keys():  # the sender's annotations win
            annotations = {**annotations, **{name: v for name, v in adds.items() if name not in annotations}}
        if labels is None and annotations is alert.annotations:
            return alert
        return replace(alert, labels=alert.labels if labels is None else labels, annotations=annotations)

    def _additions(self, sent: Mapping[str, str]) -> tuple[dict[str, str] | None, dict[str, str]]:
        """(the enriched labels, or None when no rule adds one; the annotations the rules add, first rule first)."""
        labels = dict(sent)
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
                labels.setdefault(name, value)
            for name, value in adds_annotations.items():
                annotations.setdefault(name, value)
        return (labels if labels != sent else None), annotations
