"""Every event type (its routing key on ``<ns>.events``), and the version of the payloads.

A type is ``<subject>.<kind>``. The subjects are incident, problem, silence, alert, action and rules; the kinds of
each are below. ``ACTION_KINDS`` are the kinds that may start an action (rules' ``on:`` triggers): publishers route
those events to the action runner too (``events.amqp``).
"""

from __future__ import annotations

from typing import Literal, get_args

#: bumped only when a field is removed, renamed or changes meaning; fields may be added within a version
SCHEMA_VERSION = 1

#: the engine's incident events (and escalation's) that carry the incident alone
ChangeIncidentType = Literal["incident.created", "incident.updated", "incident.resolved", "incident.escalated"]
#: a late cause explained every alert of an incident: it merged into the cause's incident (it names both)
MergedIncidentType = Literal["incident.merged"]
#: a person promoted an incident to a major incident (issue 21): a trigger, so a ticket can open on promotion
PromotedIncidentType = Literal["incident.promoted"]
#: a stakeholder status update on a (major) incident: its own model (the update), a trigger for notify actions
StatusUpdateType = Literal["incident.status_update"]
#: people's commands a ticket follows (issue 21): triggers too, so a ``ticket`` action can update on them
TicketCommandType = Literal["incident.acknowledged", "incident.reopened", "incident.commented",
                            "incident.priority_changed"]
#: a service-level checkpoint crossed (a warning fraction of a target, or the target itself): they name the SLA record
SlaCrossingType = Literal["incident.sla_warning", "incident.sla_breached"]
#: an SLA record was met (acknowledged / resolved), in time or late: the record's outcome, for the history
SlaMetType = Literal["incident.sla_met"]
SlaIncidentType = Literal[SlaCrossingType, SlaMetType]
#: a step of an incident's escalation policy started its action (issue 18): the action runner starts the action it names
EscalationIncidentType = Literal["incident.escalation_step"]
#: the incident events an action can be triggered by
TriggerIncidentType = Literal[ChangeIncidentType, MergedIncidentType, PromotedIncidentType, StatusUpdateType,
                              TicketCommandType]
CommandIncidentType = Literal[
    TicketCommandType, "incident.assigned", "incident.role_assigned", "incident.on_hold",  # people's commands
]
IncidentType = Literal[TriggerIncidentType, CommandIncidentType, SlaIncidentType, EscalationIncidentType]
ProblemType = Literal["problem.created", "problem.updated", "problem.known_error", "problem.resolved"]
SilenceType = Literal["silence.created", "silence.expired"]
#: firing notifications of one message and group kept out of incidents by silences, maintenance or change windows
AlertType = Literal["alert.muted"]
ActionType = Literal["action.approved", "action.rejected"]
RulesType = Literal["rules.reloaded"]

INCIDENT_TYPES: tuple[str, ...] = get_args(IncidentType)
SLA_TYPES: tuple[str, ...] = get_args(SlaIncidentType)
PROBLEM_TYPES: tuple[str, ...] = get_args(ProblemType)
SILENCE_TYPES: tuple[str, ...] = get_args(SilenceType)
ALERT_TYPES: tuple[str, ...] = get_args(AlertType)
ACTION_TYPES: tuple[str, ...] = get_args(ActionType)
RULES_TYPES: tuple[str, ...] = get_args(RulesType)
EVENT_TYPES: tuple[str, ...] = (INCIDENT_TYPES + PROBLEM_TYPES + SILENCE_TYPES + ALERT_TYPES + ACTION_TYPES
                                 + RULES_TYPES)

#: the incident event types an action can be triggered by (the runner's incident events)
TRIGGER_INCIDENT_TYPES: tuple[str, ...] = get_args(TriggerIncidentType)
#: subject -> the kinds of its events that may start an action (the triggers a rule's action can name, and an
#: escalation step, which names its action itself)
ACTION_KINDS: dict[str, tuple[str, ...]] = {
    "incident": (*(t.removeprefix("incident.") for t in TRIGGER_INCIDENT_TYPES), "escalation_step"),
    "problem": tuple(t.removeprefix("problem.") for t in PROBLEM_TYPES),
}

#: incident command (``correlation.store.incident_commands.COMMANDS``) -> the event type it publishes
COMMAND_TYPES: dict[str, str] = {
    "acknowledge": "incident.acknowledged",
    "resolve": "incident.resolved",
    "reopen": "incident.reopened",
    "assign": "incident.assigned",
    "comment": "incident.commented",
    "priority": "incident.priority_changed",
    "promote": "incident.promoted",
    "commander": "incident.role_assigned",
    "communications_lead": "incident.role_assigned",
    "status_update": "incident.status_update",
    "on_hold": "incident.on_hold",
}
#: trigger kinds that start their actions once per event (each update), not once per incident
PER_EVENT_KINDS = ("updated", "status_update", "acknowledged", "reopened", "commented", "priority_changed")


def may_start_action(event_type: str) -> bool:
    """Whether an event of this type can start an action (and so goes to the action runner's queue)."""
    subject, _, kind = event_type.partition(".")
    return kind in ACTION_KINDS.get(subject, ())
