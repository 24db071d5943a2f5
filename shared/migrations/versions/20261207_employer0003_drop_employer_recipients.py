"""drop employer_recipients: outreach's employer_audience holds who may be asked

Revision ID: employer0003
Revises: employer0002
Create Date: 2026-12-07 23:40:00

The employer survey's first half gave outreach a list of contacts (`employer_recipients`,
one row per contact from `employer.contact_added`); the second half's `employer_audience`
(per alumnus and wave, emptied by withdrawal and erasure) is what campaigns plan and send
from, and nothing read the first list. Its rows name no one (contact and employer ids).
"""
from alembic import op
import sqlalchemy as sa


revision = 'employer0003'
down_revision = 'employer0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('employer_recipients')


def downgrade() -> None:
    op.create_table(
        'employer_recipients',
        sa.Column('contact_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('employer_id', sa.Integer(), nullable=False),
        sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('contact_id'),
    )
