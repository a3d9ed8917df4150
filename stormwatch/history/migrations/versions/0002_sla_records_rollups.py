"""history schema: service-level records (sla_records), written from incident.sla_warning, incident.sla_breached and
incident.sla_met; per-day report roll-ups (rollup_days, rollup_figures). Frozen: a change is a new revision.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 19:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('sla_records',
    sa.Column('incident_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('policy', sa.String(length=200), nullable=False),
    sa.Column('priority', sa.String(length=8), server_default='', nullable=False),
    sa.Column('calendar', sa.String(length=200), server_default='', nullable=False),
    sa.Column('target', sa.Float(precision=53), nullable=False),
    sa.Column('started', sa.Float(precision=53), nullable=False),
    sa.Column('due', sa.Float(precision=53), nullable=True),
    sa.Column('paused_seconds', sa.Float(precision=53), server_default='0', nullable=False),
    sa.Column('pauses', JSON, nullable=False),
    sa.Column('pause_reasons', JSON, nullable=False),
    sa.Column('warned', sa.Integer(), server_default='0', nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('met_at', sa.Float(precision=53), nullable=True),
    sa.Column('breached_at', sa.Float(precision=53), nullable=True),
    sa.Column('updated_at', sa.Float(precision=53), nullable=False),
    sa.Column('version', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'kind')
    )
    with op.batch_alter_table('sla_records', schema=None) as batch_op:
        batch_op.create_index('ix_sla_records_breached_at', ['breached_at'], unique=False)
        batch_op.create_index('ix_sla_records_started', ['started'], unique=False)

    op.create_table('rollup_days',
    sa.Column('day', sa.Float(precision=53), nullable=False),
    sa.Column('changes', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('computed', sa.BigInteger(), nullable=True),
    sa.Column('computed_at', sa.Float(precision=53), nullable=True),
    sa.PrimaryKeyConstraint('day')
    )
    op.create_table('rollup_figures',
    sa.Column('day', sa.Float(precision=53), nullable=False),
    sa.Column('dim', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('incidents', sa.Integer(), nullable=False),
    sa.Column('notifications', sa.BigInteger(), nullable=False),
    sa.Column('alerts', sa.BigInteger(), nullable=False),
    sa.Column('symptoms', sa.BigInteger(), nullable=False),
    sa.Column('duplicates', sa.BigInteger(), nullable=False),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('acknowledged', sa.Integer(), nullable=False),
    sa.Column('tta_sum', sa.Float(precision=53), nullable=False),
    sa.Column('resolved', sa.Integer(), nullable=False),
    sa.Column('ttr_sum', sa.Float(precision=53), nullable=False),
    sa.Column('sla', JSON, nullable=False),
    sa.Column('tta_hist', JSON, nullable=False),
    sa.Column('ttr_hist', JSON, nullable=False),
    sa.Column('minutes', JSON, nullable=False),
    sa.Column('alert_names', JSON, nullable=False),
    sa.PrimaryKeyConstraint('day', 'dim', 'value')
    )


def downgrade() -> None:
    op.drop_table('rollup_figures')
    op.drop_table('rollup_days')
    with op.batch_alter_table('sla_records', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_records_started')
        batch_op.drop_index('ix_sla_records_breached_at')

    op.drop_table('sla_records')
