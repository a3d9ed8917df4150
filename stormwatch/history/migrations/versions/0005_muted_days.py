"""history schema: muted notifications per day and reason (``alert.muted`` events, issue 17): a new table, nothing
else changes (a history written before has no mutes recorded: its reports say 0 for the days before).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'muted_days',
        sa.Column('day', sa.Float(precision=53), nullable=False),
        sa.Column('reason', sa.String(length=256), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('notifications', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('day', 'reason'),
    )


def downgrade() -> None:
    op.drop_table('muted_days')
