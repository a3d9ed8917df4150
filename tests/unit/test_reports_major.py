"""Major incidents in the reports and the review, the pure parts (issue 21): figures from rows, the section with its
trend, the review of a major incident drafted from Redis's detail (updates with their state)."""

from __future__ import annotations

from stormwatch.reports.major import MAJOR_FIGURES, MajorRow, major_figures, major_section
from stormwatch.reports.review import from_detail, markdown

T0 = 1_796_000_000.0


def test_figures_of_declared_and_promoted_major_incidents() -> None:
    rows = [
        MajorRow("INC-a-1", T0, T0, "carol", None, (T0 + 600, T0 + 1800, T0 + 2400)),  # declared major
        MajorRow("INC-b-1", T0, T0 + 300, None, "dan", (T0 + 900,)),  # promoted after 5 minutes
        MajorRow("INC-c-1", T0, T0 + 900, None, None, ()),  # promoted, never updated
    ]
    f = major_figures(rows)
    assert (f["major_incidents"], f["declared_major"], f["without_update"]) == (3, 1, 1)
    assert (f["time_to_major_p50"], f["time_to_major_mean"]) == (300.0, 400.0)
    assert (f["with_commander"], f["with_communications_lead"]) == (1, 1)
    assert (f["status_updates"], f["updates_per_major"]) == (4, 4 / 3)
    assert f["time_to_first_update_p50"] == 600.0  # 600 (a) and 600 (b)
    assert (f["time_between_updates_mean"], f["time_between_updates_p50"]) == (900.0, 900.0)  # 1200 and 600
    assert major_figures([]) == {name: (0 if not name.startswith(("time_", "updates_per")) else None)
                                 for name in MAJOR_FIGURES}


def test_the_section_compares_with_the_previous_window_and_lists_the_incidents() -> None:
    now = [MajorRow("INC-a-1", T0, T0 + 60, "carol", "dan", (T0 + 120,))]
    section = major_section(now, [])
    assert section["figures"]["major_incidents"] == {"value": 1, "previous": 0, "change": 1, "relative_change": None}
    assert section["incidents"] == [{"id": "INC-a-1", "created_at": T0, "major_at": T0 + 60, "commander": "carol",
                                     "communications_lead": "dan", "status_updates": 1, "last_update_at": T0 + 120}]


def test_the_review_of_a_major_incident_from_redis_names_its_roles_and_lists_its_updates() -> None:
    detail = {"id": "INC-a-1", "title": "Checkout is broken", "status": "open", "created_at": T0, "major": True,
              "major_at": T0 + 120, "commander": "carol", "communications_lead": "", "members": [],
              "timeline": [{"at": T0 + 120, "kind": "promoted", "text": "promoted to a major incident by sre",
                            "by": "sre"},
                           {"at": T0 + 300, "kind": "status_update", "text": "rolled *back*", "by": "dan",
                            "state": "monitoring", "number": 1}]}
    review = from_detail(detail)
    assert review["major"] == {"major_at": T0 + 120, "time_to_major": 120.0, "commander": "carol",
                               "communications_lead": None,
                               "status_updates": [{"number": 1, "at": T0 + 300, "by": "dan", "state": "monitoring",
                                                   "text": "rolled *back*"}]}
    assert [e["text"] for e in review["timeline"] if e["what"] == "status update"] == ["#1 (monitoring): rolled *back*"]
    text = markdown(review)
    assert "- Incident commander: carol; communications lead: none assigned" in text
    assert "#1 (monitoring) by dan: rolled \\*back\\*" in text  # escaped: the text is data, not Markdown
    assert from_detail({"id": "INC-b-1", "title": "t", "status": "open", "created_at": T0})["major"] is None


def test_a_major_incident_restored_from_the_history_keeps_its_flag_roles_and_updates() -> None:
    """``stormwatch history restore`` writes a major incident's fields back with the people's (the hash's ``major``
    flag is the history's ``major_at``); a row that is not major writes none of them."""
    from types import SimpleNamespace

    from correlation.store.restore import PEOPLE_FIELDS
    from stormwatch.history.restore import _people

    row = SimpleNamespace(**(dict.fromkeys(PEOPLE_FIELDS) | {"assignee": "ana"}))
    row.major_at, row.commander, row.status_updates = T0 + 60, "carol", 2
    assert _people(row) == {"assignee": "ana", "major": "1", "major_at": repr(T0 + 60), "commander": "carol",
                            "status_updates": "2"}
    row.major_at = row.commander = row.status_updates = None
    assert _people(row) == {"assignee": "ana"}
