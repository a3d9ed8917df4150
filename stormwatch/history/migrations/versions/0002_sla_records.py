"""history schema: service-level records (sla_records), written from incident.sla_warning, incident.sla_breached and
incident.sla_met. Frozen: a change is a new revision.

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


def downgrade() -> None:
    with op.batch_alter_table('sla_records', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_records_started')
        batch_op.drop_index('ix_sla_records_breached_at')

    op.drop_table('sla_records')
