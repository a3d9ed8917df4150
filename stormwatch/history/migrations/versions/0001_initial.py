"""history schema: the first tables (incidents, members, symptoms, labels, groups, timeline, problems, runs,
silences, applied events). Frozen: a change is a new revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-06 16:01:07.321673
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('history_meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('action_runs',
    sa.Column('run_id', sa.String(length=200), nullable=False),
    sa.Column('incident_id', sa.String(length=200), server_default='', nullable=False),
    sa.Column('problem_id', sa.String(length=200), server_default='', nullable=False),
    sa.Column('action', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('rule', sa.String(length=200), server_default='', nullable=False),
    sa.Column('trigger', sa.String(length=64), server_default='', nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.Float(precision=53), nullable=True),
    sa.Column('finished_at', sa.Float(precision=53), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('record', JSON, nullable=False),
    sa.Column('version', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('run_id')
    )
    with op.batch_alter_table('action_runs', schema=None) as batch_op:
        batch_op.create_index('ix_action_runs_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_action_runs_incident', ['incident_id'], unique=False)

    op.create_table('applied_events',
    sa.Column('event_id', sa.String(length=300), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=200), server_default='', nullable=False),
    sa.Column('at', sa.Float(precision=53), nullable=False),
    sa.Column('applied_at', sa.Float(precision=53), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_table('incident_alerts',
    sa.Column('incident_id', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=200), nullable=False),
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('alertname', sa.String(length=200), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('labels', JSON, nullable=False),
    sa.Column('state', JSON, nullable=False),
    sa.Column('first_seen', sa.Float(precision=53), nullable=False),
    sa.Column('last_seen', sa.Float(precision=53), nullable=False),
    sa.Column('notifications', sa.Integer(), server_default='0', nullable=False),
    sa.Column('flapping', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('version', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'fingerprint')
    )
    with op.batch_alter_table('incident_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_incident_alerts_alertname_first_seen', ['alertname', 'first_seen'], unique=False)
        batch_op.create_index('ix_incident_alerts_fingerprint', ['fingerprint'], unique=False)
        batch_op.create_index('ix_incident_alerts_first_seen', ['first_seen'], unique=False)

    op.create_table('incident_groups',
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_created_at', sa.Float(precision=53), nullable=False),
    sa.PrimaryKeyConstraint('group_id')
    )
    op.create_table('incident_labels',
    sa.Column('incident_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'name', 'value')
    )
    with op.batch_alter_table('incident_labels', schema=None) as batch_op:
        batch_op.create_index('ix_incident_labels_name_value', ['name', 'value', 'incident_id'], unique=False)

    op.create_table('incident_symptoms',
    sa.Column('incident_id', sa.String(length=200), nullable=False),
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('fingerprint', sa.String(length=200), nullable=False),
    sa.Column('alertname', sa.String(length=200), server_default='', nullable=False),
    sa.Column('labels', JSON, nullable=False),
    sa.Column('detail', JSON, nullable=False),
    sa.Column('at', sa.Float(precision=53), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'group_id', 'fingerprint')
    )
    with op.batch_alter_table('incident_symptoms', schema=None) as batch_op:
        batch_op.create_index('ix_incident_symptoms_at', ['at'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.String(length=8), server_default='', nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('team', sa.String(length=200), server_default='', nullable=False),
    sa.Column('service', sa.String(length=200), server_default='', nullable=False),
    sa.Column('group_key', sa.Text(), nullable=False),
    sa.Column('group_labels', JSON, nullable=False),
    sa.Column('why', JSON, nullable=False),
    sa.Column('created_at', sa.Float(precision=53), nullable=False),
    sa.Column('updated_at', sa.Float(precision=53), nullable=False),
    sa.Column('resolved_at', sa.Float(precision=53), nullable=True),
    sa.Column('resolve_at', sa.Float(precision=53), nullable=True),
    sa.Column('first_acknowledged_at', sa.Float(precision=53), nullable=True),
    sa.Column('first_resolved_at', sa.Float(precision=53), nullable=True),
    sa.Column('alerts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('firing', sa.Integer(), server_default='0', nullable=False),
    sa.Column('flapping', sa.Integer(), server_default='0', nullable=False),
    sa.Column('occurrences', sa.Integer(), server_default='0', nullable=False),
    sa.Column('symptoms', sa.Integer(), server_default='0', nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
    sa.Column('acknowledged_at', sa.Float(precision=53), nullable=True),
    sa.Column('resolved_by', sa.String(length=200), nullable=True),
    sa.Column('reopened_by', sa.String(length=200), nullable=True),
    sa.Column('people_version', sa.String(length=120), server_default='', nullable=False),
    sa.Column('version', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'seq', name='uq_incidents_group_seq')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_incidents_priority_created_at', ['priority', 'created_at'], unique=False)
        batch_op.create_index('ix_incidents_resolved_at', ['resolved_at'], unique=False)
        batch_op.create_index('ix_incidents_rule_created_at', ['rule', 'created_at'], unique=False)
        batch_op.create_index('ix_incidents_service_created_at', ['service', 'created_at'], unique=False)
        batch_op.create_index('ix_incidents_status', ['status'], unique=False)
        batch_op.create_index('ix_incidents_team_created_at', ['team', 'created_at'], unique=False)

    op.create_table('problem_incidents',
    sa.Column('problem_id', sa.String(length=200), nullable=False),
    sa.Column('incident_id', sa.String(length=200), nullable=False),
    sa.Column('linked', sa.Boolean(), nullable=False),
    sa.Column('version', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('problem_id', 'incident_id')
    )
    with op.batch_alter_table('problem_incidents', schema=None) as batch_op:
        batch_op.create_index('ix_problem_incidents_incident', ['incident_id'], unique=False)

    op.create_table('problems',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('team', sa.String(length=200), server_default='', nullable=False),
    sa.Column('signature', JSON, nullable=False),
    sa.Column('why', JSON, nullable=False),
    sa.Column('created_by', sa.String(length=200), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(precision=53), nullable=False),
    sa.Column('updated_at', sa.Float(precision=53), nullable=False),
    sa.Column('resolved_at', sa.Float(precision=53), nullable=True),
    sa.Column('version', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.create_index('ix_problems_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_problems_status', ['status'], unique=False)

    op.create_table('silences',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('matchers', JSON, nullable=False),
    sa.Column('starts_at', sa.Float(precision=53), nullable=False),
    sa.Column('ends_at', sa.Float(precision=53), nullable=False),
    sa.Column('created_by', sa.String(length=200), server_default='', nullable=False),
    sa.Column('comment', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.Float(precision=53), nullable=False),
    sa.Column('expired_at', sa.Float(precision=53), nullable=True),
    sa.Column('expired_by', sa.String(length=200), nullable=True),
    sa.Column('version', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.create_index('ix_silences_starts_at', ['starts_at'], unique=False)

    op.create_table('timeline_entries',
    sa.Column('event_id', sa.String(length=300), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=200), nullable=True),
    sa.Column('problem_id', sa.String(length=200), nullable=True),
    sa.Column('at', sa.Float(precision=53), nullable=False),
    sa.Column('by', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.String(length=16), server_default='', nullable=False),
    sa.Column('priority', sa.String(length=8), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('timeline_entries', schema=None) as batch_op:
        batch_op.create_index('ix_timeline_incident_at', ['incident_id', 'at'], unique=False)
        batch_op.create_index('ix_timeline_problem_at', ['problem_id', 'at'], unique=False)
        batch_op.create_index('ix_timeline_type_at', ['type', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('timeline_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_timeline_type_at')
        batch_op.drop_index('ix_timeline_problem_at')
        batch_op.drop_index('ix_timeline_incident_at')

    op.drop_table('timeline_entries')
    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.drop_index('ix_silences_starts_at')

    op.drop_table('silences')
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.drop_index('ix_problems_status')
        batch_op.drop_index('ix_problems_created_at')

    op.drop_table('problems')
    with op.batch_alter_table('problem_incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_problem_incidents_incident')

    op.drop_table('problem_incidents')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_team_created_at')
        batch_op.drop_index('ix_incidents_status')
        batch_op.drop_index('ix_incidents_service_created_at')
        batch_op.drop_index('ix_incidents_rule_created_at')
        batch_op.drop_index('ix_incidents_resolved_at')
        batch_op.drop_index('ix_incidents_priority_created_at')
        batch_op.drop_index('ix_incidents_created_at')

    op.drop_table('incidents')
    with op.batch_alter_table('incident_symptoms', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_symptoms_at')

    op.drop_table('incident_symptoms')
    with op.batch_alter_table('incident_labels', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_labels_name_value')

    op.drop_table('incident_labels')
    op.drop_table('incident_groups')
    with op.batch_alter_table('incident_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_alerts_fingerprint')
        batch_op.drop_index('ix_incident_alerts_first_seen')
        batch_op.drop_index('ix_incident_alerts_alertname_first_seen')

    op.drop_table('incident_alerts')
    op.drop_table('applied_events')
    with op.batch_alter_table('action_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_action_runs_incident')
        batch_op.drop_index('ix_action_runs_created_at')

    op.drop_table('action_runs')
    op.drop_table('history_meta')
