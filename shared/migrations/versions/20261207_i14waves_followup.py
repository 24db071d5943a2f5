"""wave_targets.opened_at: the alumnus opened the personal form (the follow-up status)

Revision ID: i14waves0001
Revises: i14reports0001
Create Date: 2026-12-07 14:30:00

Plain ADD COLUMN (SQLite does it in place). The follow-up page's query needs no new index:
ix_wave_targets_cell (wave, program, cohort, gender) filters a wave's targets, and the
status reads responses, messages and opt-outs through their existing unique keys
(bench/followup.py measures it).
"""
from alembic import op
import sqlalchemy as sa


revision = 'i14waves0001'
down_revision = 'i14reports0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('wave_targets', sa.Column('opened_at', sa.DateTime(timezone=True),
                                            nullable=True))


def downgrade() -> None:
    op.drop_column('wave_targets', 'opened_at')
