"""The ticketing adapters against recorded request and answer shapes (issue 21).

ServiceNow and Jira run no server here: these shapes are RECORDED from their documentation, not from a live system:
- ServiceNow Table API: POST /api/now/table/incident with a JSON record (``{"short_description": ...}``), answered
  201 with ``{"result": {record, "sys_id": <32 hex>, "number": "INC..."}}`` and a Location header; GET with
  ``sysparm_query`` answered ``{"result": [records]}``
  (https://www.servicenow.com/docs/r/yokohama/api-reference/rest-api-explorer/t_GetStartedCreateInt.html and the
  Table API reference);
- Jira REST API v2: POST /rest/api/2/issue with ``{"fields": {project, summary, issuetype, ...}}`` answered 201 with
  CreatedIssue ``{"id", "key", "self"}``; GET /rest/api/2/search answered ``{"issues": [...], "total"}``; webhooks
  ``{"webhookEvent": "jira:issue_updated", "issue", "user", "changelog": {"items": [{"field", "toString"}]}}``
  (https://developer.atlassian.com/server/jira/platform/jira-rest-api-example-create-issue-7897248,
  https://developer.atlassian.com/cloud/jira/platform/rest/v2/).
Request Tracker's shapes are also checked live, against a real RT, in tests/integration/test_ticket_bridge.py; the
RT answers below are the ones that server gave.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from actions.tickets.adapters import MARKER, Settings, adapter

INCIDENT = {"id": "INC-0a1b2c3d4e5f-1", "title": "Checkout is broken", "priority": "P2", "status": "open",
            "team": "payments", "description": "customers cannot pay"}
SYS_ID = "9d385017c611228701d22104cc95c371"


def _query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def test_request_tracker_shapes():
    rt = adapter("rt", Settings(queue="General", user="stormwatch"))
    find = rt.find(INCIDENT["id"])
    assert find.method == "GET" and _query(find.path)["query"] == [
        "Subject LIKE 'INC-0a1b2c3d4e5f-1:' AND Queue = 'General'"]
    assert rt.found({"count": 0, "items": [], "page": 1, "per_page": 20, "total": 0}) is None
    assert rt.found({"items": [{"_url": "http://rt/REST/2.0/ticket/7", "id": 7, "type": "ticket"}], "total": 1}) == "7"
    create = rt.create(INCIDENT)
    assert (create.method, create.path) == ("POST", "/REST/2.0/ticket")
    assert create.body["Subject"].startswith("[P2] INC-0a1b2c3d4e5f-1:") and create.body["Priority"] == 2
    assert rt.created({"type": "ticket", "id": "7", "_url": "http://rt/REST/2.0/ticket/7"}) == "7"
    calls = rt.update("7", "resolved", INCIDENT, "resolved by ana")
    assert [(c.method, c.path) for c in calls] == [("POST", "/REST/2.0/ticket/7/comment"),
                                                    ("PUT", "/REST/2.0/ticket/7")]
    assert calls[0].body["Content"].startswith(MARKER) and calls[1].body == {"Status": "resolved"}
    assert rt.change({"ticket": 7, "type": "Status", "status": "resolved", "actor": "alice"}).kind == "resolved"
    assert rt.change({"ticket": 7, "type": "Comment", "content": "x", "actor": "stormwatch"}).echo


def test_servicenow_shapes():
    sn = adapter("servicenow", Settings(queue="Service Desk", user="stormwatch.integration"))
    find = sn.find(INCIDENT["id"])
    assert _query(find.path)["sysparm_query"] == ["correlation_id=INC-0a1b2c3d4e5f-1"]
    assert sn.found({"result": []}) is None
    assert sn.found({"result": [{"sys_id": SYS_ID, "number": "INC0010002"}]}) == SYS_ID
    create = sn.create(INCIDENT)
    assert (create.method, create.path) == ("POST", "/api/now/table/incident")
    assert create.body["correlation_id"] == INCIDENT["id"] and create.body["short_description"].startswith("[P2]")
    assert (create.body["impact"], create.body["urgency"]) == ("2", "2")
    answer = {"result": {"sys_id": SYS_ID, "number": "INC0010002", "short_description": "[P2] ...", "state": "1"}}
    assert sn.created(answer) == SYS_ID
    (resolve,) = sn.update(SYS_ID, "resolved", INCIDENT, "resolved by ana")
    assert (resolve.method, resolve.path) == ("PATCH", f"/api/now/table/incident/{SYS_ID}")
    assert resolve.body["state"] == "6" and resolve.body["close_notes"].startswith(MARKER)
    change = sn.change({"sys_id": SYS_ID, "state": "6", "sys_updated_by": "beth.anglin"})
    assert (change.kind, change.actor, change.echo) == ("resolved", "beth.anglin", False)
    assert sn.change({"sys_id": SYS_ID, "assigned_to": "david.loo", "sys_updated_by": "beth"}).kind == "reassigned"
    assert sn.change({"sys_id": SYS_ID, "comments": "x", "sys_updated_by": "stormwatch.integration"}).echo


def test_jira_shapes():
    jira = adapter("jira", Settings(queue="OPS", issue_type="Incident", resolve_transition="31"))
    find = jira.find(INCIDENT["id"])
    assert _query(find.path)["jql"] == ['project = "OPS" AND labels = "INC-0a1b2c3d4e5f-1"']
    assert jira.found({"issues": [], "total": 0}) is None
    assert jira.found({"issues": [{"id": "10002", "key": "OPS-12"}], "total": 1}) == "OPS-12"
    create = jira.create(INCIDENT)
    assert (create.method, create.path) == ("POST", "/rest/api/2/issue")
    fields = create.body["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Incident"}
    assert INCIDENT["id"] in fields["labels"]
    assert jira.created({"id": "10002", "key": "OPS-12", "self": "https://acme.atlassian.net/rest/api/2/issue/10002"}) \
        == "OPS-12"
    calls = jira.update("OPS-12", "resolved", INCIDENT, "resolved by ana")
    assert [(c.method, c.path) for c in calls] == [("POST", "/rest/api/2/issue/OPS-12/comment"),
                                                    ("POST", "/rest/api/2/issue/OPS-12/transitions")]
    assert calls[1].body == {"transition": {"id": "31"}}
    updated = {"webhookEvent": "jira:issue_updated", "issue": {"id": "10002", "key": "OPS-12"},
               "user": {"accountId": "5b10a2844c20165700ede21g"},
               "changelog": {"items": [{"field": "resolution", "fromString": None, "toString": "Done"}]}}
    assert jira.change(updated).kind == "resolved"
    comment = {"webhookEvent": "comment_created", "issue": {"key": "OPS-12"},
               "comment": {"body": f"{MARKER} acknowledged: ...", "author": {"accountId": "x"}}}
    assert jira.change(comment).echo


def test_a_ticket_reopened_in_the_ticketing_system_reads_as_reopened():
    """A ticket set back to open (RT), New or In Progress (ServiceNow) or whose resolution is cleared by a reopen
    transition (Jira) reopens its incident; the same change by Stormwatch's own account is its echo."""
    rt = adapter("rt", Settings(user="stormwatch"))
    assert rt.change({"ticket": 7, "type": "Status", "status": "open", "actor": "alice"}).kind == "reopened"
    assert rt.change({"ticket": 7, "type": "Status", "status": "open", "actor": "stormwatch"}).echo
    assert rt.change({"ticket": 7, "type": "Status", "status": "stalled", "actor": "alice"}).kind == ""
    sn = adapter("servicenow", Settings(user="stormwatch.integration"))
    assert sn.change({"sys_id": SYS_ID, "state": "2", "sys_updated_by": "beth"}).kind == "reopened"
    # a comment on an in-progress incident stays a comment
    assert sn.change({"sys_id": SYS_ID, "state": "2", "comments": "x", "sys_updated_by": "beth"}).kind == "commented"
    jira = adapter("jira", Settings(queue="OPS", reopen_transition="41"))
    reopened = {"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-12"}, "user": {"accountId": "a1"},
                "changelog": {"items": [{"field": "resolution", "fromString": "Done", "toString": None}]}}
    assert jira.change(reopened).kind == "reopened"
