"""The history's tables (SQLAlchemy Core): what happened, kept after Redis forgot it. docs/history.md.

Rules of the schema, so it can grow without rewrites:

* Times are epoch seconds (double precision), as in the events: reports subtract them and bucket them without any
  dialect's date functions.
* Every row a later event may change carries ``version``: a sortable text key built from the document's own time,
  the event's time and its id (``store.order_key``). A write replaces a row only when its key is greater, so events
  applied in any order leave the same rows; ``applied_events`` makes a repeated event id change nothing at all.
* New subjects (service-level records, changes) add tables; these tables gain nullable columns at most.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

#: JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite
Json = sa.JSON().with_variant(JSONB(), "postgresql")
Time = sa.Float(precision=53)  # epoch seconds: a double on every dialect
Version = sa.String(120)  # store.order_key: "<doc time>|<event time>|<event id prefix>", sortable as text
Id = sa.String(200)
Name = sa.String(200)

#: facts about the database itself: ``namespace`` (the one Stormwatch namespace whose history it holds)
history_meta = sa.Table(
    "history_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: every event the writer applied, by id: the exactly-once ledger (a repeat finds its id here and changes nothing)
applied_events = sa.Table(
    "applied_events", metadata,
    sa.Column("event_id", sa.String(300), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("subject", Id, nullable=False, server_default=""),  # the incident, problem, silence or run id
    sa.Column("at", Time, nullable=False),  # the event's time
    sa.Column("applied_at", Time, nullable=False),  # when the writer applied it (retention prunes by it)
)

#: the latest state of each incident (its newest document wins), with the people's fields and first times
incidents = sa.Table(
    "incidents", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("group_id", sa.String(32), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(64), nullable=False),
    sa.Column("priority", sa.String(8), nullable=False, server_default=""),
    sa.Column("rule", Name, nullable=False),
    sa.Column("team", Name, nullable=False, server_default=""),
    sa.Column("service", Name, nullable=False, server_default=""),  # group label `service`, else the members' one
    sa.Column("group_key", sa.Text, nullable=False),
    sa.Column("group_labels", Json, nullable=False),
    sa.Column("why", Json, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("resolved_at", Time),
    sa.Column("resolve_at", Time),
    sa.Column("first_acknowledged_at", Time),  # the earliest acknowledgement seen (MTTA)
    sa.Column("first_resolved_at", Time),  # the earliest resolution seen (a reopened incident keeps it)
    sa.Column("alerts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("firing", sa.Integer, nullable=False, server_default="0"),
    sa.Column("flapping", sa.Integer, nullable=False, server_default="0"),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default="0"),
    sa.Column("symptoms", sa.Integer, nullable=False, server_default="0"),
    # people's fields: present only on the events of people's commands, so versioned on their own
    sa.Column("assignee", Name),
    sa.Column("acknowledged_by", Name),
    sa.Column("acknowledged_at", Time),
    sa.Column("resolved_by", Name),
    sa.Column("reopened_by", Name),
    # a major incident's (issue 21; migration 0004): people's fields too, on the people's version
    sa.Column("major_at", Time),  # when it was declared or promoted major (None: not a major incident)
    sa.Column("commander", Name),
    sa.Column("communications_lead", Name),
    sa.Column("status_updates", sa.Integer),  # stakeholder updates published
    sa.Column("last_update_at", Time),
    sa.Column("people_version", Version, nullable=False, server_default=""),
    sa.Column("version", Version, nullable=False),
    sa.Index("ix_incidents_created_at", "created_at"),
    sa.Index("ix_incidents_team_created_at", "team", "created_at"),
    sa.Index("ix_incidents_service_created_at", "service", "created_at"),
    sa.Index("ix_incidents_priority_created_at", "priority", "created_at"),
    sa.Index("ix_incidents_rule_created_at", "rule", "created_at"),
    sa.Index("ix_incidents_resolved_at", "resolved_at"),
    sa.Index("ix_incidents_status", "status"),
    sa.UniqueConstraint("group_id", "seq", name="uq_incidents_group_seq"),
)

#: every group that ever had an incident, and the highest incident number issued: never pruned, so `restore`
#: can set each group's counter past every id already issued
incident_groups = sa.Table(
    "incident_groups", metadata,
    sa.Column("group_id", sa.String(32), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("last_created_at", Time, nullable=False),
)

#: member alerts of an incident (one row per fingerprint), the alert's latest state while a member
incident_alerts = sa.Table(
    "incident_alerts", metadata,
    sa.Column("incident_id", Id, primary_key=True),
    sa.Column("fingerprint", sa.String(200), primary_key=True),
    sa.Column("group_id", sa.String(32), nullable=False),
    sa.Column("alertname", Name, nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("labels", Json, nullable=False),
    sa.Column("state", Json, nullable=False),  # correlation.core.model.AlertState.public(): what `restore` writes back
    sa.Column("first_seen", Time, nullable=False),
    sa.Column("last_seen", Time, nullable=False),
    sa.Column("notifications", sa.Integer, nullable=False, server_default="0"),
    sa.Column("flapping", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("version", Version, nullable=False),
    sa.Index("ix_incident_alerts_fingerprint", "fingerprint"),
    sa.Index("ix_incident_alerts_alertname_first_seen", "alertname", "first_seen"),
    sa.Index("ix_incident_alerts_first_seen", "first_seen"),
)

#: alerts of other groups attached to an incident as symptoms (attached once, never changed)
incident_symptoms = sa.Table(
    "incident_symptoms", metadata,
    sa.Column("incident_id", Id, primary_key=True),
    sa.Column("group_id", sa.String(32), primary_key=True),
    sa.Column("fingerprint", sa.String(200), primary_key=True),
    sa.Column("alertname", Name, nullable=False, server_default=""),
    sa.Column("labels", Json, nullable=False),
    sa.Column("detail", Json, nullable=False),  # the symptom as the store keeps it (kind, rule, path, at, ...)
    sa.Column("at", Time, nullable=False),
    sa.Index("ix_incident_symptoms_at", "at"),
)

#: label pairs of an incident (its group labels and its members' labels), for search by label
incident_labels = sa.Table(
    "incident_labels", metadata,
    sa.Column("incident_id", Id, primary_key=True),
    sa.Column("name", Name, primary_key=True),
    sa.Column("value", sa.String(500), primary_key=True),
    sa.Index("ix_incident_labels_name_value", "name", "value", "incident_id"),
)

#: one entry per event about an incident or a problem, keyed by the event id (a repeat adds nothing)
timeline_entries = sa.Table(
    "timeline_entries", metadata,
    sa.Column("event_id", sa.String(300), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("incident_id", Id),
    sa.Column("problem_id", Id),
    sa.Column("at", Time, nullable=False),
    sa.Column("by", Name),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False, server_default=""),  # the subject's status after it
    sa.Column("priority", sa.String(8), nullable=False, server_default=""),  # an incident's priority after it
    sa.Index("ix_timeline_incident_at", "incident_id", "at"),
    sa.Index("ix_timeline_problem_at", "problem_id", "at"),
    sa.Index("ix_timeline_type_at", "type", "at"),
)

#: the latest state of each problem
problems = sa.Table(
    "problems", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("rule", Name, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("team", Name, nullable=False, server_default=""),
    sa.Column("signature", Json, nullable=False),
    sa.Column("why", Json, nullable=False),
    sa.Column("created_by", Id, nullable=False, server_default=""),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("resolved_at", Time),
    sa.Column("version", Version, nullable=False),
    sa.Index("ix_problems_created_at", "created_at"),
    sa.Index("ix_problems_status", "status"),
)

#: incidents linked to a problem; an unlinked one stays with `linked` false (the newest document decides)
problem_incidents = sa.Table(
    "problem_incidents", metadata,
    sa.Column("problem_id", Id, primary_key=True),
    sa.Column("incident_id", Id, primary_key=True),
    sa.Column("linked", sa.Boolean, nullable=False),
    sa.Column("version", Version, nullable=False),
    sa.Index("ix_problem_incidents_incident", "incident_id"),
)

#: action runs (every field the run record holds, as strings, in `record`)
action_runs = sa.Table(
    "action_runs", metadata,
    sa.Column("run_id", Id, primary_key=True),
    sa.Column("incident_id", Id, nullable=False, server_default=""),
    sa.Column("problem_id", Id, nullable=False, server_default=""),
    sa.Column("action", Name, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("rule", Name, nullable=False, server_default=""),
    sa.Column("trigger", sa.String(64), nullable=False, server_default=""),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("created_at", Time),
    sa.Column("finished_at", Time),
    sa.Column("decided_by", Name),
    sa.Column("record", Json, nullable=False),
    sa.Column("version", Version, nullable=False),
    sa.Index("ix_action_runs_incident", "incident_id"),
    sa.Index("ix_action_runs_created_at", "created_at"),
)

#: silences, as last seen
silences = sa.Table(
    "silences", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("matchers", Json, nullable=False),
    sa.Column("starts_at", Time, nullable=False),
    sa.Column("ends_at", Time, nullable=False),
    sa.Column("created_by", Name, nullable=False, server_default=""),
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expired_at", Time),  # when a person expired it (else it ran to ends_at)
    sa.Column("expired_by", Name),
    sa.Column("version", Version, nullable=False),
    sa.Index("ix_silences_starts_at", "starts_at"),
)

#: an incident's service-level records (docs/service-levels.md), one per kind, as the latest SLA event carried it
#: (``incident.sla_warning``, ``incident.sla_breached``, ``incident.sla_met``); revision 0002
sla_records = sa.Table(
    "sla_records", metadata,
    sa.Column("incident_id", Id, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # respond | resolve
    sa.Column("policy", Name, nullable=False),
    sa.Column("priority", sa.String(8), nullable=False, server_default=""),
    sa.Column("calendar", Name, nullable=False, server_default=""),
    sa.Column("target", Time, nullable=False),  # seconds of the calendar's business time
    sa.Column("started", Time, nullable=False),
    sa.Column("due", Time),  # as the event computed it (null while paused)
    sa.Column("paused_seconds", Time, nullable=False, server_default="0"),  # wall time paused, up to the event
    sa.Column("pauses", Json, nullable=False),  # [[start, end|null], ...]
    sa.Column("pause_reasons", Json, nullable=False),
    sa.Column("warned", sa.Integer, nullable=False, server_default="0"),  # checkpoints crossed
    sa.Column("stage", sa.String(16), nullable=False),  # running | warning | met | breached
    sa.Column("met_at", Time),
    sa.Column("breached_at", Time),
    sa.Column("updated_at", Time, nullable=False),  # the event's time
    sa.Column("version", Version, nullable=False),
    sa.Index("ix_sla_records_started", "started"),
    sa.Index("ix_sla_records_breached_at", "breached_at"),
)

#: per-day roll-ups of the report figures (stormwatch/reports/rollup.py; docs/reports.md "Roll-ups"), revision 0002.
#: ``rollup_days``: every UTC day (its start, epoch seconds) an incident opened on (or an action run was created on,
#: revision 0006) was written for: ``changes`` counts writes (the writer adds one per batch that touched the day's
#: incidents or runs, retention one per prune), and
#: ``computed`` is the ``changes`` its roll-up was computed at (null: never). A roll-up is fresh while they are equal.
rollup_days = sa.Table(
    "rollup_days", metadata,
    sa.Column("day", Time, primary_key=True),
    sa.Column("changes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("computed", sa.BigInteger),
    sa.Column("computed_at", Time),
)

#: the figures of the incidents opened on one UTC day: one row for all of them (``dim`` "all", ``value`` ""), one
#: per team, service and priority. Counts and sums add up across days; durations are kept as log histograms
#: (``figures.HISTOGRAM_RATIO``) for percentiles; ``minutes`` counts openings per minute of the day ("all" only),
#: for business hours in any time zone.
rollup_figures = sa.Table(
    "rollup_figures", metadata,
    sa.Column("day", Time, primary_key=True),
    sa.Column("dim", sa.String(16), primary_key=True),  # all | team | service | priority
    sa.Column("value", Name, primary_key=True),
    sa.Column("incidents", sa.Integer, nullable=False),
    sa.Column("notifications", sa.BigInteger, nullable=False),
    sa.Column("alerts", sa.BigInteger, nullable=False),
    sa.Column("symptoms", sa.BigInteger, nullable=False),
    sa.Column("duplicates", sa.BigInteger, nullable=False),
    sa.Column("reopened", sa.Integer, nullable=False),
    sa.Column("acknowledged", sa.Integer, nullable=False),
    sa.Column("tta_sum", Time, nullable=False),
    sa.Column("resolved", sa.Integer, nullable=False),
    sa.Column("ttr_sum", Time, nullable=False),
    sa.Column("sla", Json, nullable=False),  # {"respond:met": n, "respond:breached": n, ...}
    sa.Column("tta_hist", Json, nullable=False),  # {bucket: count}
    sa.Column("ttr_hist", Json, nullable=False),
    sa.Column("minutes", Json, nullable=False),  # {minute of the UTC day: openings}
    sa.Column("alert_names", Json, nullable=False),  # {alertname: [notifications, incidents, flapping incidents]}
)

#: the action runs created on one UTC day, per state (revision 0006): how many, and the seconds the runs of that
#: state save as their actions state it (``saves``; the report counts the succeeded ones'). Computed with the day's
#: ``rollup_figures`` under the same ``rollup_days`` row (a run's write counts a change on the day it was created).
rollup_runs = sa.Table(
    "rollup_runs", metadata,
    sa.Column("day", Time, primary_key=True),
    sa.Column("state", sa.String(32), primary_key=True),
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("saves", Time, nullable=False),
)

#: change events (docs/changes.md) the history saw linked to incidents as probable causes: each once, as first seen
#: (a change is never edited: the same id on the same service is the same change)
Text256 = sa.String(256)  # a change's id, service, environment and source: at most 256 characters (its format's limit)
changes = sa.Table(
    "changes", metadata,
    sa.Column("service", Text256, primary_key=True),
    sa.Column("change_id", Text256, primary_key=True),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False, server_default="deploy"),
    sa.Column("at", Time, nullable=False),  # when the change happened
    sa.Column("environment", Text256, nullable=False, server_default=""),
    sa.Column("source", Text256, nullable=False, server_default=""),
    sa.Column("links", Json, nullable=False),
    sa.Column("change_window", Id, nullable=False, server_default=""),  # the change window it happened in, if any
    sa.Index("ix_changes_at", "at"),
)

#: the probable-cause links: a change linked to an incident (written once, by the first event that carries it)
incident_changes = sa.Table(
    "incident_changes", metadata,
    sa.Column("incident_id", Id, primary_key=True),
    sa.Column("service", Text256, primary_key=True),
    sa.Column("change_id", Text256, primary_key=True),
    sa.Column("relation", sa.String(16), nullable=False),  # same_service | dependency | symptom
    sa.Column("distance", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("linked_at", Time, nullable=False),  # the time of the first event that carried the link
    sa.Index("ix_incident_changes_change", "service", "change_id"),
)

#: muted notifications (``alert.muted`` events) per UTC day, reason, team and service: ``reason`` is
#: ``silence:<id>``, ``maintenance:<name>`` or ``change:<id>``, ``kind`` its prefix; ``team`` and ``service`` those an
#: incident of the muted alerts would have (revision 0007; "" before). Each event adds its counts once
#: (``applied_events``)
muted_days = sa.Table(
    "muted_days", metadata,
    sa.Column("day", Time, primary_key=True),
    sa.Column("reason", Text256, primary_key=True),
    sa.Column("team", Name, primary_key=True, server_default=""),
    sa.Column("service", Name, primary_key=True, server_default=""),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("notifications", sa.BigInteger, nullable=False, server_default="0"),
)
