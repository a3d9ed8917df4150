"""history schema: change events linked to incidents as probable causes (``changes``, ``incident_changes``; issue
19). Frozen: a change is a new revision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 19:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('changes',
    sa.Column('service', sa.String(length=256), nullable=False),
    sa.Column('change_id', sa.String(length=256), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=32), server_default='deploy', nullable=False),
    sa.Column('at', sa.Float(precision=53), nullable=False),
    sa.Column('environment', sa.String(length=256), server_default='', nullable=False),
    sa.Column('source', sa.String(length=256), server_default='', nullable=False),
    sa.Column('links', JSON, nullable=False),
    sa.Column('change_window', sa.String(length=200), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('service', 'change_id')
    )
    op.create_index('ix_changes_at', 'changes', ['at'], unique=False)
    op.create_table('incident_changes',
    sa.Column('incident_id', sa.String(length=200), nullable=False),
    sa.Column('service', sa.String(length=256), nullable=False),
    sa.Column('change_id', sa.String(length=256), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('distance', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('linked_at', sa.Float(precision=53), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'service', 'change_id')
    )
    op.create_index('ix_incident_changes_change', 'incident_changes', ['service', 'change_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_incident_changes_change', table_name='incident_changes')
    op.drop_table('incident_changes')
    op.drop_index('ix_changes_at', table_name='changes')
    op.drop_table('changes')
