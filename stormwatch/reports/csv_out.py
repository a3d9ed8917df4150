"""A report as CSV: one long table, ``section,key,figure,value,previous,change`` (one row per number), which
spreadsheets pivot as they like. Empty cells: no value (no incident acknowledged, no previous window)."""

from __future__ import annotations

import csv
import io
from typing import Any

HEADER = ("section", "key", "figure", "value", "previous", "change")
#: csv injection: a cell a spreadsheet would read as a formula is prefixed with a quote
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    text = str(value)
    if text.startswith(_FORMULA) and not _number(text):
        return "'" + text
    return text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for name, f in report["figures"].items():
        out.append(("figures", "", name, f["value"], f["previous"], f["change"]))
    for bucket in report["series"]:
        for name, value in bucket.items():
            if name not in ("start", "end"):
                out.append(("series", bucket["start"], name, value, None, None))
    for section, key in (("by_team", "team"), ("by_service", "service"), ("by_priority", "priority")):
        for row in report[section]:
            for name, value in row.items():
                if name != key:
                    out.append((section, row[key], name, value, None, None))
    for section, items in report["alerts"].items():
        for item in items:
            for name, value in item.items():
                if name != "alertname":
                    out.append((f"alerts_{section}", item["alertname"], name, value, None, None))
    for state, count in report["automation"]["runs_by_state"].items():
        out.append(("action_runs_by_state", state, "runs", count, None, None))
    for problem in report["problems"]:
        out.append(("problems", problem["id"], "incidents", problem["incidents"], None, None))
    out += major_rows(report)
    out += muted_rows(report)
    return out


def muted_rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The muted notifications section (issue 17): its figures, then one row per reason that muted the most."""
    section = report.get("muted") or {}
    out: list[tuple[Any, ...]] = [("muted", "", name, f["value"], f["previous"], f["change"])
                                  for name, f in (section.get("figures") or {}).items()]
    out += [("muted_by_reason", r["reason"], "notifications", r["notifications"], r["previous"], r["change"])
            for r in section.get("top") or ()]
    return out


def major_rows(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The major incidents section (issue 21): its figures, then one row per figure of each major incident."""
    section = report.get("major_incidents") or {}
    out: list[tuple[Any, ...]] = [("major_incidents", "", name, f["value"], f["previous"], f["change"])
                                  for name, f in (section.get("figures") or {}).items()]
    for incident in section.get("incidents") or ():
        for name, value in incident.items():
            if name != "id":
                out.append(("major_incident", incident["id"], name, value, None, None))
    return out


def to_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows(report):
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()
