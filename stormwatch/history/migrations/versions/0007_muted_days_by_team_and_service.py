"""history schema: muted notifications per day, reason, team and service (``muted_days`` keyed by all four, so a
report filtered by team or service counts that team's or service's muted notifications; docs/reports.md). The
table is rebuilt with the new key (the same statements on SQLite and PostgreSQL); its rows keep their counts under
team "" and service "" (the events they came from named neither), so a filtered report finds none of them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _muted_days(*, by_team_and_service: bool) -> None:
    key = ('day', 'reason', 'team', 'service') if by_team_and_service else ('day', 'reason')
    dims = [sa.Column('team', sa.String(length=200), server_default='', nullable=False),
            sa.Column('service', sa.String(length=200), server_default='', nullable=False)] \
        if by_team_and_service else []
    op.create_table(
        'muted_days',
        sa.Column('day', sa.Float(precision=53), nullable=False),
        sa.Column('reason', sa.String(length=256), nullable=False),
        *dims,
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('notifications', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint(*key),
    )


def _rebuild(*, by_team_and_service: bool, rows: str) -> None:
    """The rows set aside (a plain copy), the table created again with its key, the rows put back (``rows``)."""
    op.execute(sa.text('CREATE TABLE muted_days_before AS SELECT * FROM muted_days'))
    op.drop_table('muted_days')
    _muted_days(by_team_and_service=by_team_and_service)
    op.execute(sa.text(rows))
    op.drop_table('muted_days_before')


def upgrade() -> None:
    _rebuild(by_team_and_service=True, rows='INSERT INTO muted_days (day, reason, team, service, kind, notifications) '
             "SELECT day, reason, '', '', kind, notifications FROM muted_days_before")


def downgrade() -> None:
    _rebuild(by_team_and_service=False, rows='INSERT INTO muted_days (day, reason, kind, notifications) SELECT day, '
             'reason, MIN(kind), SUM(notifications) FROM muted_days_before GROUP BY day, reason')
