"""What each ticketing system's API is asked and answers: pure request builders and answer readers.

An adapter never does I/O: ``TicketExecutor`` sends what it builds through the URL guard. Each one is tested
against the request and answer shapes of its system's documentation (``tests/unit/test_ticket_adapters.py``), so
adding a system is one class here, one name in ``ADAPTERS`` and ``TicketConfig.system``, and its recorded shapes
(docs/service-desk.md, "Adding a ticketing system").

Every text Stormwatch writes starts with ``MARKER``: a change the ticketing system reports back whose text carries
it, or made by the account Stormwatch writes as (``user``), is Stormwatch's own echo and is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

MARKER = "[stormwatch]"
#: incident events that change a ticket (the trigger kinds plus people's commands the runner sees as updates)
UPDATE_KINDS = ("acknowledged", "priority_changed", "commented", "resolved", "reopened", "updated", "promoted",
                "status_update")
#: ITIL priority -> the 1..5 impact/urgency scale ServiceNow and RT use (1 the most urgent)
_LEVEL = {"P1": "1", "P2": "2", "P3": "3", "P4": "4", "P5": "5"}


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str  #: below the configured base URL
    body: Any = None  #: JSON (None: no body)


@dataclass(frozen=True, slots=True)
class TicketChange:
    """A change the ticketing system reports (its webhook): applied to the incident as a person's change."""

    ref: str  #: the ticket's reference (RT id, ServiceNow sys_id, Jira key)
    kind: str  #: resolved | reopened | reassigned | commented
    actor: str  #: who made it, in the ticketing system
    text: str = ""  #: the comment, the new assignee
    echo: bool = False  #: Stormwatch's own change coming back


@dataclass(frozen=True, slots=True)
class Settings:
    queue: str = "General"
    issue_type: str = "Incident"
    resolve_transition: str | None = None
    reopen_transition: str | None = None
    user: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def summary(incident: dict[str, Any]) -> str:
    return f"[{incident.get('priority') or '-'}] {incident.get('id')}: {incident.get('title', '')}"[:250]


def describe(incident: dict[str, Any]) -> str:
    lines = [f"{MARKER} Stormwatch incident {incident.get('id')}", f"status: {incident.get('status')}",
             f"priority: {incident.get('priority') or '-'}", f"team: {incident.get('team') or '-'}"]
    if incident.get("description"):
        lines.append(str(incident["description"]))
    return "\n".join(lines)


def update_text(kind: str, reason: str) -> str:
    return f"{MARKER} {kind}: {reason}"[:10_000]


def _echo(actor: str, text: str, settings: Settings) -> bool:
    return (bool(settings.user) and actor == settings.user) or text.lstrip().startswith(MARKER)


class TicketAdapter(Protocol):
    system: str

    def find(self, incident_id: str) -> Call: ...
    def found(self, answer: Any) -> str | None: ...
    def create(self, incident: dict[str, Any]) -> Call: ...
    def created(self, answer: Any) -> str: ...
    def update(self, ref: str, kind: str, incident: dict[str, Any], reason: str) -> list[Call]: ...
    def change(self, body: Any) -> TicketChange: ...


class RequestTracker:
    """Request Tracker's REST 2 API (``/REST/2.0``, https://docs.bestpractical.com/rt/5.0.3/RT/REST2.html). The
    incident id is in the subject; ``find`` searches it with TicketSQL."""

    system = "rt"

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def find(self, incident_id: str) -> Call:
        query = f"Subject LIKE '{incident_id}:' AND Queue = '{self.s.queue}'"
        return Call("GET", f"/REST/2.0/tickets?query={quote(query)}&fields=id")

    def found(self, answer: Any) -> str | None:
        items = answer.get("items") or [] if isinstance(answer, dict) else []
        return str(items[0]["id"]) if items else None

    def create(self, incident: dict[str, Any]) -> Call:
        return Call("POST", "/REST/2.0/ticket", {
            "Queue": self.s.queue, "Subject": summary(incident), "Content": describe(incident),
            "ContentType": "text/plain", "Priority": int(_LEVEL.get(incident.get("priority", ""), "3"))})

    def created(self, answer: Any) -> str:
        return str(answer["id"])

    def update(self, ref: str, kind: str, incident: dict[str, Any], reason: str) -> list[Call]:
        calls = [Call("POST", f"/REST/2.0/ticket/{ref}/comment",
                      {"Content": update_text(kind, reason), "ContentType": "text/plain"})]
        status = {"acknowledged": "open", "resolved": "resolved", "reopened": "open"}.get(kind)
        fields: dict[str, Any] = {"Status": status} if status else {}
        if kind == "priority_changed":
            fields["Priority"] = int(_LEVEL.get(incident.get("priority", ""), "3"))
        if fields:
            calls.append(Call("PUT", f"/REST/2.0/ticket/{ref}", fields))
        return calls

    def change(self, body: Any) -> TicketChange:
        """RT's scrip webhook (a JSON the scrip template writes): ``{"ticket": id, "type": "Status|Comment|Owner",
        "status", "owner", "content", "actor"}``."""
        ref, kind_of, actor = str(body["ticket"]), str(body["type"]), str(body.get("actor", ""))
        text = str(body.get("content") or body.get("owner") or "")
        status = body.get("status")
        kind = {"Status": "resolved" if status in ("resolved", "rejected") else "reopened" if status == "open" else "",
                "Comment": "commented", "Correspond": "commented", "Owner": "reassigned"}.get(kind_of, "")
        return TicketChange(ref, kind, actor, text, _echo(actor, text, self.s))


class ServiceNow:
    """ServiceNow's Table API on the incident table (``/api/now/table/incident``,
    https://developer.servicenow.com/dev.do#!/reference/api/latest/rest/c_TableAPI). ``correlation_id`` holds the
    incident id (what ``find`` queries)."""

    system = "servicenow"
    STATES = {"acknowledged": "2", "resolved": "6", "reopened": "2"}  # In Progress, Resolved

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def find(self, incident_id: str) -> Call:
        return Call("GET", f"/api/now/table/incident?sysparm_query={quote('correlation_id=' + incident_id)}"
                           "&sysparm_fields=sys_id,number&sysparm_limit=1")

    def found(self, answer: Any) -> str | None:
        result = answer.get("result") or [] if isinstance(answer, dict) else []
        return str(result[0]["sys_id"]) if result else None

    def create(self, incident: dict[str, Any]) -> Call:
        level = _LEVEL.get(incident.get("priority", ""), "3")
        body = {"short_description": summary(incident), "description": describe(incident),
                "correlation_id": incident["id"], "correlation_display": "Stormwatch",
                "impact": min(level, "3"), "urgency": min(level, "3"), "assignment_group": self.s.queue}
        return Call("POST", "/api/now/table/incident", body)

    def created(self, answer: Any) -> str:
        return str(answer["result"]["sys_id"])

    def update(self, ref: str, kind: str, incident: dict[str, Any], reason: str) -> list[Call]:
        body: dict[str, Any] = {"work_notes": update_text(kind, reason)}
        if kind in self.STATES:
            body["state"] = self.STATES[kind]
        if kind == "resolved":
            body |= {"close_code": "Solved (Permanently)", "close_notes": update_text(kind, reason)}
        if kind == "priority_changed":
            level = _LEVEL.get(incident.get("priority", ""), "3")
            body |= {"impact": min(level, "3"), "urgency": min(level, "3")}
        return [Call("PATCH", f"/api/now/table/incident/{ref}", body)]

    def change(self, body: Any) -> TicketChange:
        """A business rule's outbound REST message: ``{"sys_id", "state", "assigned_to", "comments",
        "sys_updated_by"}`` (one of the last three set)."""
        ref, actor = str(body["sys_id"]), str(body.get("sys_updated_by", ""))
        if str(body.get("state", "")) in ("6", "7"):
            return TicketChange(ref, "resolved", actor, "", _echo(actor, "", self.s))
        if body.get("assigned_to"):
            text = str(body["assigned_to"])
            return TicketChange(ref, "reassigned", actor, text, _echo(actor, "", self.s))
        text = str(body.get("comments") or body.get("work_notes") or "")
        if not text and str(body.get("state", "")) in ("1", "2"):  # New, In Progress: back from resolved
            return TicketChange(ref, "reopened", actor, "", _echo(actor, "", self.s))
        return TicketChange(ref, "commented" if text else "", actor, text, _echo(actor, text, self.s))


class Jira:
    """Jira (Service Management)'s REST API v2 issues (``/rest/api/2/issue``,
    https://developer.atlassian.com/cloud/jira/platform/rest/v2/). The incident id is a label (what ``find``
    searches with JQL); resolving and reopening are the workflow's transitions, named by id in the config."""

    system = "jira"

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def find(self, incident_id: str) -> Call:
        jql = f'project = "{self.s.queue}" AND labels = "{incident_id}"'
        return Call("GET", f"/rest/api/2/search?jql={quote(jql)}&fields=key&maxResults=1")

    def found(self, answer: Any) -> str | None:
        issues = answer.get("issues") or [] if isinstance(answer, dict) else []
        return str(issues[0]["key"]) if issues else None

    def create(self, incident: dict[str, Any]) -> Call:
        return Call("POST", "/rest/api/2/issue", {"fields": {
            "project": {"key": self.s.queue}, "issuetype": {"name": self.s.issue_type},
            "summary": summary(incident), "description": describe(incident),
            "labels": ["stormwatch", incident["id"]]}})

    def created(self, answer: Any) -> str:
        return str(answer["key"])

    def update(self, ref: str, kind: str, incident: dict[str, Any], reason: str) -> list[Call]:
        calls = [Call("POST", f"/rest/api/2/issue/{ref}/comment", {"body": update_text(kind, reason)})]
        transition = {"resolved": self.s.resolve_transition, "reopened": self.s.reopen_transition}.get(kind)
        if transition:
            calls.append(Call("POST", f"/rest/api/2/issue/{ref}/transitions", {"transition": {"id": transition}}))
        return calls

    def change(self, body: Any) -> TicketChange:
        """Jira's webhook (``webhookEvent`` jira:issue_updated or comment_created, with ``issue``, ``user`` or
        ``comment.author``, ``changelog.items``)."""
        ref = str(body["issue"]["key"])
        if body.get("webhookEvent") == "comment_created":
            comment = body.get("comment") or {}
            actor = str((comment.get("author") or {}).get("accountId") or (comment.get("author") or {}).get("name")
                        or "")
            text = str(comment.get("body", ""))
            return TicketChange(ref, "commented", actor, text, _echo(actor, text, self.s))
        user = body.get("user") or {}
        actor = str(user.get("accountId") or user.get("name") or "")
        for item in (body.get("changelog") or {}).get("items") or []:
            if item.get("field") == "resolution":  # set: resolved; cleared (a reopen transition): reopened
                return TicketChange(ref, "resolved" if item.get("toString") else "reopened", actor, "",
                                    _echo(actor, "", self.s))
            if item.get("field") == "assignee":
                return TicketChange(ref, "reassigned", actor, str(item.get("toString") or ""),
                                    _echo(actor, "", self.s))
        return TicketChange(ref, "", actor, "", _echo(actor, "", self.s))


ADAPTERS: dict[str, type[RequestTracker] | type[ServiceNow] | type[Jira]] = {
    "rt": RequestTracker, "servicenow": ServiceNow, "jira": Jira}


def adapter(system: str, settings: Settings) -> TicketAdapter:
    return ADAPTERS[system](settings)
