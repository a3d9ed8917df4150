"""The OpenAPI 3.1 document served at /openapi.json, built from the route table below and the pydantic
schemas in ``stormwatch.api.schemas`` (the routes are plain Starlette: no per-request framework cost)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from stormwatch.api import schemas as s
from stormwatch.api.reports import PARAMETERS as REPORT_PARAMETERS
from stormwatch.api.alertmanager import schemas as am

#: (method, path, summary, role, request body model or media type, {status: response model or None})
OPERATIONS: list[tuple[str, str, str, str, Any, dict[int, Any]]] = [
    ("post", "/api/v2/alerts", "Alertmanager API v2 alert list (what Prometheus posts)", "ingest",
     "application/json", {200: s.IngestAnswer, 400: s.IngestAnswer}),
    ("post", "/api/v1/webhooks/alertmanager", "Alertmanager webhook (version 4)", "ingest",
     "application/json", {200: s.IngestAnswer, 400: s.IngestAnswer}),
    ("post", "/v2/enqueue", "PagerDuty Events API v2 event", "ingest",
     "application/json", {202: s.PagerDutyAnswer, 400: s.PagerDutyAnswer}),
    ("post", "/api/v1/alerts", "Generic alerts: one, a list, or {alerts: [...]}", "ingest",
     "application/json", {200: s.IngestAnswer, 400: s.IngestAnswer}),
    ("post", "/api/v1/changes", "A change event (deploy, config, infrastructure, feature-flag)", "ingest",
     s.ChangeBody, {202: s.ChangeAnswer, 400: s.Error, 503: s.Error}),
    ("get", "/api/v1/changes", "Change events, newest first; filter service", "read", None, {200: s.ChangeList}),
    ("post", "/v2/change/enqueue", "PagerDuty Change Events API v2 change event", "ingest", "application/json",
     {202: s.PagerDutyChangeAnswer, 400: s.PagerDutyChangeAnswer}),
    ("get", "/api/v1/change-windows", "Change windows (pending, active; expired=true for all)", "read", None,
     {200: s.ChangeWindow}),
    ("post", "/api/v1/change-windows", "Schedule a change window (mute or annotate)", "respond", s.ChangeWindowBody,
     {201: s.ChangeWindow, 422: s.Error}),
    ("delete", "/api/v1/change-windows/{id}", "End a change window now", "respond", None,
     {200: s.ChangeWindow, 404: s.Error}),
    ("get", "/api/v1/incidents", "Incidents, newest first; filters status, priority, team, rule, since, until, sla",
     "read", None, {200: s.IncidentPage}),
    ("get", "/api/v1/incidents/{id}", "One incident with its alerts, timeline and why", "read", None,
     {200: s.IncidentDetail, 404: s.Error}),
    ("post", "/api/v1/incidents/{id}/acknowledge", "Acknowledge", "respond", s.NoteBody,
     {200: s.CommandAnswer, 404: s.Error, 409: s.Error}),
    ("post", "/api/v1/incidents/{id}/resolve", "Resolve (also for auto_resolve: manual rules)", "respond",
     s.NoteBody, {200: s.CommandAnswer, 404: s.Error}),
    ("post", "/api/v1/incidents/{id}/reopen", "Reopen the group's latest incident", "respond", s.NoteBody,
     {200: s.CommandAnswer, 404: s.Error, 409: s.Error}),
    ("post", "/api/v1/incidents/{id}/assign", "Assign (empty assignee: unassign)", "respond", s.AssignBody,
     {200: s.CommandAnswer, 404: s.Error}),
    ("post", "/api/v1/incidents/{id}/comment", "Add a comment to the timeline", "respond", s.CommentBody,
     {200: s.CommandAnswer, 404: s.Error}),
    ("post", "/api/v1/incidents/{id}/priority", "Set the priority", "respond", s.PriorityBody,
     {200: s.CommandAnswer, 404: s.Error}),
    ("post", "/api/v1/incidents", "Declare an incident (201); a report for a service whose incident is open joins "
     "it (200, joined: true)", "respond", s.DeclareBody, {200: s.DeclareAnswer, 201: s.DeclareAnswer, 422: s.Error}),
    ("post", "/api/v1/incidents/{id}/attach", "Attach an alert (listed among the incident's symptoms)", "respond",
     s.AlertLinkBody, {200: s.CommandAnswer, 404: s.Error, 422: s.Error}),
    ("post", "/api/v1/incidents/{id}/detach", "Detach an attached alert", "respond", s.AlertLinkBody,
     {200: s.CommandAnswer, 404: s.Error, 422: s.Error}),
    ("post", "/api/v1/incidents/{id}/major", "Promote to a major incident (optionally naming its roles)", "respond",
     s.MajorBody, {200: s.CommandAnswer, 404: s.Error, 409: s.Error}),
    ("post", "/api/v1/incidents/{id}/roles", "A major incident's incident commander and communications lead",
     "respond", s.RolesBody, {200: s.CommandAnswer, 404: s.Error, 409: s.Error, 422: s.Error}),
    ("post", "/api/v1/incidents/{id}/updates", "Publish a stakeholder status update (incident.status_update)",
     "respond", s.StatusUpdateBody, {201: s.StatusUpdateAnswer, 404: s.Error, 409: s.Error, 422: s.Error}),
    ("get", "/api/v1/incidents/{id}/updates", "The incident's stakeholder status updates, oldest first", "read",
     None, {200: None, 404: s.Error}),
    ("post", "/api/v1/incidents/{id}/share", "A read token for the incident's status page (this incident only)",
     "respond", None, {200: s.ShareAnswer, 404: s.Error}),
    ("get", "/status/{id}", "The incident's read-only status page (HTML; ?token= from /share)", "", None,
     {200: None, 403: s.Error, 404: s.Error}),
    ("post", "/api/v1/webhooks/tickets/{system}", "A ticketing system's change (rt, servicenow, jira), signed "
     "with X-Stormwatch-Signature: resolved, reassigned, commented applied as people's changes; echoes dropped",
     "", "application/json", {200: None, 401: s.Error, 404: s.Error, 422: s.Error}),
    ("post", "/api/v1/incidents/{id}/on_hold", "Put on hold with a reason (empty: take it off hold); the SLA clock "
     "stops where its policy says so", "respond", s.HoldBody, {200: s.CommandAnswer, 404: s.Error, 409: s.Error}),
    ("get", "/api/v1/silences", "Silences (pending, active; expired=true for all)", "read", None,
     {200: s.Silence}),
    ("post", "/api/v1/silences", "Create a silence", "respond", s.SilenceBody, {201: s.Silence, 422: s.Error}),
    ("delete", "/api/v1/silences/{id}", "Expire a silence now", "respond", None, {200: s.Silence, 404: s.Error}),
    ("post", "/api/v1/silences/preview", "Which firing alerts of open incidents these matchers would mute",
     "read", s.PreviewBody, {200: s.PreviewAnswer, 422: s.Error}),
    ("get", "/api/v1/problems", "Problems, newest first; filters status, rule, team", "read", None,
     {200: s.ProblemPage}),
    ("get", "/api/v1/problems/{id}", "One problem with its timeline and linked incidents", "read", None,
     {200: s.ProblemDetail, 404: s.Error}),
    ("post", "/api/v1/problems/{id}/link", "Link an incident to the problem", "respond", s.LinkBody,
     {200: s.ProblemAnswer, 404: s.Error, 409: s.Error}),
    ("post", "/api/v1/problems/{id}/unlink", "Unlink an incident from the problem", "respond", s.LinkBody,
     {200: s.ProblemAnswer, 404: s.Error}),
    ("post", "/api/v1/problems/{id}/known-error", "Mark a known error (cause understood, workaround exists)",
     "respond", s.NoteBody, {200: s.ProblemAnswer, 404: s.Error, 409: s.Error}),
    ("post", "/api/v1/problems/{id}/resolve", "Resolve (the signature's next recurrence opens a new problem)",
     "respond", s.NoteBody, {200: s.ProblemAnswer, 404: s.Error}),
    ("get", "/api/v1/history/incidents", "Incident search over the history, resolved incidents Redis no longer "
     "holds included; newest first", "read", None, {200: s.HistoryPage, 400: s.Error}),
    ("get", "/api/v1/history/incidents/{id}", "One incident as the history holds it: members, symptoms, timeline, "
     "runs, problems", "read", None, {200: s.HistoryIncidentDetail, 404: s.Error}),
    ("get", "/api/v1/services", "The service catalog, each service with its health and open incidents", "read",
     None, {200: s.ServiceList}),
    ("get", "/api/v1/services/{name}", "One service: owner, tier, links, dependencies both ways, open incidents, "
     "health", "read", None, {200: s.Service, 404: s.Error}),
    ("get", "/api/v1/business-services", "Business services with their health and the services supporting them",
     "read", None, {200: s.BusinessServiceList}),
    ("get", "/api/v1/actions", "Action runs, newest first; filters incident, state", "read", None,
     {200: s.ActionRunList}),
    ("get", "/api/v1/actions/{run}", "One action run: inputs (secrets masked), outcome, output, attempts", "read",
     None, {200: s.ActionRun, 404: s.Error}),
    ("post", "/api/v1/actions/{run}/approve", "Approve a run waiting for approval", "respond", None,
     {200: s.DecisionAnswer, 404: s.Error, 409: s.Error}),
    ("post", "/api/v1/actions/{run}/reject", "Reject a run waiting for approval", "respond", None,
     {200: s.DecisionAnswer, 404: s.Error, 409: s.Error}),
    ("get", "/api/v1/stream", "Live events (Server-Sent Events): every event published on <ns>.events", "read",
     None, {200: None}),
    ("get", "/api/v1/whoami", "The caller's token name, role and capabilities", "read", None, {200: s.Whoami}),
    ("get", "/api/v1/rules", "The running rule set", "read", None, {200: s.RulesSummary}),
    ("post", "/api/v1/rules/reload", "Reload the rules directory (validated whole before the swap)", "admin",
     None, {200: s.RulesSummary, 422: s.RuleErrors}),
    ("post", "/api/v1/rules/validate", "Validate a candidate rule file (YAML body; ?file=name.yaml)", "read",
     "application/yaml", {200: s.RuleErrors, 400: s.Error, 422: s.RuleErrors, 503: s.Error}),
    ("get", "/api/v1/reports/summary", "Report over the history: figures with their trend, series, breakdowns, "
     "top lists (format=csv: CSV)", "read", None, {200: s.Report, 400: s.Error, 503: s.Error}),
    ("get", "/api/v1/reports/charts", "The same report's charts as server-drawn SVG", "read", None,
     {200: s.ReportCharts, 400: s.Error, 503: s.Error}),
    ("get", "/api/v2/status", "Alertmanager API v2: this node, version, a YAML summary of the rules, uptime",
     "read", None, {200: am.AmStatus}),
    ("get", "/api/v2/receivers", "Alertmanager API v2: the receivers (Stormwatch's teams)", "read", None,
     {200: [am.AmReceiver], 400: str}),
    ("get", "/api/v2/alerts", "Alertmanager API v2: the firing alerts and their status", "read", None,
     {200: [am.AmGettableAlert], 400: str}),
    ("get", "/api/v2/alerts/groups", "Alertmanager API v2: alerts by group (an incident, else their rule's group)",
     "read", None, {200: [am.AmAlertGroup], 400: str}),
    ("get", "/api/v2/silences", "Alertmanager API v2: silences", "read", None,
     {200: [am.AmGettableSilence], 400: str}),
    ("post", "/api/v2/silences", "Alertmanager API v2: create a silence, or replace one (id: expired, new id)",
     "respond", am.AmPostableSilence, {200: am.AmSilenceCreated, 400: str, 404: str}),
    ("get", "/api/v2/silence/{id}", "Alertmanager API v2: one silence", "read", None,
     {200: am.AmGettableSilence, 404: str}),
    ("delete", "/api/v2/silence/{id}", "Alertmanager API v2: expire a silence now", "respond", None,
     {200: None, 404: str}),
    ("get", "/metrics", "Prometheus metrics (Authorization: Bearer STORMWATCH_METRICS_TOKEN when that is set)", "",
     None, {200: None, 401: None}),
    ("get", "/healthz", "Liveness", "", None, {200: None}),
    ("get", "/readyz", "Readiness: redis, rabbitmq, consumer", "", None, {200: None, 503: None}),
]

MODELS: list[type[BaseModel]] = [
    s.Error, s.IngestAnswer, s.PagerDutyAnswer, s.Incident, s.IncidentDetail, s.IncidentPage, s.CommandAnswer,
    s.Silence, s.RulesSummary, s.RuleErrors, s.NoteBody, s.AssignBody, s.CommentBody, s.HoldBody, s.PriorityBody,
    s.SilenceBody,
    s.PreviewBody, s.PreviewAnswer, s.Problem, s.ProblemDetail, s.ProblemPage, s.ProblemAnswer, s.LinkBody,
    s.ActionRun, s.ActionRunList, s.DecisionAnswer, s.Whoami, s.HistoryIncident, s.HistoryPage,
    s.HistoryIncidentDetail, s.Report, s.ReportCharts, *am.MODELS, s.Service, s.ServiceList,
    s.BusinessServiceList, s.ChangeBody, s.ChangeAnswer, s.PagerDutyChangeAnswer, s.ChangeList, s.ChangeWindowBody,
    s.ChangeWindow,
    s.DeclareBody, s.DeclareAnswer, s.AlertLinkBody, s.MajorBody, s.RolesBody, s.StatusUpdateBody,
    s.StatusUpdateAnswer, s.ShareAnswer]

_FLAG = {"type": "boolean", "default": True}
_MATCHERS = {"type": "array", "items": {"type": "string"}}
#: Alertmanager API v2 query parameters (its openapi.yaml): name -> (schema, description)
AM_QUERY: dict[str, tuple[dict[str, Any], str]] = {
    "filter": (_MATCHERS, 'Matchers, one per value, e.g. alertname="DiskFull" (repeat the parameter)'),
    "active": (_FLAG, "Include active alerts (silences: active silences)"),
    "silenced": (_FLAG, "Include silenced alerts (a silence or a maintenance window)"),
    "inhibited": (_FLAG, "Include inhibited alerts (symptoms of a cause, or waiting for one)"),
    "unprocessed": (_FLAG, "Include unprocessed alerts (Stormwatch answers none)"),
    "muted": (_FLAG, "Include groups whose alerts are all suppressed"),
    "receiver": ({"type": "string"}, "An anchored regex over team names"),
    "receiver_matchers": (_MATCHERS, "Matchers on receiver labels (teams carry none)"),
    "expired": (_FLAG, "Include expired silences"),
    "pending": (_FLAG, "Include pending silences"),
}
AM_PARAMETERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("get", "/api/v2/alerts"): ("filter", "active", "silenced", "inhibited", "unprocessed", "receiver",
                                "receiver_matchers"),
    ("get", "/api/v2/alerts/groups"): ("filter", "active", "silenced", "inhibited", "muted", "receiver",
                                       "receiver_matchers"),
    ("get", "/api/v2/silences"): ("filter", "active", "expired", "pending"),
    ("get", "/api/v2/receivers"): ("receiver_matchers",),
}
_STRING = {"type": "string"}


def _ref(model: Any) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _schema(model: Any) -> dict[str, Any]:
    """A model's reference, ``[Model]`` an array of it, ``str`` a JSON string (Alertmanager's error body)."""
    if model is str:
        return _STRING
    if isinstance(model, list):
        return {"type": "array", "items": _ref(model[0])}
    return _ref(model)


def openapi_document(version: str) -> dict[str, Any]:
    _, defs = models_json_schema([(m, "validation") for m in MODELS], ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, role, request, responses in OPERATIONS:
        op: dict[str, Any] = {"summary": summary, "responses": {}}
        refusal = _STRING if path.startswith("/api/v2/") and role != "ingest" else _ref(s.Error)
        if role:
            op["description"] = f"Role: {role} (or any role that includes it)."
            op["security"] = [{"bearer": []}, {"signature": []}] if role == "ingest" else [{"bearer": []}]
            op["responses"]["401"] = {"description": "not authenticated (reason: no_tokens_configured, missing_token, "
                                      "malformed, unknown_token)", "content": {"application/json": {
                                          "schema": refusal}}}
            op["responses"]["403"] = {"description": "the token's role may not (reason: role)",
                                      "content": {"application/json": {"schema": refusal}}}
            op["responses"]["429"] = {"description": "too many failed authentications from this client address "
                                      "(reason: too_many_failures; see Retry-After)",
                                      "content": {"application/json": {"schema": refusal}}}
        if path == "/v2/enqueue":  # PagerDuty's own credential: the routing key in the body (docs/formats.md)
            op["description"] += (" Without an Authorization or signature header, the event's routing_key is the "
                                  "credential when it is one of STORMWATCH_PAGERDUTY_ROUTING_KEYS: an unknown key is "
                                  "400 in PagerDuty's shape, and 429 (status throttled) past the client's budget of "
                                  "failed authentications.")
            op["security"] = [*op["security"], {}]
        for name in ("id", "run", "system", "name"):
            if "{" + name + "}" in path:
                op["parameters"] = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]
        if path == "/api/v1/incidents":
            op["parameters"] = [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
                ("status", "open, acknowledged, resolved (comma-separated)"), ("priority", "P1..P5"),
                ("team", "assignment group"), ("rule", "group rule name"),
                ("since", "created at or after (epoch seconds or RFC 3339)"), ("until", "created at or before"),
                ("sla", "at_risk, breached, ok, none (comma-separated): the incident's sla_stage"),
                ("limit", "1..500, default 50"), ("cursor", "next_cursor of the previous page"))]
        if path == "/api/v1/problems":
            op["parameters"] = [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
                ("status", "open, known_error, resolved (comma-separated)"), ("rule", "problem rule name"),
                ("team", "assignment group"), ("limit", "1..500, default 50"),
                ("cursor", "next_cursor of the previous page"))]
        if path == "/api/v1/history/incidents":
            op["parameters"] = [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
                ("q", "text in the title or the id"), ("label", "name=value, repeatable: a group or member label"),
                ("team", "assignment group"), ("service", "the service label"),
                ("status", "open, acknowledged or resolved"),
                ("since", "created at or after: 30d, 12h, epoch seconds or ISO 8601"), ("until", "created before"),
                ("limit", "1..1000, default 50"), ("offset", "0..100000"))]
        if path == "/api/v1/actions":
            op["parameters"] = [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
                ("incident", "only this incident's runs"), ("problem", "only this problem's runs"),
                ("state", "e.g. pending_approval (comma-separated)"),
                ("limit", "1..1000, default 100"))]
        if path == "/api/v1/changes" and method == "get":
            op["parameters"] = [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
                ("service", "only this service's changes"), ("limit", "1..1000, default 100"))]
        if path == "/api/v1/rules/validate":
            op["parameters"] = [{"name": "file", "in": "query", "schema": {"type": "string"},
                                 "description": "the candidate's file name: [A-Za-z0-9_][A-Za-z0-9_.-]*.yaml or .yml, "
                                                "at most 128 characters; default candidate.yaml"}]
        if path.startswith("/api/v1/reports/"):
            op["parameters"] = [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d}
                                for n, d in REPORT_PARAMETERS]
            if path.endswith("/summary"):
                op["parameters"].append({"name": "format", "in": "query", "description": "json (default) or csv",
                                         "schema": {"type": "string", "enum": ["json", "csv"]}})
        if (method, path) in AM_PARAMETERS:
            op["parameters"] = [{"name": n, "in": "query", "schema": AM_QUERY[n][0], "description": AM_QUERY[n][1],
                                 **({"style": "form", "explode": True} if AM_QUERY[n][0] is _MATCHERS else {})}
                                for n in AM_PARAMETERS[(method, path)]]
        if isinstance(request, str):
            op["requestBody"] = {"required": True, "content": {request: {"schema": {}}}}
        elif request is not None:
            op["requestBody"] = {"required": path.startswith("/api/v2/"),
                                 "content": {"application/json": {"schema": _ref(request)}}}
        for status, model in responses.items():
            answer: dict[str, Any] = {"description": summary if status < 300 else "refused"}
            if model is not None:
                answer["content"] = {"application/json": {"schema": _schema(model)}}
            op["responses"][str(status)] = answer
        if request is not None and role:
            op["responses"].setdefault("413", {"description": "body larger than STORMWATCH_MAX_BODY_BYTES"})
        if path == "/api/v1/reports/summary":
            op["responses"]["200"]["content"]["text/csv"] = {"schema": {"type": "string"}}
        if role == "ingest":
            op["responses"]["503"] = {"description": "RabbitMQ unavailable: nothing accepted; see Retry-After"}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stormwatch", "version": version,
                 "description": "Alerts in, incidents out. Ingest endpoints, the incident, problem, action, "
                                "silence and rule APIs, Alertmanager's API v2 (read side and silences; "
                                "docs/alertmanager-api.md), live events, ops endpoints."},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "signature": {"type": "apiKey", "in": "header", "name": "X-Stormwatch-Signature",
                              "description": "t=<unix>,v1=<hex HMAC-SHA256 of '<t>.' + body>"},
            },
        },
    }
