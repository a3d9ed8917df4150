"""history schema: per-day roll-ups of the action runs (rollup_runs: runs and the seconds they save, per day created
and state; docs/reports.md "Roll-ups"). The day roll-ups computed before hold no runs: they are marked stale
(``rollup_days.computed`` emptied) so the next roll-up of each day computes its runs too.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rollup_runs',
    sa.Column('day', sa.Float(precision=53), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('saves', sa.Float(precision=53), nullable=False),
    sa.PrimaryKeyConstraint('day', 'state')
    )
    op.execute(sa.text('UPDATE rollup_days SET computed = NULL'))


def downgrade() -> None:
    op.drop_table('rollup_runs')
