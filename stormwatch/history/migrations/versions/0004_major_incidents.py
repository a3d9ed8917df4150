"""history schema: major incidents (issue 21) on the incidents table: when it became major, its incident commander
and communications lead, how many stakeholder updates it had and when the last one went out. Nullable columns only
(a row written before stays valid: not a major incident as far as the history knows).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('major_at', sa.Float(precision=53), nullable=True))
        batch_op.add_column(sa.Column('commander', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('communications_lead', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('status_updates', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_update_at', sa.Float(precision=53), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('last_update_at')
        batch_op.drop_column('status_updates')
        batch_op.drop_column('communications_lead')
        batch_op.drop_column('commander')
        batch_op.drop_column('major_at')
